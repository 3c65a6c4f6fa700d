"""A canary judged on live outcomes and promoted, then another rolled back, against a running
server: the answering version changes without a restart; the decisions log holds each once."""

import subprocess

import httpx
import numpy as np
import pytest

from loopline import registry
from tests.conftest import LOOPLINE, write_config
from tests.monitoring.test_monitor import flights, monitor
from tests.serving.conftest import Served, eventually, start

pytestmark = pytest.mark.slow


def test_a_shadow_canary_is_promoted_on_outcomes_then_another_rolled_back(
    source, served_repo, trained_model, fresh_registry, tmp_path
):
    url = f"sqlite:///{tmp_path / 'predictions.db'}"
    config = write_config(tmp_path, monitoring={"judge": {"min_outcomes": 100, "margin": 0.01}})
    canary = registry.push(fresh_registry, "flights", trained_model, {}, None, registry.CANARY)
    process, port, log = start(tmp_path, fresh_registry, served_repo, "--store-url", url, "--shadow", "--token", "t")
    try:
        server = Served(fresh_registry, port, process, log, url)
        sent = flights(source, 200)
        instances = [
            {k: r[k] for k in ("carrier", "origin", "dest", "tailnum")}
            | {"flight": int(r["flight"]), "scheduled_departure": r["departs"].isoformat()}
            for _, r in sent.iterrows()
        ]
        for batch in np.array_split(np.arange(len(instances)), 2):
            answer = server.v1([instances[i] for i in batch]).json()["predictions"]
            assert {a["model_version"] for a in answer} == {"0001"}  # production answers; the canary shadows
        outcomes = [
            {k: i[k] for k in ("carrier", "flight", "origin", "scheduled_departure")} | {"arr_delay": float(d)}
            for i, d in zip(instances, sent["arr_delay"], strict=True)
        ]
        done = httpx.post(
            f"{server.url}/v1/outcomes", json={"outcomes": outcomes}, headers={"authorization": "Bearer t"}
        )
        assert done.json()["new"] == 200
        assert eventually(lambda: len(server.store.predictions()) == 400)  # answers and shadow scores

        window = ["--start", "2013-01-20", "--end", "2013-01-28", "--as-of", "2030-01-01T00:00:00+00:00"]
        judged = monitor(*window, "--judge", "--config", config, "--store-url", url, "--registry", fresh_registry)
        assert judged.returncode == 0, judged.stderr[-3000:]
        assert f"canary          {canary.version}: promote" in judged.stdout and "paired" in judged.stdout
        server.wait_for_version(instances[0], canary.version)  # no restart

        third = registry.push(fresh_registry, "flights", trained_model, {}, None, registry.CANARY)
        rolled = subprocess.run([LOOPLINE, "rollback", "--registry", fresh_registry], capture_output=True, text=True)
        assert rolled.returncode == 0 and f"canary {third.version} rolled back" in rolled.stdout
        assert registry.pointed(fresh_registry, "flights", registry.CANARY) is None
        assert third.version in registry.versions(fresh_registry, "flights")
        again = monitor(*window, "--judge", "--config", config, "--store-url", url, "--registry", fresh_registry)
        assert "canary          none to judge" in again.stdout  # nothing decided twice
    finally:
        process.terminate()
        process.wait(timeout=30)
    decisions = registry.decisions(fresh_registry, "flights")
    assert [(d["action"], d["version"]) for d in decisions] == [("promote", "0002"), ("rollback", "0003")]
    evidence = decisions[0]["evidence"]
    assert evidence["paired"] and evidence["n_canary"] == 200 and evidence["difference"] == pytest.approx(0)
    assert evidence["window"]["start"].startswith("2013-01-20T00:00:00-05:00")
    health = evidence["health"]  # the model calls' latency, as the server timed them; nothing failed
    assert 0 < health["p99_ms_canary"] < 5000 and 0 < health["p99_ms_production"] < 5000
    assert health["error_rate_canary"] == health["error_rate_production"] == 0
