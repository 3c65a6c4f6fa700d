"""`loopline serve` as a client uses it: both protocols, Feast features, bad input, the registry."""

import asyncio
import json
import math
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from loopline import registry
from tests.serving.conftest import Served, copy_model, start

pytestmark = pytest.mark.slow

FLIGHT = {
    "carrier": "UA",
    "flight": 1545,
    "origin": "EWR",
    "dest": "IAH",
    "tailnum": "N14228",
    "scheduled_departure": "2013-01-31T17:15:00-05:00",
}


def test_v1_answers_each_flight_with_probability_label_version_and_request_id(served):
    other = FLIGHT | {"carrier": "AA", "origin": "JFK", "dest": "MIA", "tailnum": "N619AA"}
    response = served.v1([FLIGHT, other], headers={"x-request-id": "req-1"})
    assert response.status_code == 200, response.text
    first, second = response.json()["predictions"]
    for answer in (first, second):
        assert 0 < answer["probability"] < 1 and answer["late"] == (answer["probability"] >= 0.5)
        assert answer["model_version"] == "0001" and answer["request_id"] == "req-1"
        assert answer["unknown"] == []
    assert first["probability"] != second["probability"]  # their features differ


def test_the_answer_follows_the_features_in_the_store(served):
    """The same flight an hour apart sees other weather and airport state: another probability."""
    later = FLIGHT | {"scheduled_departure": "2013-01-31T18:15:00-05:00"}
    a, b = (served.v1([f]).json()["predictions"][0]["probability"] for f in (FLIGHT, later))
    assert a != b


def test_v2_through_the_kserve_client_and_its_metadata(served):

    from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig

    inputs = []
    for name, value in FLIGHT.items():
        kind = "INT64" if name == "flight" else "BYTES"
        tensor = InferInput(name, [2], kind)
        tensor.set_data_from_numpy(np.array([value, value], dtype=object if kind == "BYTES" else "int64"))
        inputs.append(tensor)

    async def call():
        client = InferenceRESTClient(RESTConfig(protocol="v2", timeout=30))
        try:
            return await client.infer(
                served.url, InferRequest("flights", inputs, request_id="v2-req"), model_name="flights"
            )
        finally:
            await client.close()

    response = asyncio.run(call())
    outputs = {o.name: o.data for o in response.outputs}
    assert len(outputs["probability"]) == 2 and all(0 < p < 1 for p in outputs["probability"])
    assert outputs["model_version"] == ["0001", "0001"] and response.id == "v2-req"
    v1 = served.v1([FLIGHT]).json()["predictions"][0]["probability"]
    assert outputs["probability"][0] == pytest.approx(v1)
    metadata = httpx.get(f"{served.url}/v2/models/flights").json()
    assert {i["name"]: i["datatype"] for i in metadata["inputs"]} == {
        "carrier": "BYTES",
        "flight": "INT64",
        "tailnum": "BYTES",
        "origin": "BYTES",
        "dest": "BYTES",
        "scheduled_departure": "BYTES",
    }
    assert [o["name"] for o in metadata["outputs"]] == ["probability", "late", "unknown", "freshness", "model_version"]
    assert httpx.get(f"{served.url}/v2/health/live").status_code == 200


def test_unknown_carrier_airport_and_aircraft_are_answered_and_named(served):
    answer = served.v1([FLIGHT | {"carrier": "ZZ", "dest": "XXX", "tailnum": "N0NEW"}]).json()["predictions"][0]
    assert 0 < answer["probability"] < 1
    assert set(answer["unknown"]) == {"carrier", "dest", "tailnum"}


