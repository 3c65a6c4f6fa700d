"""Feast repositories built from feature_repo/ on the real tables: SQLite, and Redis + PostgreSQL."""

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pandas as pd
import pytest

from components.features import copy_repo, feature_store

REPO = Path(__file__).parents[2] / "feature_repo"
FEAST = str(Path(sys.executable).with_name("feast"))
LOOPLINE = str(Path(sys.executable).with_name("loopline"))
END = pd.Timestamp("2013-02-01", tz="UTC")
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


def build_repo(folder: Path, source: str, yaml_name: str) -> tuple[Path, Path]:
    """Copy feature_repo/ under a project name of its own, then write the tables, `feast apply` and
    materialize with the commands a user runs; returns the folder and the YAML it uses."""
    yaml_path = copy_repo(REPO, folder, f"loopline_test_{uuid.uuid4().hex[:8]}") / yaml_name
    env = os.environ | {"FEAST_FS_YAML_FILE_PATH": str(yaml_path)}
    steps = [
        [LOOPLINE, "features", "write", "--repo", str(folder), "--source", source],
        [FEAST, "apply"],
        [LOOPLINE, "features", "materialize", "--repo", str(folder), "--end", END.date().isoformat()],
    ]
    for step in steps:  # as a user would, each with the setting that picks the YAML
        done = subprocess.run(step, cwd=folder, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
    return folder, yaml_path


@pytest.fixture(scope="session")
def sqlite_repo(source, tmp_path_factory):
    return build_repo(tmp_path_factory.mktemp("sqlite") / "repo", source, "feature_store.yaml")


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
