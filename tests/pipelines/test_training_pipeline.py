"""The whole training pipeline through kfp.local, driven by the `loopline` command as a user would.
The whole runs are the suite's longest tests, so they share one home: two first runs started two
seconds apart (both end cleanly, each with its own folder and push), then a worse contender."""

import json
import os
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from loopline import model_io, registry
from loopline.config import load_config
from loopline.features.store import copy_repo
from tests.conftest import LOOPLINE, REPO, SMALL_SPLIT, write_config

pytestmark = [pytest.mark.pipeline, pytest.mark.slow]

WINDOW = ["--start", "2013-01-01", "--end", "2013-01-29"]
GATES = {"slices": [["carrier"], ["origin"]], "thresholds": {"auc_min": 0.55, "auc_max_drop": 0.01}}


def train_args(source: str, config: str, repo: Path) -> list[str]:
    """`loopline train` on the three January weeks, its summary as JSON."""
    return [LOOPLINE, "train", *WINDOW, "--source", source, "--config", config, "--feature-repo", str(repo), "--json"]


@dataclass
class Runs:
    """Runs that shared one LOOPLINE_HOME and one feature repository."""

    home: Path
    repo: Path
    config: str
    source: str
    results: list[tuple[int, dict, str]]  # exit code, JSON summary, stderr

    def train(self, *extra: str) -> tuple[int, dict, str]:
        """One more run in this home, with `extra` options."""
        done = subprocess.run(
            [*train_args(self.source, self.config, self.repo), *extra],
            capture_output=True,
            text=True,
            env=os.environ | {"LOOPLINE_HOME": str(self.home)},
            timeout=900,
        )
        return done.returncode, json.loads(done.stdout), done.stderr


@pytest.fixture(scope="module")
def overlapping_runs(source, tmp_path_factory) -> Runs:
    """Two first runs (one epoch, one member) started two seconds apart in a new home."""
    folder = tmp_path_factory.mktemp("overlapping")
    config = write_config(folder, split=SMALL_SPLIT, evaluation=GATES)
    home, repo = folder / "home", copy_repo(REPO, folder / "repo", f"loopline_run_{uuid.uuid4().hex[:8]}")
    args = [*train_args(source, config, repo), "--epochs", "1", "--ensemble", "1"]
    env = os.environ | {"LOOPLINE_HOME": str(home)}
    started = []
    for _ in range(2):
        started.append(subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        time.sleep(2)
    finished = [run.communicate(timeout=900) for run in started]
    for run, (out, err) in zip(started, finished, strict=True):
        assert run.returncode == 0 and out, err[-3000:]
    results = [(run.returncode, json.loads(out), err) for run, (out, err) in zip(started, finished, strict=True)]
    return Runs(home, repo, config, source, results)


def test_two_overlapping_runs_each_report_their_own_folder_and_push(overlapping_runs):
    home, summaries = overlapping_runs.home, [summary for _, summary, _ in overlapping_runs.results]
    for code, summary, err in overlapping_runs.results:
        assert code == 0 and summary["succeeded"] and "Traceback" not in err, err[-3000:]
    folders = [Path(s["run_folder"]) for s in summaries]
    assert folders[0] != folders[1] and all(f.parent.parent == home / "runs" for f in folders)
    for summary, folder in zip(summaries, folders, strict=True):
        receipt = (
            json.loads((folder / "push-component" / "executor_output.json").read_text()) if summary["blessed"] else None
        )
        own = receipt["artifacts"]["receipt"]["artifacts"][0]["metadata"]["version"] if receipt else ""
        assert (summary["pushed_version"] or "") == own
    pushed = [s["pushed_version"] for s in summaries if s["pushed_version"]]
    assert pushed and len(set(pushed)) == len(pushed)
    assert registry.production(str(home / "registry"), "flights").version in pushed
    refused = [s["push_message"] for s in summaries if s["blessed"] and not s["pushed_version"]]
    assert all("not pushed: production changed from" in message for message in refused)


def loopline(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = os.environ | {"LOOPLINE_HOME": str(home)}
    return subprocess.run([LOOPLINE, *args], capture_output=True, text=True, env=env, timeout=900)


def test_a_first_model_is_pushed_and_a_worse_contender_is_not(overlapping_runs, examples):
    runs, registry_uri = overlapping_runs, str(overlapping_runs.home / "registry")
    first = next(summary for _, summary, _ in runs.results if summary["pushed_version"] == "0001")
    assert first["succeeded"] and first["blessed"] and first["baseline_version"] is None and first["auc"] > 0.55
    assert set(first["reports"]) == {"data validation", "training curves", "evaluation"}
    pushed = registry.get(registry_uri, "flights", "0001")
    assert pushed.metadata["data_window"] == {"start": "2013-01-01", "end": "2013-01-29"}
    assert pushed.metadata["metrics"]["auc"] == pytest.approx(first["auc"])
    assert len(pushed.metadata["schema_hash"]) == 16
    assert model_io.predict(model_io.load(pushed.uri), examples[1], load_config(runs.config)).shape == (
        len(examples[1]),
    )
    production, versions = registry.production(registry_uri, "flights"), registry.versions(registry_uri, "flights")

    code, second, err = runs.train("--epochs", "1", "--learning-rate", "0.000001", "--ensemble", "1")
    assert code == 0, err[-3000:]
    # the feature store continued where the first runs left it: the arrivals were pushed once
    firsts = [store_metrics(summary) for _, summary, _ in runs.results]
    assert sum(s["outcomes_rows"] for s in firsts) > 20_000 and store_metrics(second)["outcomes_rows"] == 0
    assert {s["weather_rows"] for s in [*firsts, store_metrics(second)]} == {26_115}
    assert second["succeeded"] and not second["blessed"] and second["pushed_version"] is None
    assert second["baseline_version"] == production.version and second["auc"] < first["auc"]
    assert any("largest drop allowed against production" in r for r in second["reasons"])
    assert registry.versions(registry_uri, "flights") == versions
    assert registry.production(registry_uri, "flights").version == production.version


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


def test_an_injected_anomaly_stops_the_pipeline_before_training(source, tmp_path):
    """An unseen carrier passes ingest and the feature store; TFDV stops it before training. The
    person running it reads a line per step and the step's own message in the summary; the
    executors' logs are in the file the summary names. (A mistyped column never starts a run:
    tests/pipelines/test_commands.py.)"""
    home, message = tmp_path / "home", "carrier: Unexpected string values"
    repo = home / "feature_repo"
    copy_repo(REPO, repo, f"loopline_run_{uuid.uuid4().hex[:8]}")
    spoiled = spoiled_source(source, tmp_path, unseen_carrier)
    config = write_config(tmp_path, split=SMALL_SPLIT, evaluation=GATES)
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
