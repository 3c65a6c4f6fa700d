"""The compiled pipeline: what the Kubeflow dashboard's "Upload pipeline" takes."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from kfp import components

from components.image import IMAGE

CHECKED_IN = Path(__file__).parents[2] / "pipelines" / "training.yaml"
STEPS = {
    "ingest-component",
    "validate-component",
    "transform-component",
    "train-component",
    "evaluate-component",
    "push-component",
}

pytestmark = pytest.mark.pipeline


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("compiled") / "training.yaml"
    loopline = str(Path(sys.executable).with_name("loopline"))
    subprocess.run([loopline, "compile", "--output", str(path)], check=True, capture_output=True)
    return path


def test_the_yaml_loads_back_as_a_pipeline_with_its_parameters(compiled):
    pipeline = components.load_component_from_file(str(compiled))
    assert pipeline.name == "loopline-training"
    assert {"source", "start", "end", "registry", "config", "epochs", "learning_rate"} <= set(
        pipeline.component_spec.inputs
    )


def test_every_step_runs_the_suite_image_and_push_waits_for_the_blessing(compiled):
    spec = yaml.safe_load(compiled.read_text())
    executors = spec["deploymentSpec"]["executors"].values()
    assert {e["container"]["image"] for e in executors} == {IMAGE}
    root_tasks = spec["root"]["dag"]["tasks"]
    assert STEPS - {"push-component"} <= set(root_tasks)
    condition = next(t for t in root_tasks.values() if "triggerPolicy" in t)
    assert "evaluate-component" in condition["triggerPolicy"]["condition"]
    branch = spec["components"][condition["componentRef"]["name"]]["dag"]["tasks"]
    assert set(branch) == {"push-component"}


def test_the_checked_in_yaml_is_current(compiled):
    assert CHECKED_IN.read_text() == compiled.read_text(), "run `make compile` and commit pipelines/training.yaml"
