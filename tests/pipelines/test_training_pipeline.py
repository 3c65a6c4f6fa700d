"""The whole training pipeline through kfp.local, driven by the `loopline` command as a user would."""

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pandas as pd
import pytest

from loopline import model_io, registry
from loopline.config import load_config
from loopline.features.store import copy_repo
from tests.conftest import REPO, SMALL_SPLIT, write_config

pytestmark = [pytest.mark.pipeline, pytest.mark.slow]

LOOPLINE = str(Path(sys.executable).with_name("loopline"))
WINDOW = ["--start", "2013-01-01", "--end", "2013-01-29"]


def loopline(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = os.environ | {"LOOPLINE_HOME": str(home)}
    return subprocess.run([LOOPLINE, *args], capture_output=True, text=True, env=env, timeout=900)


def train(home: Path, source: str, config: str, *extra: str) -> tuple[dict, subprocess.CompletedProcess]:
    """A run with LOOPLINE_HOME `home` and a Feast repository of its own, `home`/feature_repo."""
    repo = home / "feature_repo"
    if not repo.exists():
        copy_repo(REPO, repo, f"loopline_run_{uuid.uuid4().hex[:8]}")
    args = ["train", *WINDOW, "--source", source, "--config", config, "--feature-repo", str(repo), "--json", *extra]
    done = loopline(home, *args)
    return json.loads(done.stdout), done


@pytest.fixture
def config(tmp_path) -> str:
    gates = {"slices": [["carrier"], ["origin"], ["month"]], "thresholds": {"auc_min": 0.55, "auc_max_drop": 0.01}}
    return write_config(tmp_path, split=SMALL_SPLIT, evaluation=gates)


def test_a_first_model_is_pushed_and_a_worse_contender_is_not(source, config, tmp_path, examples):
    home = tmp_path / "home"
    first, done = train(home, source, config, "--epochs", "3")
    assert done.returncode == 0, done.stderr[-3000:]
    assert first["succeeded"] and first["blessed"] and first["pushed_version"] == "0001"
    assert first["auc"] > 0.55 and first["baseline_version"] is None
    assert set(first["reports"]) == {"data validation", "training curves", "evaluation"}
    production = registry.production(str(home / "registry"), "flights")
    assert production.version == "0001"
    assert production.metadata["data_window"] == {"start": "2013-01-01", "end": "2013-01-29"}
    assert production.metadata["metrics"]["auc"] == pytest.approx(first["auc"])
    assert len(production.metadata["schema_hash"]) == 16
    assert model_io.predict(model_io.load(production.uri), examples[1], load_config(config)).shape == (
        len(examples[1]),
    )

    second, done = train(home, source, config, "--epochs", "1", "--learning-rate", "0.000001", "--ensemble", "1")
    assert done.returncode == 0, done.stderr[-3000:]
    # the feature store continued where the first run left it: the arrivals were pushed once
    first_store, second_store = store_metrics(first), store_metrics(second)
    assert first_store["outcomes_rows"] > 20_000 and second_store["outcomes_rows"] == 0
    assert first_store["weather_rows"] == second_store["weather_rows"] == 26_115
    assert second["succeeded"] and not second["blessed"] and second["pushed_version"] is None
    assert second["baseline_version"] == "0001" and second["auc"] < first["auc"]
    assert any("largest drop allowed against production" in r for r in second["reasons"])
    assert registry.versions(str(home / "registry"), "flights") == ["0001"]
    assert registry.production(str(home / "registry"), "flights").version == "0001"


def store_metrics(summary: dict) -> dict:
    """The feature load's `store` Metrics: rows written per offline table, events pushed."""
    output = json.loads((Path(summary["run_folder"]) / "load-features-component" / "executor_output.json").read_text())
    return output["artifacts"]["store"]["artifacts"][0]["metadata"]


def spoiled_source(source: str, tmp_path: Path, change) -> str:
    folder = tmp_path / "source"
    shutil.copytree(source, folder)
    flights = pd.read_parquet(folder / "flights.parquet")
    change(flights).to_parquet(folder / "flights.parquet")
    return str(folder)


def unseen_carrier(flights: pd.DataFrame) -> pd.DataFrame:
    late_january = flights.time_hour >= pd.Timestamp("2013-01-25", tz="UTC")
    flights.loc[late_january & (flights.carrier == "UA"), "carrier"] = "ZZ"
    return flights


def test_an_injected_anomaly_stops_the_pipeline_before_training(source, config, tmp_path):
    """An unseen carrier passes ingest and the feature store; TFDV stops it before training. The
    person running it reads a line per step and the step's own message in the summary; the
    executors' logs are in the file the summary names. (A mistyped column never starts a run:
    tests/pipelines/test_commands.py.)"""
    home, message = tmp_path / "home", "carrier: Unexpected string values"
    repo = home / "feature_repo"
    copy_repo(REPO, repo, f"loopline_run_{uuid.uuid4().hex[:8]}")
    spoiled = spoiled_source(source, tmp_path, unseen_carrier)
    args = ["--source", spoiled, "--config", config, "--feature-repo", str(repo)]
    done = loopline(home, "train", *WINDOW, *args)
    assert done.returncode == 1 and "Traceback" not in done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) < 40, done.stdout  # not the executors' hundreds of lines
    assert any(line.startswith("  ingest-component           done in") for line in lines)
    assert any(line.startswith("  validate-component         failure in") for line in lines)
    stopped = next(i for i, line in enumerate(lines) if line.startswith("stopped "))
    assert "validate-component" in lines[stopped] and lines[stopped + 1].endswith("data validation found 1 anomaly:")
    assert any(message in line for line in lines[stopped + 2 : stopped + 5])
    log = Path(next(line for line in lines if line.startswith("pipeline log")).split()[-1])
    assert message in log.read_text() and "Executing task" in log.read_text()  # kfp.local's own lines
    assert not (log.parent / next(p.name for p in log.parent.iterdir() if p.is_dir()) / "train-component").exists()
    assert registry.production(str(home / "registry"), "flights") is None
