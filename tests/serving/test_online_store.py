"""An online store that vanishes under a running server: another copy's `feast apply` drops its
tables (Feast's registry records a SQLite store by absolute path). The server says so, and the
next load puts back what the registry says was loaded."""

import shutil
import subprocess

import httpx
import pytest

from tests.conftest import END, FEAST, LOOPLINE, build_repo
from tests.serving.conftest import Served, eventually, start
from tests.serving.test_server import FLIGHT

pytestmark = pytest.mark.slow


def test_a_dropped_online_store_is_a_503_naming_it_until_a_load_puts_it_back(source, fresh_registry, tmp_path):
    repo, _ = build_repo(tmp_path / "repo", source, "feature_store.yaml")
    process, port, log = start(tmp_path, fresh_registry, repo)
    try:
        server = Served(fresh_registry, port, process, log)
        before = server.v1([FLIGHT]).json()["predictions"][0]["probability"]
        staging = shutil.copytree(repo, tmp_path / "staging")  # a staging copy, data and all
        done = subprocess.run([FEAST, "apply"], cwd=staging, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0 and "Updated sqlite table" in done.stdout + done.stderr

        answer = server.v1([FLIGHT])
        assert answer.status_code == 503 and "online store" in answer.text and "no such table" in answer.text
        for readiness in ("/v1/models/flights", "/v2/models/flights/ready"):  # the model's, as probes read it
            ready = httpx.get(f"{server.url}{readiness}", timeout=10)
            assert ready.status_code == 503 and "online store" in ready.text
        assert 'status="503"' in httpx.get(f"{server.url}/metrics").text

        load = [LOOPLINE, "features", "materialize", "--feature-repo", str(repo), "--source", source]
        done = subprocess.run([*load, "--end", END.isoformat()], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        assert "the online store lost" in done.stderr

        assert eventually(lambda: httpx.get(f"{server.url}/v1/models/flights", timeout=10).status_code == 200)
        after = server.v1([FLIGHT]).json()["predictions"][0]["probability"]
        assert after == pytest.approx(before)  # the same values are back
    finally:
        process.terminate()
        process.wait(timeout=30)