@pytest.mark.parametrize(
    "body, content_type, status, named",
    [
        (b'{"instances": [', "application/json", 400, ""),
        (
            json.dumps({"instances": [{k: v for k, v in FLIGHT.items() if k != "origin"}]}),
            "application/json",
            400,
            "instances[0].origin is missing",
        ),
        (
            json.dumps({"instances": [FLIGHT | {"flight": "1545"}]}),
            "application/json",
            400,
            "instances[0].flight must be an integer",
        ),
        (
            json.dumps({"instances": [FLIGHT | {"scheduled_departure": "2013-02-30T10:00"}]}),
            "application/json",
            400,
            "instances[0].scheduled_departure",
        ),
        # NaN and Infinity are not JSON: the parser refuses them and says where they stand
        (json.dumps({"instances": [FLIGHT | {"flight": math.nan}]}), "application/json", 400, "line 1 column 44"),
        (json.dumps({"instances": [FLIGHT | {"flight": math.inf}]}), "application/json", 400, "line 1 column 44"),
        (json.dumps({"instances": [FLIGHT | {"wind": 3}]}), "application/json", 400, "unknown field(s) 'wind'"),
        (json.dumps({"instances": []}), "application/json", 400, "non-empty list"),
        (json.dumps({"instances": [FLIGHT]}), "text/plain", 415, "application/json"),
        (json.dumps({"instances": [FLIGHT]}), "application/octet-stream", 415, "application/json"),
        (json.dumps({"instances": [FLIGHT]}), "application/json; charset=latin-1", 415, "UTF-8"),
        (json.dumps({"instances": [FLIGHT] * 20_000}), "application/json", 413, "over 1,000,000 bytes"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field_never_a_500(served, body, content_type, status, named):
    response = httpx.post(
        f"{served.url}/v1/models/flights:predict", content=body, headers={"content-type": content_type}, timeout=30
    )
    assert response.status_code == status, response.text
    assert named in response.text
    assert served.v1([FLIGHT]).status_code == 200  # the server still answers


def test_metrics_count_requests_by_status_version_and_role(served):
    served.v1([FLIGHT])
    text = httpx.get(f"{served.url}/metrics").text
    assert 'loopline_requests_total{role="production",status="200",version="0001"}' in text
    for name in ("loopline_feature_lookup_seconds", "loopline_model_seconds", "loopline_request_seconds"):
        assert f"{name}_bucket" in text
    assert "uvicorn.access" not in served.log.read_text()  # the access log halves throughput


def test_it_listens_on_loopback_only(served):
    port = f"{served.port:04X}"
    listening = [
        line.split()[1] for line in Path("/proc/net/tcp").read_text().splitlines()[1:] if line.split()[3] == "0A"
    ]
    assert f"0100007F:{port}" in listening and f"00000000:{port}" not in listening


def test_models_follow_the_registry_canary_and_a_broken_push(served_repo, fresh_registry, trained_model, tmp_path):
    process, port, log = start(tmp_path, fresh_registry, served_repo, "--canary-percent", "50")
    try:
        server = Served(fresh_registry, port, process, log)
        assert "--canary-percent 50 has no canary to route to yet" in log.read_text()
        second = registry.push(fresh_registry, "flights", trained_model, {}, "0001")
        server.wait_for_version(FLIGHT, second.version)
        # a canary: half the request ids go to it, each id always to the same model
        registry.move(fresh_registry, "flights", "canary", None, "0001")
        ids = [f"id-{i}" for i in range(40)]

        def answered_by() -> dict[str, str]:
            return {
                i: server.v1([FLIGHT], headers={"x-request-id": i}).json()["predictions"][0]["model_version"]
                for i in ids
            }

        deadline = time.monotonic() + 30
        while set(answered_by().values()) != {"0001", "0002"} and time.monotonic() < deadline:
            time.sleep(0.3)
        roles = answered_by()
        assert set(roles.values()) == {"0001", "0002"} and 8 < list(roles.values()).count("0001") < 32
        assert answered_by() == roles  # each request id lands on the same model again
        # a version that fails to load leaves the old one serving and is named in the log
        broken = registry.push(fresh_registry, "flights", copy_model(trained_model, tmp_path / "broken"), {}, "0002")
        (Path(registry.get(fresh_registry, "flights", broken.version).uri) / "saved_model.pb").write_bytes(
            b"not a model"
        )
        time.sleep(2)
        answers = {
            server.v1([FLIGHT], headers={"x-request-id": i}).json()["predictions"][0]["model_version"] for i in roles
        }
        assert answers == {"0001", "0002"}
        assert f"version {broken.version} failed to load" in log.read_text()
        status = httpx.get(f"{server.url}/v1/models/flights/status").json()
        assert status["ready"] and status["production"] == "0002" and status["canary"] == "0001"
        assert f"version {broken.version} failed to load" in status["problems"]["production"]
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_transformer_and_predictor_pair_answers_as_one_process_does(served, served_repo, tmp_path):
    """The KServe pair: the predictor alone on the registry, the transformer (Feast, the model
    contract, the log) reaching it over V2 with the arguments KServe gives a transformer."""
    predictor, predictor_port, predictor_log = start(tmp_path, served.registry, served_repo, "--role", "predictor")
    transformer = None
    try:
        metadata = httpx.get(f"http://127.0.0.1:{predictor_port}/v2/models/flights").json()
        assert {"carrier", "temp", "hour"} <= {i["name"] for i in metadata["inputs"]}
        transformer, port, log = start(
            tmp_path,
            served.registry,
            served_repo,
            *("--role", "transformer", "--model_name", "flights", "--predictor_host", f"127.0.0.1:{predictor_port}"),
        )
        pair = Served(served.registry, port, transformer, log)
        unknown = FLIGHT | {"carrier": "ZZ", "tailnum": "N0NEW"}  # missing numbers cross as null
        for flight in (FLIGHT, unknown):
            alone, paired = (s.v1([flight], headers={"x-request-id": "pair"}).json() for s in (served, pair))
            assert paired["predictions"][0]["probability"] == pytest.approx(alone["predictions"][0]["probability"])
            assert paired == alone
        assert httpx.get(f"{pair.url}/v1/models/flights/status").status_code == 404  # the predictor has it
        assert httpx.get(f"http://127.0.0.1:{predictor_port}/v1/models/flights/status").json()["production"] == "0001"
        predictor.terminate()
        predictor.wait(timeout=30)
        away = pair.v1([FLIGHT])
        assert away.status_code == 503 and f"predictor at 127.0.0.1:{predictor_port} does not answer" in away.text
    finally:
        for process in (transformer, predictor):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=30)
