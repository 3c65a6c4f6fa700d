"""Each KFP component alone through kfp.local, as the pipelines call it: its inputs imported as
artifacts (kfp.local takes artifacts only from another task), its outputs read back."""

import json
import shutil
import uuid
from pathlib import Path

import pandas as pd
import pytest
from kfp import dsl, local

from loopline import registry
from loopline.components.evaluate import evaluate_component
from loopline.components.ingest import ingest_component
from loopline.components.load_features import load_features_component
from loopline.components.push import push_component
from loopline.components.train import train_component
from loopline.components.transform import transform_component
from loopline.components.validate import validate_component
from loopline.config import load_config
from loopline.features.store import copy_repo
from tests.conftest import REPO

pytestmark = pytest.mark.slow


@pytest.fixture
def root(tmp_path) -> Path:
    """A pipeline root of the test's own."""
    folder = tmp_path / "runs"
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(folder))
    return folder


def run_alone(root: Path, component, artifacts: dict, **parameters) -> tuple[Path, str]:
    """Run `component` alone, each artifact input imported from (uri, class); returns its task folder
    and the run's error ("" when it succeeded)."""

    @dsl.pipeline(name=f"alone-{uuid.uuid4().hex[:6]}")
    def alone():
        imported = {
            name: dsl.importer(artifact_uri=uri, artifact_class=kind, reimport=False).output
            for name, (uri, kind) in artifacts.items()
        }
        component(**parameters, **imported)

    error = ""
    try:
        alone()
    except RuntimeError as failure:
        error = str(failure)
    (run,) = root.iterdir()
    return run / component.name.replace("_", "-"), error


def executor_output(task: Path) -> dict:
    return json.loads((task / "executor_output.json").read_text())


def artifact_metadata(task: Path, name: str) -> dict:
    return executor_output(task)["artifacts"][name]["artifacts"][0]["metadata"]


def test_ingest(root, source, small_config_session):
    task = ingest_component(config=small_config_session, source=source, start="2013-01-01", end="2013-01-29")
    train, evals = (pd.read_parquet(task.outputs[name].path) for name in ("train_data", "eval_data"))
    assert task.outputs["train_data"].metadata["train_rows"] == len(train) > 10_000
    assert evals.time_hour.min() >= pd.Timestamp("2013-01-22", tz="America/New_York") > train.time_hour.max()


def test_ingest_names_a_bad_column_in_one_line(root, source, small_config_session, tmp_path, capfd):
    spoiled = tmp_path / "source"
    shutil.copytree(source, spoiled)
    flights = pd.read_parquet(spoiled / "flights.parquet")
    flights.assign(distance=flights.distance.astype(str) + " miles").to_parquet(spoiled / "flights.parquet")
    with pytest.raises(RuntimeError):
        ingest_component(config=small_config_session, source=str(spoiled), start="2013-01-01", end="2013-01-29")
    err = "".join(capfd.readouterr())  # kfp.local relays the task's output on stdout
    assert "ERROR: " in err and "column 'distance' should be float, found '1400 miles'" in err
    assert "Traceback" not in err


def test_load_features(root, source, small_config_session, tmp_path):
    repo = copy_repo(REPO, tmp_path / "repo", f"loopline_test_{uuid.uuid4().hex[:8]}")
    task = load_features_component(config=small_config_session, source=source, feature_repo=str(repo), end="2013-01-10")
    assert task.outputs["Output"] == "2013-01-10"
    counts = task.outputs["store"].metadata
    assert counts["weather_rows"] == 26_115 and 0 < counts["outcomes_rows"] < 12_000  # arrivals of 1-10 January
    assert (repo / "data" / "online.db").stat().st_size > 0


def test_transform(root, splits, sqlite_repo, small_config_session):
    folder, _ = sqlite_repo
    task, error = run_alone(
        root,
        transform_component,
        {"train_data": (splits[0], dsl.Dataset), "eval_data": (splits[1], dsl.Dataset)},
        config=small_config_session,
        feature_repo=str(folder),
    )
    assert not error
    for split, name in zip(splits, ("train_examples", "eval_examples"), strict=True):
        examples = pd.read_parquet(task / name)
        assert len(examples) == len(pd.read_parquet(split)) == artifact_metadata(task, name)["rows"]
        assert examples["temp"].notna().mean() > 0.9 and examples["previous_arr_delay"].notna().mean() > 0.5


