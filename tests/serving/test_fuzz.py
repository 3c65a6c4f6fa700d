"""Generated hostile bodies (Hypothesis) against a running `loopline serve`: every answer is a 2xx
with finite scores or a 4xx that says why, never a 5xx, and the connection stays open."""

import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.serving.test_edge import v2_body
from tests.serving.test_server import FLIGHT

pytestmark = pytest.mark.slow
FUZZ = settings(
    max_examples=250, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.text(max_size=80),
    st.datetimes().map(lambda t: t.isoformat()),
    st.sampled_from(["", " ", "2013-02-30T10:00", "2013-01-31T17:15:00+25:00", "N\x00", "\ud800", "UA" * 40]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


@st.composite
def instances(draw) -> dict:
    """A real flight with some fields replaced, dropped or added."""
    instance = {
        name: draw(st.one_of(st.just(value), values)) if draw(st.booleans()) else value
        for name, value in FLIGHT.items()
    }
    for name in draw(st.lists(st.sampled_from(list(FLIGHT)), max_size=2)):
        instance.pop(name, None)
    instance |= draw(st.dictionaries(st.text(max_size=12), values, max_size=2))
    return instance


v1_bodies = st.one_of(
    st.fixed_dictionaries({"instances": st.lists(instances(), max_size=4)}),
    st.dictionaries(st.sampled_from(["instances", "inputs", "x"]), values, max_size=2),
    values,
)


@st.composite
def v2_bodies(draw) -> dict:
    """A real V2 request with some tensors' name, datatype, shape or data replaced."""
    changes = {}
    for name in draw(st.lists(st.sampled_from(list(FLIGHT)), max_size=3)):
        field = draw(st.sampled_from(["name", "datatype", "shape", "data", "parameters"]))
        replacement = {
            "name": st.text(max_size=12),
            "datatype": st.sampled_from(["BYTES", "INT64", "FP64", "FP32", "FP16", "BOOL", "INT8", "UINT64", "X"]),
            "shape": st.lists(st.integers(min_value=-5, max_value=2**40), max_size=3) | values,
            "data": st.lists(scalars, max_size=4) | values,
            "parameters": st.dictionaries(st.sampled_from(["binary_data_size", "content_type", "x"]), values),
        }[field]
        changes[name] = {field: draw(replacement)}
    body = v2_body(**changes)
    if draw(st.booleans()):
        body |= draw(st.dictionaries(st.sampled_from(["id", "parameters", "outputs", "inputs"]), values, max_size=2))
    return body


def check(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    assert response.headers.get("connection") != "close"  # kept alive: no reset for the next request
    body = response.json()
    if response.status_code == 200:
        scores = [p["probability"] for p in body["predictions"]] if "predictions" in body else None
        scores = scores or next(o["data"] for o in body["outputs"] if o["name"] == "probability")
        assert all(0 <= p <= 1 for p in scores)
    else:
        assert body.get("error") or body.get("detail"), response.text


@pytest.fixture(scope="module")
def client(served):
    with httpx.Client(base_url=served.url, timeout=30) as client:
        yield client
    assert httpx.get(f"{served.url}/v2/health/ready", timeout=10).status_code == 200  # still ready after all


@FUZZ
@given(body=v1_bodies)
def test_generated_v1_bodies(client, body):
    check(
        client.post(
            "/v1/models/flights:predict", content=json.dumps(body), headers={"content-type": "application/json"}
        )
    )


@FUZZ
@given(body=v2_bodies())
def test_generated_v2_bodies(client, body):
    check(client.post("/v2/models/flights/infer", content=json.dumps(body)))


@FUZZ
@given(
    path=st.sampled_from(["/v1/models/flights:predict", "/v2/models/flights/infer", "/v1/outcomes"]),
    body=st.binary(max_size=300),
    headers=st.dictionaries(
        st.sampled_from(["content-type", "inference-header-content-length", "x-request-id", "authorization"]),
        st.sampled_from(
            ["application/json", "application/octet-stream", "text/plain", "0", "7", "-1", "abc", "Bearer x"]
        ),
        max_size=3,
    ),
)
def test_generated_raw_bodies_and_headers(client, path, body, headers):
    check(client.post(path, content=body, headers=headers))
