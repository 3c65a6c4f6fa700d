"""The compiled pipelines: what the Kubeflow dashboard's "Upload pipeline" takes."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from kfp import components

from loopline.components.image import IMAGE
from loopline.pipelines.platform import CONFIG_MAP, SECRET, SETTINGS, TASKS

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


def pipeline_spec(path: Path) -> dict:
    """The pipeline of a compiled YAML (the first document; the second is its Kubernetes spec)."""
    return next(yaml.safe_load_all(path.read_text()))


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
    spec = pipeline_spec(compiled / "training.yaml")
    executors = spec["deploymentSpec"]["executors"].values()
    assert {e["container"]["image"] for e in executors} == {IMAGE}
    root_tasks = spec["root"]["dag"]["tasks"]
    assert STEPS - {"push-component"} <= set(root_tasks)
    assert "load-features-component" in root_tasks["transform-component"]["dependentTasks"]
    # one window for the whole run, read once by its first task (a recurring run leaves it empty)
    for task, names in (("ingest-component", ("start", "end")), ("load-features-component", ("end",))):
        for name in names:
            source = root_tasks[task]["inputs"]["parameters"][name]["taskOutputParameter"]
            assert source == {"producerTask": "window-component", "outputParameterKey": name}
    defaults = spec["root"]["inputDefinitions"]["parameters"]
    assert defaults["start"]["defaultValue"] == defaults["end"]["defaultValue"] == ""
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
    assert monitoring.component_spec.inputs["store_url"].default == ""  # LOOPLINE_STORE_URL, the Secret
    tasks = pipeline_spec(compiled / "monitoring.yaml")["root"]["dag"]["tasks"]
    assert tasks["judge-component"]["dependentTasks"] == ["monitor-component"]
    assert all(task["cachingOptions"] == {} for task in tasks.values())  # live state: caching off


@pytest.mark.parametrize("name", ["training.yaml", "features.yaml", "monitoring.yaml"])
def test_the_checked_in_yaml_is_current(compiled, name):
    assert (CHECKED_IN / name).read_text() == (compiled / name).read_text(), f"run `make compile`, commit {name}"


def _tasks(spec: dict) -> dict:
    """Every container task of a compiled pipeline, nested ones (the push under its condition) included."""
    dags = [spec["root"]["dag"]] + [c["dag"] for c in spec["components"].values() if "dag" in c]
    tasks = {name: task for dag in dags for name, task in dag["tasks"].items()}
    return {
        name: task
        for name, task in tasks.items()
        if "executorLabel" in spec["components"][task["componentRef"]["name"]]
    }


@pytest.mark.parametrize("name", ["training.yaml", "features.yaml", "monitoring.yaml"])
def test_every_task_asks_for_its_resources_and_only_pure_steps_may_come_from_the_cache(compiled, name):
    spec = pipeline_spec(compiled / name)
    executors = spec["deploymentSpec"]["executors"]
    for task_name, task in _tasks(spec).items():
        needs = TASKS[task_name.removesuffix("-component")]
        resources = executors[spec["components"][task["componentRef"]["name"]]["executorLabel"]]["container"][
            "resources"
        ]
        assert resources["resourceCpuRequest"] == resources["resourceCpuLimit"] == needs.cpu, task_name
        assert resources["resourceMemoryRequest"] == resources["resourceMemoryLimit"] == needs.memory, task_name
        assert task["cachingOptions"].get("enableCache", False) is needs.cached, task_name
    cached = {t for t, task in _tasks(spec).items() if task["cachingOptions"].get("enableCache")}
    assert cached <= {"validate-component", "train-component"}  # a load, a monitor, an evaluation: never


def test_the_feature_and_store_settings_come_from_the_namespace_secret_and_config_map(compiled):
    platform = {}
    for name in ("training.yaml", "features.yaml", "monitoring.yaml"):
        documents = list(yaml.safe_load_all((compiled / name).read_text()))
        platform |= documents[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]

    def env(executor: str, kind: str) -> set[tuple[str, str]]:
        return {
            (source[f"{kind}Name"], pair["envVar"])
            for source in platform.get(executor, {}).get(f"{kind}AsEnv", [])
            for pair in source["keyToEnv"]
        }

    feast = {(SECRET, "REDIS_CONNECTION"), (SECRET, "FEAST_REGISTRY_URL")}
    for executor in ("exec-load-features-component", "exec-transform-component"):
        assert env(executor, "secret") == feast
    for executor in ("exec-monitor-component", "exec-judge-component"):
        assert env(executor, "secret") == {(SECRET, "LOOPLINE_STORE_URL")}
    assert "secretAsEnv" not in platform["exec-train-component"]  # training reads only its inputs
    for executor in platform:
        assert env(executor, "configMap") == {(CONFIG_MAP, key) for key in SETTINGS}, executor
        assert "pvcMount" not in platform[executor], executor  # the tables are on gs://: no shared volume
    assert "LOOPLINE_FEATURE_DATA" in SETTINGS
