"""The kustomize manifests build, and their containers start `loopline serve` as the pair KServe
runs: every argument is one the command takes, with the ones KServe adds to a transformer."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from loopline.cli import parser
from loopline.components.image import IMAGE

MANIFESTS = Path(__file__).parents[2] / "manifests"
KSERVE_ADDS = ["--model_name", "flights", "--predictor_host", "flights-predictor.default", "--http_port", "8080"]

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (kustomize) is not installed")


def built(overlay: str) -> dict[str, dict]:
    text = subprocess.run(
        ["kubectl", "kustomize", str(MANIFESTS / overlay)], capture_output=True, text=True, check=True
    ).stdout
    return {doc["kind"]: doc for doc in yaml.safe_load_all(text)}


def container(service: dict, component: str) -> dict:
    (only,) = service["spec"][component]["containers"]
    assert only["name"] == "kserve-container" and only["image"] == IMAGE and only["command"] == ["loopline"]
    return only


@pytest.mark.parametrize(
    "overlay, canary_percent, shadow",
    [("base", 0, False), ("overlays/canary", 10, False), ("overlays/shadow", 0, True)],
)
def test_the_inference_service_runs_a_transformer_and_predictor_pair(overlay, canary_percent, shadow):
    docs = built(overlay)
    service = docs["InferenceService"]
    assert service["metadata"]["name"] == "flights"
    transformer = parser().parse_args(container(service, "transformer")["args"] + KSERVE_ADDS)
    assert (transformer.role, transformer.host, transformer.port) == ("transformer", "0.0.0.0", 8080)
    assert transformer.predictor_host and transformer.model_name == "flights"
    predictor = parser().parse_args(container(service, "predictor")["args"])
    assert (predictor.role, predictor.host, predictor.registry) == ("predictor", "0.0.0.0", "gs://loopline/registry")
    assert (predictor.canary_percent, predictor.shadow) == (canary_percent, shadow)
    mounted = {v["persistentVolumeClaim"]["claimName"] for v in service["spec"]["transformer"]["volumes"]}
    assert mounted == {docs["PersistentVolumeClaim"]["metadata"]["name"]}
