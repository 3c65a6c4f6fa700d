"""The compiled pipelines: what the Kubeflow dashboard's "Upload pipeline" takes."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from kfp import components

from loopline.components.image import IMAGE

CHECKED_IN = Path(__file__).parents[2] / "pipelines"
STEPS = {
    "ingest-component",
    "load-features-component",
    "validate-component",
    "transform-component",
    "train-component",
    "evaluate-component",
    "push-component",
}

pytestmark = pytest.mark.pipeline


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("compiled")
    loopline = str(Path(sys.executable).with_name("loopline"))
    subprocess.run([loopline, "compile", "--output", str(folder)], check=True, capture_output=True)
    return folder


def test_the_yaml_loads_back_as_pipelines_with_their_parameters(compiled):
    training = components.load_component_from_file(str(compiled / "training.yaml"))
    assert training.name == "loopline-training"
    assert {"source", "start", "end", "registry", "config", "epochs", "learning_rate"} <= set(
        training.component_spec.inputs
    )
    features = components.load_component_from_file(str(compiled / "features.yaml"))
    assert features.name == "loopline-features"
    assert set(features.component_spec.inputs) == {"source", "feature_repo", "end", "config"}


def test_every_step_runs_the_suite_image_and_push_waits_for_the_blessing(compiled):
    spec = yaml.safe_load((compiled / "training.yaml").read_text())
    executors = spec["deploymentSpec"]["executors"].values()
    assert {e["container"]["image"] for e in executors} == {IMAGE}
    root_tasks = spec["root"]["dag"]["tasks"]
    assert STEPS - {"push-component"} <= set(root_tasks)
    assert "load-features-component" in root_tasks["transform-component"]["dependentTasks"]
    condition = next(t for t in root_tasks.values() if "triggerPolicy" in t)
    assert "evaluate-component" in condition["triggerPolicy"]["condition"]
    branch = spec["components"][condition["componentRef"]["name"]]["dag"]["tasks"]
    assert set(branch) == {"push-component"}


def test_the_monitoring_pipeline_monitors_then_judges_and_never_from_the_cache(compiled):
    monitoring = components.load_component_from_file(str(compiled / "monitoring.yaml"))
    assert monitoring.name == "loopline-monitoring"
    assert {"store_url", "registry", "start", "end", "as_of", "workspace", "config"} == set(
        monitoring.component_spec.inputs
    )
    tasks = yaml.safe_load((compiled / "monitoring.yaml").read_text())["root"]["dag"]["tasks"]
    assert tasks["judge-component"]["dependentTasks"] == ["monitor-component"]
    assert all(task["cachingOptions"] == {} for task in tasks.values())  # live state: caching off


@pytest.mark.parametrize("name", ["training.yaml", "features.yaml", "monitoring.yaml"])
def test_the_checked_in_yaml_is_current(compiled, name):
    assert (CHECKED_IN / name).read_text() == (compiled / name).read_text(), f"run `make compile`, commit {name}"