def test_validate_passes_clean_examples(root, example_splits, small_config_session):
    inputs = {"train_examples": (example_splits[0], dsl.Dataset), "eval_examples": (example_splits[1], dsl.Dataset)}
    task, error = run_alone(root, validate_component, inputs, config=small_config_session)
    assert not error
    assert len(executor_output(task)["parameterValues"]["Output"]) == 16
    assert "no anomalies" in (task / "report").read_text()


def test_validate_keeps_the_report_and_anomalies_when_it_fails(root, example_splits, small_config_session, tmp_path):
    frame = pd.read_parquet(example_splits[1])
    frame.loc[frame.index[:50], "carrier"] = "ZZ"
    frame.to_parquet(tmp_path / "eval.parquet")
    inputs = {
        "train_examples": (example_splits[0], dsl.Dataset),
        "eval_examples": (str(tmp_path / "eval.parquet"), dsl.Dataset),
    }
    task, error = run_alone(root, validate_component, inputs, config=small_config_session)
    assert "validate-component" in error
    assert "carrier" in (task / "anomalies").read_text()
    assert "Unexpected string values" in (task / "report").read_text()


def test_train(root, example_splits, small_config_session):
    task, error = run_alone(
        root,
        train_component,
        {"train_examples": (example_splits[0], dsl.Dataset)},
        config=small_config_session,
        epochs=1,
        batch_size=1024,
        learning_rate=0.002,
        hidden_units=[16],
        ensemble=1,
    )
    assert not error
    assert (task / "model" / "saved_model.pb").exists()
    assert "member_1_loss_epoch_01" in artifact_metadata(task, "metrics")
    assert "<svg" in (task / "curves").read_text()


def test_evaluate_and_push(root, example_splits, trained_model, small_config_session, tmp_path):
    models = str(tmp_path / "registry")
    inputs = {"eval_examples": (example_splits[1], dsl.Dataset), "model": (trained_model, dsl.Model)}
    task, error = run_alone(root, evaluate_component, inputs, config=small_config_session, registry=models)
    assert not error
    assert executor_output(task)["parameterValues"]["Output"] is True
    assert 0.6 < artifact_metadata(task, "metrics")["auc"] < 1
    assert "ROC curve" in (task / "report").read_text()

    push_root = tmp_path / "push_runs"
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(push_root))
    inputs = {
        "model": (trained_model, dsl.Model),
        "train_examples": (example_splits[0], dsl.Dataset),
        "metrics": (str(task / "metrics"), dsl.Metrics),
    }
    arguments = {"config": small_config_session, "registry": models, "blessed": True, "schema_hash": "0" * 16}
    arguments |= {"start": "2013-01-01", "end": "2013-01-29"}
    pushed, error = run_alone(push_root, push_component, inputs, **arguments)
    assert not error
    assert executor_output(pushed)["parameterValues"]["Output"] == "0001"
    assert registry.production(models, "flights").version == "0001"
    reference = registry.reference(models, "flights", "0001")  # what drift is measured against
    assert set(reference.columns) == set(load_config(small_config_session).feature_names)
    assert len(reference) == len(pd.read_parquet(example_splits[0]))  # under 20,000 rows: all of them
    canary_root = tmp_path / "canary_runs"
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(canary_root))
    trigger = "drift share 0.60, 0.70, 0.90 in the last 3 windows (threshold 0.5)"
    contender, error = run_alone(canary_root, push_component, inputs, **arguments, push_to="canary", trigger=trigger)
    assert not error and executor_output(contender)["parameterValues"]["Output"] == "0002"
    assert registry.get(models, "flights", "0002").metadata["trigger"] == trigger  # why it was trained
    assert registry.get(models, "flights", "0001").metadata["trigger"] == "by hand"
    assert registry.production(models, "flights").version == "0001"  # untouched until judged
    assert registry.pointed(models, "flights", registry.CANARY).version == "0002"
