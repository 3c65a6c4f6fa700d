"""What a task needs on a cluster, set once in the pipeline definitions (kfp.local leaves it
aside): resources, whether KFP may serve it from its cache, and the settings it reads from the
namespace's Secret and ConfigMap (never from a pipeline parameter, where the UI would show them).

- Secret `loopline` (manifests/base): REDIS_CONNECTION and FEAST_REGISTRY_URL (Feast's online
  store and SQL registry), LOOPLINE_STORE_URL (the prediction store on PostgreSQL).
- ConfigMap `loopline`, read by every task: FEAST_FS_YAML_FILE_PATH (the image's production
  feature_store YAML), LOOPLINE_FEATURE_DATA (the gs:// prefix of the offline tables the feature
  load writes and the transform reads: no volume is shared between pods) and
  STORAGE_EMULATOR_HOST (empty for Google Cloud Storage itself).
"""

from dataclasses import dataclass

from kfp import kubernetes
from kfp.dsl import PipelineTask

SECRET = CONFIG_MAP = "loopline"
FEAST_SECRETS = ("REDIS_CONNECTION", "FEAST_REGISTRY_URL")
STORE_SECRETS = ("LOOPLINE_STORE_URL",)
SETTINGS = ("FEAST_FS_YAML_FILE_PATH", "LOOPLINE_FEATURE_DATA", "STORAGE_EMULATOR_HOST")


@dataclass(frozen=True)
class Needs:
    cpu: str
    memory: str
    cached: bool = False  # only a pure function of its inputs may come from KFP's cache
    feast: bool = False  # reads or writes the feature store
    store: bool = False  # reads the prediction store


# Requests = limits (Guaranteed QoS: a training step is never the first evicted). Measured peaks
# here on January-June 2013 stay under half of each memory figure.
TASKS = {
    "window": Needs("250m", "512Mi"),  # reads the clock: never cached
    "ingest": Needs("1", "4Gi"),  # reads the source as it is now: never cached
    "load-features": Needs("2", "8Gi", feast=True),
    "transform": Needs("2", "8Gi", feast=True),  # the feature store's state, not only its inputs
    "validate": Needs("2", "8Gi", cached=True),
    "train": Needs("4", "8Gi", cached=True),
    "evaluate": Needs("2", "8Gi"),  # against the production model of the moment
    "push": Needs("1", "2Gi"),
    "monitor": Needs("1", "4Gi", store=True),
    "judge": Needs("1", "2Gi", store=True),
    "policy": Needs("1", "1Gi"),
}


def on_cluster(task: PipelineTask, name: str) -> PipelineTask:
    """`task` with what TASKS says step `name` needs."""
    needs = TASKS[name]
    task.set_cpu_request(needs.cpu).set_cpu_limit(needs.cpu)
    task.set_memory_request(needs.memory).set_memory_limit(needs.memory)
    task.set_caching_options(needs.cached)
    secrets = (FEAST_SECRETS if needs.feast else ()) + (STORE_SECRETS if needs.store else ())
    if secrets:
        kubernetes.use_secret_as_env(task, SECRET, {key: key for key in secrets})
    kubernetes.use_config_map_as_env(task, CONFIG_MAP, {key: key for key in SETTINGS})
    return task
