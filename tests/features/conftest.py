"""The Redis + PostgreSQL variant of the Feast repository and one with its offline tables on
gcp-storage-emulator (the SQLite one is in tests/conftest.py)."""

import shutil
import subprocess
import uuid

import pytest

from loopline.features.store import DATA_ENV, feature_store
from tests.conftest import build_repo

REDIS = "127.0.0.1:6379"
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _redis_answers() -> bool:
    import redis

    try:
        return redis.Redis(host="127.0.0.1", port=6379, socket_timeout=2).ping()
    except redis.RedisError:
        return False


def _postgres_answers() -> bool:
    import psycopg

    try:
        psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", connect_timeout=2).close()
        return True
    except psycopg.Error:
        return False


def _ensure(name: str, answers, start: list[str]) -> None:
    """Use the service when it answers, start it when its binary exists, else skip saying why."""
    if answers():
        return
    if shutil.which(start[0]):
        subprocess.run(start, capture_output=True, timeout=60)
        if answers():
            return
    pytest.skip(f"{name} does not answer on 127.0.0.1 and could not be started ({start[0]})")


@pytest.fixture(scope="session")
def redis_repo(source, tmp_path_factory):
    _ensure("Redis", _redis_answers, ["redis-server", "--daemonize", "yes", "--port", "6379", "--save", ""])
    _ensure("PostgreSQL", _postgres_answers, ["pg_ctlcluster", "--skip-systemctl-redirect", "15", "main", "start"])
    settings = {"REDIS_CONNECTION": REDIS, "FEAST_REGISTRY_URL": POSTGRES}
    env_patch = pytest.MonkeyPatch()  # the stores read them whenever they load the YAML
    for key, value in settings.items():
        env_patch.setenv(key, value)
    folder, yaml = build_repo(tmp_path_factory.mktemp("redis") / "repo", source, "feature_store.production.yaml")
    yield folder, yaml
    feature_store(str(folder), yaml).teardown()
    env_patch.undo()


@pytest.fixture(params=["sqlite", "redis"])
def repo(request):
    return request.getfixturevalue(f"{request.param}_repo")


@pytest.fixture(scope="session")
def gcs_repo(source, gcs_bucket, tmp_path_factory):
    """feature_repo/ on SQLite with its offline tables under a gs:// prefix, loaded up to END;
    yields the folder, its YAML and the prefix."""
    prefix = f"{gcs_bucket}/features-{uuid.uuid4().hex[:8]}"
    with pytest.MonkeyPatch.context() as env_patch:  # read by the writes and `feast apply`, which records it
        env_patch.setenv(DATA_ENV, prefix)
        folder, yaml = build_repo(tmp_path_factory.mktemp("gcs") / "repo", source, "feature_store.yaml")
    return folder, yaml, prefix
