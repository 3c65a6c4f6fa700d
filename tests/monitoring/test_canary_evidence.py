"""The canary's evidence: both arms from the canary's first scored departure, not from the
window's start (production alone before it is no comparison)."""

from datetime import UTC, datetime, timedelta

import pandas as pd

from loopline import registry
from loopline.config import load_config
from loopline.monitoring import canary
from loopline.predictions.store import PredictionStore, migrate
from tests.conftest import FLIGHTS_YAML

FIRST = datetime(2013, 4, 10, tzinfo=UTC)  # the canary's first departure


def prediction(index: int, role: str, version: str, departs: datetime, score: float | None) -> dict:
    return {
        "answer_id": f"{role}-{index}",
        "request_id": f"request-{index}",
        "position": 0,
        "role": role,
        "predicted_at": datetime(2026, 12, 7, tzinfo=UTC),
        "departs_at": departs,
        "flight_key": f"UA|{index}|EWR",
        "model_version": version,
        "inputs": {},
        "score": score,
        "latency_ms": 2.0,
    }


def test_both_arms_start_at_the_canarys_first_departure(tmp_path):
    config = load_config(str(FLIGHTS_YAML))
    uri = str(tmp_path / "registry")
    model = tmp_path / "model"
    model.mkdir()
    (model / "saved_model.pb").write_bytes(b"")
    production = registry.push(uri, config.name, str(model), {}, None).version
    contender = registry.push(uri, config.name, str(model), {}, None, registry.CANARY).version
    url = f"sqlite:///{tmp_path / 'predictions.db'}"
    migrate(url)
    store = PredictionStore(url)
    before = [prediction(i, "production", production, FIRST - timedelta(hours=i + 1), None) for i in range(50)]
    after = [
        prediction(100 + i, role, version, FIRST + timedelta(minutes=i), 0.5)
        for i in range(40)
        for role, version in (("production", production), ("canary", contender))
    ]
    store.write_predictions(before + after)

    start, end = pd.Timestamp("2013-04-01", tz="UTC"), pd.Timestamp("2013-05-01", tz="UTC")
    version, found = canary.verdict(config, store, uri, start, end, end)
    assert version == contender
    assert found.health.error_rate_production == 0  # production's failures before the canary are not counted
    assert found.health.p99_ms_production == 2.0
