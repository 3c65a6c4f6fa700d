"""Every prediction is stored, and a database outage under traffic loses none and doubles none."""

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, inspect

from loopline.predictions.store import PredictionStore, migrate
from tests.serving.conftest import LOOPLINE, Served, free_port, start
from tests.serving.test_server import FLIGHT

pytestmark = pytest.mark.slow
PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), None)


def wait_for(count: int, store: PredictionStore, timeout: float = 60) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = store.predictions()
        if len(rows) >= count:
            return rows
        time.sleep(0.3)
    return store.predictions()


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


@pytest.mark.skipif(PG_BIN is None or shutil.which("runuser") is None, reason="no PostgreSQL binaries here")
def test_a_database_outage_under_traffic_loses_no_prediction(served_repo, fresh_registry, tmp_path):
    postgres = Postgres()
    postgres.start()
    process, port, log = start(tmp_path, fresh_registry, served_repo, "--store-url", postgres.url)
    sent = 0
    try:
        server = Served(fresh_registry, port, process, log)

        def traffic(count: int) -> None:
            nonlocal sent
            for _ in range(count):
                response = server.v1([FLIGHT], headers={"x-request-id": f"req-{sent}"})
                assert response.status_code == 200, response.text  # never fails for the store
                sent += 1

        traffic(20)
        postgres.stop()
        traffic(30)  # answered while the store is down: spooled
        assert "prediction store unavailable" in log.read_text()
        postgres.start()
        traffic(10)
        rows = wait_for(sent, PredictionStore(postgres.url))
    finally:
        process.terminate()
        process.wait(timeout=30)
        postgres.stop()
        shutil.rmtree(postgres.folder, ignore_errors=True)
    assert len(rows) == sent == 60
    assert {r["request_id"] for r in rows} == {f"req-{i}" for i in range(60)}


OUTCOME = {k: FLIGHT[k] for k in ("carrier", "flight", "origin", "scheduled_departure")} | {"arr_delay": 22.0}


def test_ground_truth_joins_by_flight_key_late_in_any_order_and_once(served_repo, fresh_registry, tmp_path):
    url = f"sqlite:///{tmp_path / 'predictions.db'}"
    process, port, log = start(tmp_path, fresh_registry, served_repo, "--store-url", url, "--token", "s3cret")
    endpoint = f"http://127.0.0.1:{port}/v1/outcomes"
    try:
        server = Served(fresh_registry, port, process, log)
        assert server.v1([FLIGHT], headers={"x-request-id": "truth-1"}).status_code == 200
        earlier = OUTCOME | {"flight": 1, "scheduled_departure": "2013-01-30T08:00:00-05:00", "arr_delay": None}
        body = {"outcomes": [OUTCOME, earlier]}
        assert httpx.post(endpoint, json=body, timeout=30).status_code == 401
        auth = {"authorization": "Bearer s3cret"}
        first = httpx.post(endpoint, json=body, headers=auth, timeout=30)
        assert first.status_code == 200 and first.json() == {"received": 2, "new": 2}
        again = httpx.post(endpoint, json={"outcomes": [OUTCOME | {"arr_delay": 99.0}]}, headers=auth, timeout=30)
        assert again.json() == {"received": 1, "new": 0}  # a duplicate changes nothing
        bad = httpx.post(endpoint, json={"outcomes": [{"carrier": "UA"}]}, headers=auth, timeout=30)
        assert bad.status_code == 400 and "outcomes[0] lacks flight, origin" in bad.text
        # an outcome naming the aircraft reaches Feast's stream: its next departure sees the leg online
        leg = OUTCOME | {"flight": 2, "tailnum": "N14228", "arr_delay": 77.0, "arrived_at": "2013-01-31T20:00:00-05:00"}
        assert httpx.post(endpoint, json={"outcomes": [leg]}, headers=auth, timeout=30).json()["new"] == 1
        later = FLIGHT | {"scheduled_departure": "2013-01-31T21:30:00-05:00"}
        server.v1([later], headers={"x-request-id": "after-leg"})
        store = PredictionStore(url)
        rows = wait_for(2, store)
    finally:
        process.terminate()
        process.wait(timeout=30)
    (joined,) = [r for r in store.joined() if r["request_id"] == "truth-1"]
    assert joined["value"] == 22.0
    (after,) = [r for r in rows if r["request_id"] == "after-leg"]
    assert after["inputs"]["previous_arr_delay"] == 77.0 and after["inputs"]["hours_since_previous"] == 1.5


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
