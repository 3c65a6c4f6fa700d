"""Every prediction is stored, and a database outage under traffic loses none and doubles none."""

import asyncio
import json
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy.exc import DBAPIError

from loopline.predictions.store import PredictionStore, migrate
from tests.serving.conftest import LOOPLINE, Served, eventually, free_port, start
from tests.serving.test_server import FLIGHT

pytestmark = pytest.mark.slow
PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), None)


def wait_for(count: int, store: PredictionStore, timeout: float = 60) -> list[dict]:
    """The stored predictions once there are `count` (or `timeout` seconds have passed)."""
    return eventually(lambda: (rows := stored(store)) and len(rows) >= count and rows, timeout) or stored(store)


def stored(store: PredictionStore) -> list[dict]:
    try:
        return store.predictions()
    except DBAPIError:  # not migrated yet (the log does it on its first write), or away
        return []


def test_migrations_create_the_schema_and_run_again_as_a_no_op(tmp_path):
    url = f"sqlite:///{tmp_path / 'p.db'}"
    migrate(url)
    migrate(url)
    tables = set(inspect(create_engine(url)).get_table_names())
    assert {"predictions", "outcomes", "alembic_version"} <= tables


def test_every_answer_is_stored_with_its_inputs_and_version(served_repo, fresh_registry, tmp_path):
    url = f"sqlite:///{tmp_path / 'predictions.db'}"
    process, port, log = start(tmp_path, fresh_registry, served_repo, "--store-url", url)
    try:
        server = Served(fresh_registry, port, process, log)
        for i in range(5):
            assert (
                server.v1([FLIGHT, FLIGHT | {"tailnum": "N24211"}], headers={"x-request-id": f"r{i}"}).status_code
                == 200
            )
        rows = wait_for(10, PredictionStore(url))
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert len(rows) == 10
    first = next(r for r in rows if r["request_id"] == "r0" and r["position"] == 0)
    assert first["role"] == "production" and first["model_version"] == "0001" and 0 < first["score"] < 1
    assert first["flight_key"] == "UA|1545|EWR|2013-01-31T22:00:00+00:00"
    assert first["inputs"]["carrier"] == "UA" and "recent_departures" in first["inputs"]


