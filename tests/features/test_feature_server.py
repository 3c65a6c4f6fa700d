"""Feast's own feature server on the repository (`feast serve`, as KServe's Feast example calls
it): the flight_delay service answers over HTTP with the values the SDK gives. JSON has no
timestamp: the request time goes as epoch seconds (Feast's server casts it with int(), so it
refuses ISO 8601 before the repository's code sees it)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import END, _free_port
from tests.features.test_feature_store import SERVED, flight, online, same, store_of

FEAST = str(Path(sys.executable).with_name("feast"))

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def feature_server(sqlite_repo):
    folder, yaml = sqlite_repo
    port = _free_port()
    env = os.environ | {"FEAST_FS_YAML_FILE_PATH": str(yaml)}
    server = subprocess.Popen(
        [FEAST, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, server.stderr.read()[-2000:]
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_feast_serve_answers_flight_delay_as_the_sdk_does(sqlite_repo, feature_server):
    rows = [flight("N14228"), flight("N24211", "JFK", "MIA", "AA"), flight("N0NEW", "LGA", "ZZZ", "DL")]
    expected = online(store_of(sqlite_repo), rows)
    stamps = [int(END.timestamp())] * len(rows)
    entities = {key: [row[key] for row in rows] for key in ("origin", "dest", "carrier", "tailnum", "minute")}
    answer = httpx.post(
        f"{feature_server}/get-online-features",
        json={"feature_service": "flight_delay", "entities": entities | {"time_hour": stamps}},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text[:2000]
    body = answer.json()
    served = dict(zip(body["metadata"]["feature_names"], (r["values"] for r in body["results"]), strict=True))
    assert set(SERVED) <= set(served)
    for name in SERVED:
        assert all(same(x, y) for x, y in zip(expected[name], served[name], strict=True)), (name, served[name])
    assert served["hour"] == expected["hour"] == [19, 19, 19]  # the on-demand view read the request time
