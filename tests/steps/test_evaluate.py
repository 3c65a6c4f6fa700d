import json
from pathlib import Path

import pytest

from loopline.config import load_config
from loopline.steps.evaluate import evaluate
from loopline.steps.train import Hyperparameters, train
from tests.conftest import SMALL_SPLIT, write_config

pytestmark = pytest.mark.slow


def config_with(tmp_path, thresholds):
    return load_config(
        write_config(
            tmp_path, split=SMALL_SPLIT, evaluation={"slices": [["carrier"], ["origin"]], "thresholds": thresholds}
        )
    )


@pytest.fixture(scope="module")
def worse_model(examples, tmp_path_factory) -> str:
    """A contender that barely trained: one epoch at a tiny learning rate."""
    folder = str(tmp_path_factory.mktemp("worse") / "model")
    train(examples[0], load_config("flights"), Hyperparameters(epochs=1, learning_rate=1e-6, ensemble=1), folder)
    return folder


def test_a_good_first_model_is_blessed_with_slices_roc_and_report(trained_model, examples, tmp_path):
    config = config_with(tmp_path, {"auc_min": 0.55, "auc_max_drop": 0.01})
    result = evaluate(config, examples[1], trained_model, None, str(tmp_path / "out"))
    assert result.blessed, result.reasons
    assert result.metrics["example_count"] == len(examples[1])
    assert 0.6 < result.metrics["auc"] <= 1
    assert {s["slice"] for s in result.slices} >= {"origin=EWR", "origin=JFK", "origin=LGA", "carrier=UA"}
    assert result.roc[0][:2] == (1.0, 1.0) and result.roc[-1][:2] == (0.0, 0.0)
    assert sum(map(sum, result.confusion)) == len(examples[1])
    assert "BLESSED" in result.html
    summary = json.loads(Path(tmp_path, "out", "summary.json").read_text())
    assert summary["blessed"] and summary["metrics"]["auc"] == result.metrics["auc"]


def test_no_thresholds_means_no_blessing(trained_model, examples, tmp_path):
    result = evaluate(config_with(tmp_path, None), examples[1], trained_model, None, str(tmp_path / "out"))
    assert not result.blessed and "no thresholds" in result.reasons[0]


def test_a_floor_that_is_not_met_is_named(trained_model, examples, tmp_path):
    result = evaluate(config_with(tmp_path, {"auc_min": 0.99}), examples[1], trained_model, None, str(tmp_path / "out"))
    assert not result.blessed and "fails the floor 0.99" in result.reasons[0]


def test_a_contender_worse_than_production_is_not_blessed(trained_model, worse_model, examples, tmp_path):
    config = config_with(tmp_path, {"auc_min": 0.3, "auc_max_drop": 0.01})
    result = evaluate(config, examples[1], worse_model, trained_model, str(tmp_path / "out"))
    assert not result.blessed
    assert result.metrics["auc"] < result.baseline_metrics["auc"] - 0.01
    assert any("largest drop allowed against production" in r for r in result.reasons), result.reasons
