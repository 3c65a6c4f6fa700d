"""The serving edge against a running `loopline serve`: a stock Open Inference Protocol client,
values the store cannot take, V2 shapes, bodies counted as they arrive, metrics of every answer,
one log line per refusal, and the freshness of what the store knows."""

import json
import stat

import httpx
import numpy as np
import pytest

from tests.serving.conftest import eventually
from tests.serving.test_server import FLIGHT

pytestmark = pytest.mark.slow


def triton_inputs(module, flights: list[dict], binary: bool) -> list:
    """One tensor per field, as tritonclient builds them."""
    inputs = []
    for name in FLIGHT:
        values = np.array([f[name] for f in flights], dtype="int64" if name == "flight" else object)
        tensor = module.InferInput(name, [len(flights)], "INT64" if name == "flight" else "BYTES")
        tensor.set_data_from_numpy(values, binary_data=binary)
        inputs.append(tensor)
    return inputs


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_a_stock_tritonclient_is_answered_in_json_and_binary_modes(served, binary):
    """tritonclient.http sends no Content-Type in either mode; the answer matches V1's."""
    import tritonclient.http as triton

    other = FLIGHT | {"carrier": "AA", "origin": "JFK", "dest": "MIA", "tailnum": "N619AA"}
    client = triton.InferenceServerClient(f"127.0.0.1:{served.port}")
    try:
        assert client.is_server_ready() and client.is_model_ready("flights")
        outputs = [triton.InferRequestedOutput(n, binary_data=binary) for n in ("probability", "model_version")]
        result = client.infer("flights", triton_inputs(triton, [FLIGHT, other], binary), outputs=outputs)
    finally:
        client.close()
    v1 = [p["probability"] for p in served.v1([FLIGHT, other]).json()["predictions"]]
    assert result.as_numpy("probability").tolist() == pytest.approx(v1)
    assert [v.decode() if isinstance(v, bytes) else v for v in result.as_numpy("model_version")] == ["0001"] * 2


def test_v1_without_a_content_type_is_json(served):
    body = json.dumps({"instances": [FLIGHT]}).encode()
    response = httpx.post(f"{served.url}/v1/models/flights:predict", content=body, timeout=30)
    assert response.status_code == 200 and 0 < response.json()["predictions"][0]["probability"] < 1


def v2_body(**changes) -> dict:
    """A V2 JSON request for FLIGHT, with some tensors' fields replaced."""
    inputs = []
    for name, value in FLIGHT.items():
        tensor = {"name": name, "shape": [1], "datatype": "INT64" if name == "flight" else "BYTES", "data": [value]}
        inputs.append(tensor | changes.get(name, {}))
    return {"inputs": inputs}


@pytest.mark.parametrize(
    "instance, named",
    [
        (FLIGHT | {"carrier": None}, "instances[0].carrier must not be null"),
        (FLIGHT | {"flight": 2**63}, "instances[0].flight must be a 64-bit integer"),
        (FLIGHT | {"flight": 12345678901234567890}, "instances[0].flight must be a 64-bit integer"),
        (FLIGHT | {"flight": True}, "instances[0].flight must be an integer"),
        (FLIGHT | {"dest": "X" * 65}, "instances[0].dest must be at most 64 characters"),
        (FLIGHT | {"origin": "EW\u0000R"}, "instances[0].origin must be printable text"),
        (FLIGHT | {"origin": "\ud800"}, "surrogate"),  # JSON itself refuses it, saying where
        (FLIGHT | {"scheduled_departure": "9999-12-31T23:59:59-12:00"}, "outside 1970-2100"),
        (FLIGHT | {"scheduled_departure": "2013-03-10T02:30:00"}, "a clock change"),
    ],
)
def test_values_the_store_cannot_take_are_refused_naming_the_field(served, instance, named):
    with httpx.Client(timeout=30) as client:  # one connection: it must survive every refusal
        body = json.dumps({"instances": [instance]})  # ASCII: a lone surrogate goes escaped
        response = client.post(f"{served.url}/v1/models/flights:predict", content=body)
        assert response.status_code == 400 and named in response.json()["error"], response.text
        again = client.post(f"{served.url}/v1/models/flights:predict", json={"instances": [FLIGHT]})
        assert again.status_code == 200


def test_a_null_aircraft_is_unknown_not_an_error(served):
    for response in (
        served.v1([FLIGHT | {"tailnum": None}]),
        httpx.post(f"{served.url}/v2/models/flights/infer", json=v2_body(tailnum={"data": [None]}), timeout=30),
    ):
        assert response.status_code == 200, response.text
    answer = served.v1([FLIGHT | {"tailnum": None}]).json()["predictions"][0]
    assert answer["unknown"] == ["tailnum"] and 0 < answer["probability"] < 1


