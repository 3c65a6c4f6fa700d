"""The kustomize manifests: every overlay builds; its InferenceService is one the kserve SDK reads
back whole and its containers start `loopline serve` as the pair KServe runs (every argument one
the command takes, with the ones KServe adds to a transformer); every Kubernetes object validates
against the Kubernetes schemas; nothing holds a secret or a right it does not need; the images are
the package version's, as `make images` tags them."""

import json
import re
import shutil
import subprocess
from importlib.metadata import requires
from pathlib import Path

import kserve
import kubernetes.client
import kubernetes_validate
import pytest
import yaml

from loopline.cli import parser
from loopline.components.image import IMAGE, SERVING_IMAGE

ROOT = Path(__file__).parents[2]
MANIFESTS = ROOT / "manifests"
OVERLAYS = ["base", "overlays/local-kind", "overlays/gcp", "overlays/canary", "overlays/shadow"]
KSERVE_ADDS = ["--model_name", "flights", "--predictor_host", "flights-predictor.default", "--http_port", "8080"]
KUBERNETES = "1.31"
# The Secrets the README has the user create; the manifests only name them.
SECRETS = {
    "loopline": {"REDIS_CONNECTION", "FEAST_REGISTRY_URL", "LOOPLINE_STORE_URL", "LOOPLINE_SERVE_TOKEN"},
    "loopline-postgres": {"password"},
    "loopline-redis": {"password"},
}

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (kustomize) is not installed")


def built(overlay: str) -> list[dict]:
    text = subprocess.run(
        ["kubectl", "kustomize", str(MANIFESTS / overlay)], capture_output=True, text=True, check=True
    ).stdout
    return list(yaml.safe_load_all(text))


def one(docs: list[dict], kind: str) -> dict:
    (doc,) = [d for d in docs if d["kind"] == kind]
    return doc


def container(service: dict, component: str) -> dict:
    (only,) = service["spec"][component]["containers"]
    assert only["name"] == "kserve-container" and only["image"] == SERVING_IMAGE and only["command"] == ["loopline"]
    return only


def pod_specs(docs: list[dict]) -> list[dict]:
    """Every pod template: the workloads' and the InferenceService's components."""
    pods = [d["spec"]["template"]["spec"] for d in docs if d["kind"] in ("Deployment", "StatefulSet")]
    isvc = [d for d in docs if d["kind"] == "InferenceService"]
    return pods + [s["spec"][part] for s in isvc for part in ("transformer", "predictor")]


@pytest.mark.parametrize(
    "overlay, canary_percent, shadow",
    [("base", 0, False), ("overlays/canary", 10, False), ("overlays/shadow", 0, True)],
)
def test_the_inference_service_runs_a_transformer_and_predictor_pair(overlay, canary_percent, shadow):
    docs = built(overlay)
    service = one(docs, "InferenceService")
    assert service["metadata"]["name"] == "flights"
    transformer = parser().parse_args(container(service, "transformer")["args"] + KSERVE_ADDS)
    assert (transformer.role, transformer.host, transformer.port) == ("transformer", "0.0.0.0", 8080)
    assert transformer.predictor_host and transformer.model_name == "flights"
    predictor = parser().parse_args(container(service, "predictor")["args"])
    assert (predictor.role, predictor.host, predictor.registry) == ("predictor", "0.0.0.0", "gs://loopline/registry")
    assert (predictor.canary_percent, predictor.shadow) == (canary_percent, shadow)
    mounted = {v["persistentVolumeClaim"]["claimName"] for v in service["spec"]["transformer"]["volumes"]}
    assert mounted == {"loopline-spool"} and mounted <= {d["metadata"]["name"] for d in docs}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_feature_tables_are_in_the_registrys_bucket_and_no_volume_is_shared(overlay):
    docs = built(overlay)
    settings = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "loopline")["data"]
    assert settings["LOOPLINE_FEATURE_DATA"] == "gs://loopline/features"  # the bucket the registry is in
    claims = {d["metadata"]["name"]: d["spec"]["accessModes"] for d in docs if d["kind"] == "PersistentVolumeClaim"}
    assert all(modes == ["ReadWriteOnce"] for modes in claims.values()), claims  # one pod's each


def _kserve_client() -> kserve.ApiClient:
    """kserve's ApiClient looks every type up in kserve.models, which lacks the Kubernetes types its
    models reference (V1ObjectMeta, V1Container): lend it kubernetes.client's."""
    for name in dir(kubernetes.client.models):
        if name.startswith("V1") and not hasattr(kserve.models, name):
            setattr(kserve.models, name, getattr(kubernetes.client.models, name))
    return kserve.ApiClient()


class _Answer:
    def __init__(self, body: dict):
        self.data = json.dumps(body)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_overlay_builds_into_objects_the_kserve_sdk_and_the_kubernetes_schemas_accept(overlay):
    docs = built(overlay)
    client = _kserve_client()
    for doc in docs:
        if doc["kind"] == "InferenceService":
            service = client.deserialize(_Answer(doc), "V1beta1InferenceService")
            assert client.sanitize_for_serialization(service) == doc  # a field the SDK does not know is lost
        else:
            kubernetes_validate.validate(doc, KUBERNETES, strict=True)  # raises, naming the field
    kinds = {d["kind"] for d in docs}
    assert {"InferenceService", "Deployment", "StatefulSet", "Service", "ServiceAccount", "ConfigMap"} <= kinds


