"""The replay's `loopline serve`: a real process on loopback, and the requests a client sends it
(V1 batches of flights, each with its request id; outcomes with the write token)."""

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd

from loopline.config import Config
from loopline.errors import LooplineError

READY_SECONDS = 180
RETRIES = 4  # a 503 is tried again, 0.5 s doubling


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`loopline serve` in the shadow mode (a canary scores every flight: the judge's evidence is
    paired), its output in `log`."""

    def __init__(self, config: Config, registry: str, repo: str, store_url: str, log: Path, env: dict):
        self.config, self.log, self.env = config, log, env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = "replay-" + str(self.port)
        loopline = str(Path(sys.executable).with_name("loopline"))
        self.args = [loopline, "serve", "--registry", registry, "--feature-repo", repo, "--store-url", store_url]
        # the registry read every 2 s: a pointer moved is served within two steps of the clock
        self.args += ["--port", str(self.port), "--token", self.token, "--shadow", "--poll-seconds", "2"]
        self.process: subprocess.Popen | None = None
        self.client = httpx.Client(timeout=60)

    def start(self) -> None:
        with self.log.open("a") as out:
            self.process = subprocess.Popen(self.args, stdout=out, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LooplineError(f"the server stopped at start: see {self.log}")
            try:
                if self.client.get(f"{self.url}/v2/health/ready", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        self.stop()
        raise LooplineError(f"the server was not ready after {READY_SECONDS} s: see {self.log}")

    def stop(self) -> None:
        """SIGTERM, as Kubernetes stops a pod: the server drains its prediction log first."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=60)

    def restart(self) -> None:
        self.stop()
        self.start()

    def predict(self, flights: pd.DataFrame) -> dict:
        """One V1 request for `flights` (request id: the first flight's key); the answer's body."""
        fields = ["carrier", "flight", "origin", "dest", "tailnum"]
        instances = [
            {k: (None if pd.isna(v) else v) for k, v in zip(fields, row, strict=True)} | {"scheduled_departure": when}
            for *row, when in zip(
                *(flights[f].astype(object).tolist() for f in fields),
                flights["departs"].map(pd.Timestamp.isoformat),
                strict=True,
            )
        ]
        for instance in instances:
            instance["flight"] = int(instance["flight"])
        for attempt in range(RETRIES):  # a 503 says: try again (as a client of a real service would)
            answer = self.client.post(
                f"{self.url}/v1/models/{self.config.name}:predict",
                json={"instances": instances},
                headers={"x-request-id": f"replay-{flights.index[0]}"},
            )
            if answer.status_code != 503:
                break
            time.sleep(0.5 * 2**attempt)
        if answer.status_code != 200:
            raise LooplineError(f"the server answered {answer.status_code}: {answer.text[:300]}")
        return answer.json()

    def serving(self, versions: dict[str, str | None], seconds: float = 60) -> None:
        """Wait until the server serves `versions` (pointer: version or None): a replay moves on
        only once a moved pointer is followed, so that which model scores which flight does not
        depend on the wall clock (the same seed, the same figures)."""
        deadline = time.monotonic() + seconds
        while True:
            status = self.client.get(f"{self.url}/v1/models/{self.config.name}/status").json()
            if all(status.get(pointer) == version for pointer, version in versions.items()):
                return
            if time.monotonic() > deadline:
                raise LooplineError(
                    f"the server did not follow the registry to {versions} in {seconds:.0f} s: {status}"
                )
            time.sleep(0.2)

    def post_outcomes(self, outcomes: list[dict]) -> dict:
        answer = self.client.post(
            f"{self.url}/v1/outcomes", json={"outcomes": outcomes}, headers={"authorization": f"Bearer {self.token}"}
        )
        if answer.status_code != 200:
            raise LooplineError(f"the server refused outcomes ({answer.status_code}): {answer.text[:300]}")
        return answer.json()