class Postgres:
    """A PostgreSQL server of the test's own: initdb in a temporary folder (outside pytest's,
    which the postgres user cannot enter), a free port."""

    def __init__(self):
        folder = Path(tempfile.mkdtemp(prefix="loopline-pg-"))
        shutil.chown(folder, "postgres")
        self.folder, self.data, self.port = folder, folder / "data", free_port()
        self._run(PG_BIN / "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres")
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command):
        subprocess.run(["runuser", "-u", "postgres", "--", *map(str, command)], check=True, capture_output=True)

    def start(self):
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1"
        self._run(PG_BIN / "pg_ctl", "-D", self.data, "-o", options, "-w", "-l", self.data / "log", "start")

    def stop(self):
        self._run(PG_BIN / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")


needs_postgres = pytest.mark.skipif(
    PG_BIN is None or shutil.which("runuser") is None, reason="no PostgreSQL binaries here"
)


@pytest.fixture
def postgres():
    server = Postgres()
    server.start()
    yield server
    server.stop()
    shutil.rmtree(server.folder, ignore_errors=True)


def p99(seconds: list[float]) -> float:
    return sorted(seconds)[int(len(seconds) * 0.99) - 1]


@needs_postgres
def test_a_database_outage_under_traffic_loses_no_prediction_and_slows_none(
    served_repo, fresh_registry, tmp_path, postgres
):
    process, port, log = start(tmp_path, fresh_registry, served_repo, "--store-url", postgres.url)
    sent = 0
    try:
        server = Served(fresh_registry, port, process, log)

        def traffic(count: int) -> list[float]:
            nonlocal sent
            took = []
            with httpx.Client(timeout=30) as client:
                for _ in range(count):
                    started = time.perf_counter()
                    response = client.post(
                        f"{server.url}/v1/models/flights:predict",
                        json={"instances": [FLIGHT]},
                        headers={"x-request-id": f"req-{sent}"},
                    )
                    took.append(time.perf_counter() - started)
                    assert response.status_code == 200, response.text  # never fails for the store
                    sent += 1
            return took

        traffic(20)  # warm
        before = traffic(200)
        postgres.stop()
        during = traffic(200)  # answered while the store is down: spooled
        assert "prediction store unavailable" in log.read_text()
        postgres.start()
        traffic(10)
        rows = wait_for(sent, PredictionStore(postgres.url))
    finally:
        process.terminate()
        process.wait(timeout=30)
    print(f"p99 before the outage {p99(before) * 1000:.1f} ms, during it {p99(during) * 1000:.1f} ms")
    assert p99(during) <= 2 * p99(before)
    assert len(rows) == sent == 430
    assert {r["request_id"] for r in rows} == {f"req-{i}" for i in range(430)}


@needs_postgres
def test_the_server_starts_with_the_store_away_and_writes_once_it_answers(
    served_repo, fresh_registry, tmp_path, postgres
):
    postgres.stop()
    process, port, log = start(tmp_path, fresh_registry, served_repo, "--store-url", postgres.url)
    try:
        server = Served(fresh_registry, port, process, log, postgres.url)
        for i in range(10):
            assert server.v1([FLIGHT], headers={"x-request-id": f"early-{i}"}).status_code == 200
        assert "is away" in log.read_text()
        postgres.start()
        rows = wait_for(10, server.store)
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert sorted(r["request_id"] for r in rows) == sorted(f"early-{i}" for i in range(10))


def test_answers_queued_when_the_server_is_stopped_are_all_stored(served_repo, fresh_registry, tmp_path):
    """SIGTERM, as Kubernetes stops a pod, right after the last answer, while the log cannot write
    (the store is locked): what it holds goes to the spool before the process ends, and a
    restart writes it."""
    path = tmp_path / "predictions.db"
    url = f"sqlite:///{path}"
    process, port, log = start(tmp_path, fresh_registry, served_repo, "--store-url", url)
    flights = [FLIGHT | {"flight": n} for n in range(100)]

    async def burst() -> list[int]:
        async with httpx.AsyncClient(timeout=60) as client:
            url, body = f"http://127.0.0.1:{port}/v1/models/flights:predict", {"instances": flights}
            answers = [client.post(url, json=body, headers={"x-request-id": f"b{i}"}) for i in range(40)]
            return [response.status_code for response in await asyncio.gather(*answers)]

    lock = sqlite3.connect(path)
    lock.execute("BEGIN EXCLUSIVE")  # the writer waits on its insert; the rest queue up in memory
    try:
        assert asyncio.run(burst()) == [200] * 40
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=90) is not None
    finally:
        lock.rollback()
        lock.close()
    process, port, log = start(tmp_path, fresh_registry, served_repo, "--store-url", url)
    try:
        rows = wait_for(4000, PredictionStore(url))
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert len(rows) == 4000 and len({(r["request_id"], r["position"]) for r in rows}) == 4000


OUTCOME = {k: FLIGHT[k] for k in ("carrier", "flight", "origin", "scheduled_departure")} | {"arr_delay": 22.0}