def test_the_checks_refuse_an_unknown_field():
    docs = built("base")
    service = one(docs, "InferenceService")
    service["spec"]["predictor"]["canaryPercent"] = 10  # not a KServe field
    client = _kserve_client()
    assert client.sanitize_for_serialization(client.deserialize(_Answer(service), "V1beta1InferenceService")) != service
    redis = next(d for d in docs if d["kind"] == "Deployment")
    redis["spec"]["template"]["spec"]["containers"][0]["resource"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(redis, KUBERNETES, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_asks_for_resources_and_is_probed(overlay):
    for pod in pod_specs(built(overlay)):
        for c in pod["containers"]:
            assert set(c["resources"]) == {"requests", "limits"}, c["name"]
            assert c["resources"]["requests"]["memory"] == c["resources"]["limits"]["memory"], c["name"]
            assert "readinessProbe" in c and "livenessProbe" in c, c["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_secret_is_held_and_no_part_gets_a_kubernetes_api_right(overlay):
    docs = built(overlay)
    assert not [d for d in docs if d["kind"] == "Secret"]  # referenced, never inlined
    # No component calls the Kubernetes API: no Role, no binding, no API token in any pod.
    rbac = [d for d in docs if d["apiVersion"].startswith("rbac.authorization.k8s.io")]
    assert [rule["verbs"] for d in rbac for rule in d.get("rules", [])] == []
    accounts = [d for d in docs if d["kind"] == "ServiceAccount"]
    assert accounts and all(a["automountServiceAccountToken"] is False for a in accounts)
    named = {a["metadata"]["name"] for a in accounts}
    for pod in pod_specs(docs):
        assert pod.get("serviceAccountName", "") in named or pod.get("automountServiceAccountToken") is False
    text = json.dumps(docs)
    referenced = {(m["name"], m["key"]) for m in _find(docs, "secretKeyRef")}
    assert referenced <= {(name, key) for name, keys in SECRETS.items() for key in keys}
    assert {m["name"] for m in _find(docs, "secretRef")} <= set(SECRETS)
    assert "password=" not in text and "postgresql://" not in text


def _find(node, key: str) -> list:
    if isinstance(node, dict):
        return ([node[key]] if key in node else []) + [x for v in node.values() for x in _find(v, key)]
    if isinstance(node, list):
        return [x for v in node for x in _find(v, key)]
    return []


def test_the_gcp_overlay_gives_bucket_rights_through_workload_identity_only():
    accounts = {d["metadata"]["name"]: d for d in built("overlays/gcp") if d["kind"] == "ServiceAccount"}
    identity = {
        n: a.get("metadata", {}).get("annotations", {}).get("iam.gke.io/gcp-service-account")
        for n, a in accounts.items()
    }
    assert identity["loopline-transformer"] is None  # Redis, PostgreSQL and the predictor only
    assert identity["loopline-pipeline"].startswith("loopline-pipeline@")
    assert identity["loopline-predictor"].startswith("loopline-predictor@")


def test_the_images_are_the_package_version_everywhere():
    tags = re.findall(
        r"-t (\S+) ",
        subprocess.run(
            ["make", "-n", "images", "ENGINE=docker"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
        + " ",
    )
    assert tags == [IMAGE, SERVING_IMAGE]
    for overlay in OVERLAYS:
        service = one(built(overlay), "InferenceService")
        assert {c["image"] for part in ("transformer", "predictor") for c in service["spec"][part]["containers"]} == {
            SERVING_IMAGE
        }
    compiled = (ROOT / "pipelines" / "training.yaml").read_text()
    assert set(re.findall(r"image: (\S+)", compiled)) == {IMAGE}


def test_make_images_says_plainly_when_no_engine_answers():
    done = subprocess.run(["make", "images", "ENGINE=/bin/false"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode != 0 and "no Docker or Podman engine answers here" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_serving_image_holds_no_training_package_and_runs_as_a_user():
    serving = (ROOT / "docker" / "serving.Dockerfile").read_text()
    installs = re.findall(r"pip install .*", serving)
    assert installs == ["pip install -c constraints.txt '.[serving]'"]
    final = serving.split("\nFROM ")[-1]
    assert "USER 10001" in final and 'ENTRYPOINT ["loopline", "serve"]' in final
    serving_needs = [r for r in requires("loopline") if "extra ==" not in r or 'extra == "serving"' in r]
    names = {re.split(r"[\s\[=<>;~!]", r, maxsplit=1)[0].lower() for r in serving_needs}
    assert "kserve" in names and not names & {
        "kfp",
        "tensorflow-model-analysis",
        "tensorflow-data-validation",
        "apache-beam",
    }
    suite = (ROOT / "docker" / "suite.Dockerfile").read_text()
    assert "FROM python:3.11-slim-trixie" in suite and "tensorflow-data-validation==1.21.0" in suite
