"""A `loopline serve` process on loopback over a real registry and the SQLite feature repository."""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from loopline import home, registry
from loopline.predictions.store import PredictionStore

LOOPLINE = str(Path(sys.executable).with_name("loopline"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def eventually(check, timeout: float = 60):
    """`check()` once it is truthy, polling; its last value when `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(0.3)
    return value


class Served:
    """A running server, the registry it follows and the prediction store it writes."""

    def __init__(self, registry_uri: str, port: int, process: subprocess.Popen, log: Path, store_url: str = ""):
        self.registry, self.port, self.process, self.log = registry_uri, port, process, log
        self.url = f"http://127.0.0.1:{port}"
        self.store = PredictionStore(store_url or home.store_url())

    def v1(self, instances, **kwargs) -> httpx.Response:
        return httpx.post(f"{self.url}/v1/models/flights:predict", json={"instances": instances}, timeout=30, **kwargs)

    def wait_for_version(self, instance: dict, version: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = self.v1([instance]).json()["predictions"][0]
            if answer["model_version"] == version:
                return answer
            time.sleep(0.3)
        raise AssertionError(f"the server never answered with version {version}; log:\n{self.log.read_text()[-3000:]}")


def start(tmp_path: Path, registry_uri: str, repo: Path, *extra: str) -> tuple[subprocess.Popen, int, Path]:
    port = free_port()
    log = tmp_path / f"server-{port}.log"
    args = [LOOPLINE, "serve", "--registry", registry_uri, "--feature-repo", str(repo), "--port", str(port)]
    process = subprocess.Popen([*args, "--poll-seconds", "0.3", *extra], stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server stopped:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v2/health/ready", timeout=1).status_code == 200:
                return process, port, log
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    process.kill()
    raise AssertionError(f"the server never became ready:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def served(served_repo, trained_model, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("served")
    registry_uri = str(tmp / "registry")
    registry.push(registry_uri, "flights", trained_model, {}, None)
    process, port, log = start(tmp, registry_uri, served_repo)
    yield Served(registry_uri, port, process, log)
    process.terminate()
    process.wait(timeout=30)


def copy_model(model_dir: str, dest: Path) -> str:
    shutil.copytree(model_dir, dest)
    return str(dest)


os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