def test_ground_truth_is_authenticated_json_joined_once_and_a_contradiction_kept(served_repo, fresh_registry, tmp_path):
    url = f"sqlite:///{tmp_path / 'predictions.db'}"
    process, port, log = start(tmp_path, fresh_registry, served_repo, "--store-url", url, "--token", "s3cret")
    endpoint = f"http://127.0.0.1:{port}/v1/outcomes"
    auth = {"authorization": "Bearer s3cret"}

    def post(body, headers=auth, **kwargs) -> httpx.Response:
        return httpx.post(endpoint, json=body, headers=headers, timeout=30, **kwargs)

    try:
        server = Served(fresh_registry, port, process, log, url)
        assert server.v1([FLIGHT], headers={"x-request-id": "truth-1"}).status_code == 200
        earlier = OUTCOME | {"flight": 1, "scheduled_departure": "2013-01-30T08:00:00-05:00", "arr_delay": None}
        body = {"outcomes": [OUTCOME, earlier]}
        for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": "s3cret"}):
            assert post(body, headers).status_code == 401
        as_text = httpx.post(endpoint, content=json.dumps(body), headers=auth | {"content-type": "text/plain"})
        assert as_text.status_code == 415 and "application/json only" in as_text.text  # a browser's simple request
        first = post(body)
        assert first.status_code == 200 and first.json() == {"received": 2, "new": 2, "disputed": []}
        assert post({"outcomes": [OUTCOME]}).json() == {"received": 1, "new": 0, "disputed": []}  # the same again
        forged = post({"outcomes": [OUTCOME | {"arr_delay": 99.0}]})
        key = "UA|1545|EWR|2013-01-31T22:00:00+00:00"
        assert forged.json() == {"received": 1, "new": 0, "disputed": [key]}
        bad = post({"outcomes": [{"carrier": "UA"}]})
        assert bad.status_code == 400 and "outcomes[0] lacks flight, origin" in bad.text
        leg = OUTCOME | {"flight": 2, "tailnum": "N14228", "arr_delay": 60.0}
        untimed = post({"outcomes": [leg]})
        assert untimed.status_code == 400 and "needs arrived_at or scheduled_arrival" in untimed.text
        unzoned = post({"outcomes": [leg | {"scheduled_arrival": "2013-01-31T19:00:00"}]})
        assert unzoned.status_code == 400 and "outcomes[0].scheduled_arrival" in unzoned.text
        # at the gate at its scheduled arrival plus the delay: 20:00 New York time, never the server's clock
        timed = post({"outcomes": [leg | {"scheduled_arrival": "2013-01-31T19:00:00-05:00"}]})
        assert timed.json()["new"] == 1
        later = FLIGHT | {"scheduled_departure": "2013-01-31T21:30:00-05:00"}
        server.v1([later], headers={"x-request-id": "after-leg"})
        rows = wait_for(2, server.store)
    finally:
        process.terminate()
        process.wait(timeout=30)
    (joined,) = [r for r in server.store.joined() if r["request_id"] == "truth-1"]
    assert joined["value"] == 22.0 and joined["disputed"]  # the first kept, flagged
    assert [(d["flight_key"], d["value"]) for d in server.store.disputes()] == [(key, 99.0)]
    (after,) = [r for r in rows if r["request_id"] == "after-leg"]
    assert after["inputs"]["previous_arr_delay"] == 60.0 and after["inputs"]["hours_since_previous"] == 1.5


def test_ground_truth_load_from_a_file(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    csv = tmp_path / "outcomes.csv"
    rows = [OUTCOME, OUTCOME | {"flight": 7, "arr_delay": None}, OUTCOME]
    csv.write_text(
        "carrier,flight,origin,scheduled_departure,arr_delay\n"
        + "\n".join(
            f"{r['carrier']},{r['flight']},{r['origin']},{r['scheduled_departure']},{r['arr_delay'] or ''}"
            for r in rows
        )
    )
    done = subprocess.run(
        [LOOPLINE, "ground-truth", "load", str(csv), "--store-url", url], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "3 outcomes read" in done.stdout and "2 new, 1 already stored" in done.stdout
    csv.write_text("carrier,flight\nUA,1\n")
    done = subprocess.run(
        [LOOPLINE, "ground-truth", "load", str(csv), "--store-url", url], capture_output=True, text=True
    )
    assert done.returncode == 2 and "outcomes[0] lacks origin" in done.stderr
