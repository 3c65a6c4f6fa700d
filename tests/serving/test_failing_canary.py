"""A canary or shadow model that fails never fails an answer: production answers, the failure is
kept beside it (score None, the error) and every model call is timed; the judge reads both."""

import pandas as pd
import pytest

from loopline import registry
from loopline.config import load_config
from loopline.model_io import make_features
from loopline.monitoring.canary import verdict
from loopline.predictions.store import PredictionStore, migrate
from loopline.serving.models import Loaded, RegistryModels
from loopline.serving.predictor import FlightDelayPredictor, model_request
from loopline.serving.transformer import scorings

pytestmark = pytest.mark.slow
CONFIG = load_config("flights")


def answer(fresh_registry: str, examples, **routing) -> dict:
    """The predictor's outputs for 5 flights, with a canary (version 0009) whose signature is gone."""
    models = RegistryModels(fresh_registry, CONFIG, **routing)
    models.refresh()
    models.loaded["canary"] = Loaded("0009", None)  # calling it raises, as a broken model would
    request = model_request(make_features(examples[1].head(5), CONFIG), "request-1", CONFIG)
    response = FlightDelayPredictor(CONFIG, models).predict(request)
    return {output.name: output.as_numpy().reshape(-1) for output in response.outputs}


@pytest.mark.parametrize("routing, failed", [({"canary_percent": 100}, "canary"), ({"shadow": True}, "shadow")])
def test_a_failing_canary_or_shadow_leaves_production_answering(fresh_registry, examples, routing, failed):
    outputs = answer(fresh_registry, examples, **routing)
    scored = {s.role: s for s in scorings(outputs)}
    assert set(scored) == {"production", failed}
    production, broken = scored["production"], scored[failed]
    assert production.version == "0001" and len(production.scores) == 5 and 0 < production.latency_ms < 5000
    assert broken.version == "0009" and broken.scores is None and broken.error.startswith("TypeError")


def rows(role: str, version: str, count: int, failed: int = 0, ms: float = 2.0) -> list[dict]:
    """`count` answers of one flight each, the first `failed` of them failed calls."""
    start = pd.Timestamp("2013-01-20T12:00Z")
    return [
        {
            "answer_id": f"{role}-{i}",
            "request_id": f"{role}-{i}",
            "position": 0,
            "role": role,
            "predicted_at": start,
            "departs_at": start + pd.Timedelta(seconds=i),
            "flight_key": f"flight-{role}-{i}",
            "model_version": version,
            "inputs": {},
            "score": None if i < failed else 0.5,
            "latency_ms": None if i < failed else ms + i % 100 / 100,
            "error": "TypeError: broken" if i < failed else None,
        }
        for i in range(count)
    ]


def test_the_judge_reads_error_rates_and_latency_from_the_store(fresh_registry, trained_model, tmp_path):
    registry.push(fresh_registry, "flights", trained_model, {}, None, registry.CANARY)
    url = f"sqlite:///{tmp_path / 'predictions.db'}"
    migrate(url)
    store = PredictionStore(url)
    store.write_predictions(rows("production", "0001", 1000, ms=2.0) + rows("canary", "0002", 1000, failed=30, ms=5))
    window = pd.Timestamp("2013-01-20", tz="UTC"), pd.Timestamp("2013-01-21", tz="UTC")
    version, found = verdict(CONFIG, store, fresh_registry, *window, pd.Timestamp("2013-01-22", tz="UTC"))
    assert version == "0002" and found.decision == "rollback" and found.reason.startswith("errors rose")
    assert found.health.error_rate_canary == pytest.approx(0.03) and found.health.error_rate_production == 0
    assert found.health.p99_ms_canary == pytest.approx(5.99, abs=0.01)
    assert found.health.p99_ms_production == pytest.approx(2.99, abs=0.01)