@pytest.mark.parametrize("shape", [[0], [2], [-1], [1_000_000_000], [1, 2], "1"])
def test_a_v2_shape_that_does_not_match_its_data_is_refused(served, shape):
    response = httpx.post(f"{served.url}/v2/models/flights/infer", json=v2_body(carrier={"shape": shape}), timeout=30)
    assert response.status_code in (400, 422), response.text
    assert "carrier" in response.text or "shape" in response.text


def test_v2_keys_must_not_be_null_and_bytes_must_be_text(served):
    response = httpx.post(f"{served.url}/v2/models/flights/infer", json=v2_body(origin={"data": [None]}), timeout=30)
    assert response.status_code == 400 and "input origin[0] must not be null" in response.text


def test_the_body_limit_counts_a_chunked_body_as_it_arrives(served):
    chunk = json.dumps({"instances": [FLIGHT] * 500}).encode()[:-2] + b","  # 4 MB in all, never a length

    def body():
        for _ in range(40):
            yield chunk
        yield json.dumps(FLIGHT).encode() + b"]}"

    response = httpx.post(f"{served.url}/v1/models/flights:predict", content=body(), timeout=30)
    assert response.status_code == 413 and "over 1,000,000 bytes" in response.text
    assert served.v1([FLIGHT]).status_code == 200


def test_every_answer_is_counted_once_whoever_produced_it(served):
    def count(status: str) -> float:
        for line in httpx.get(f"{served.url}/metrics").text.splitlines():
            if line.startswith("loopline_requests_total{") and f'status="{status}"' in line:
                return float(line.split()[-1])
        return 0.0

    before = {s: count(s) for s in ("200", "400", "413", "415", "422")}
    served.v1([FLIGHT])
    served.v1([FLIGHT | {"flight": "x"}])  # ours
    httpx.post(f"{served.url}/v1/models/flights:predict", content=b"{", headers={"content-type": "application/json"})
    httpx.post(f"{served.url}/v2/models/flights/infer", json={"inputs": "x"})  # FastAPI's schema: 422
    httpx.post(f"{served.url}/v1/models/flights:predict", content=b"x" * 1_000_001)
    httpx.post(f"{served.url}/v1/models/flights:predict", content=b"{}", headers={"content-type": "text/plain"})
    after = {s: count(s) for s in before}
    assert {s: after[s] - before[s] for s in before} == {"200": 1, "400": 2, "413": 1, "415": 1, "422": 1}


def test_a_refusal_is_one_log_line_naming_the_field(served):
    marker = "N" + "9" * 63 + "X"  # too long: its message is unique to this test
    served.v1([FLIGHT | {"tailnum": marker}])
    served.v1([FLIGHT | {"tailnum": marker}])
    log = served.log.read_text()
    lines = [line for line in log.splitlines() if "instances[0].tailnum must be at most 64" in line]
    assert len(lines) == 2 and all(" INFO " in line for line in lines)
    assert "Traceback" not in log and "Deprecat" not in log  # FastAPI's ORJSONResponse warning is silenced


def test_two_requests_with_one_request_id_are_both_stored(served):
    first, second = FLIGHT, FLIGHT | {"flight": 2, "tailnum": None}
    for flight in (first, second):
        assert served.v1([flight], headers={"x-request-id": "reused-id"}).status_code == 200

    def stored() -> list[dict]:
        rows = [r for r in served.store.predictions() if r["request_id"] == "reused-id"]
        return rows if len(rows) == 2 else []

    rows = eventually(stored)
    assert len({r["answer_id"] for r in rows}) == 2
    assert {r["flight_key"].split("|")[1] for r in rows} == {"1545", "2"}


def test_a_request_id_the_store_cannot_keep_is_refused(served):
    response = served.v1([FLIGHT], headers={"x-request-id": "r" * 129})
    assert response.status_code == 400 and "x-request-id must be 1 to 128 printable characters" in response.text


@pytest.mark.parametrize(
    "departure, freshness",
    [
        ("2013-01-31T20:15:00-05:00", "current"),  # 01:15 UTC, the store holds values up to 00:00 UTC
        ("2013-01-31T17:15:00-05:00", "ahead"),  # the store holds weather from after it
        ("2013-02-03T10:00:00-05:00", "stale"),  # two days after what the store holds
    ],
)
def test_the_answer_says_how_the_store_stands_to_the_departure(served, departure, freshness):
    answer = served.v1([FLIGHT | {"scheduled_departure": departure}]).json()["predictions"][0]
    assert answer["freshness"] == freshness


def test_the_write_token_is_made_at_first_start_for_the_owner_only(served, loopline_home):
    token = loopline_home / "serve-token"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600 and len(token.read_text().strip()) >= 40
    assert f"Bearer $(cat {token})" in served.log.read_text()
