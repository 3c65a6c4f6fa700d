"""The prediction log on a real SQLite store: a record the store refuses, a torn spool line, a
store that is away, disputes of outcomes."""

import time
from datetime import UTC, datetime

from sqlalchemy.exc import OperationalError

from loopline.predictions.log import PredictionLog, Spool
from loopline.predictions.store import PredictionStore, migrate


def record(answer: str, score: float | None = 0.5) -> dict:
    return {
        "answer_id": answer,
        "request_id": f"request-{answer}",
        "position": 0,
        "role": "production",
        "predicted_at": datetime(2013, 1, 31, 22, tzinfo=UTC),
        "flight_key": "UA|1545|EWR|2013-01-31T22:00:00+00:00",
        "model_version": "0001",
        "inputs": {"carrier": "UA"},
        "score": score,
    }


def stored(store: PredictionStore, count: int, timeout: float = 20) -> set[str]:
    """The answer ids stored once there are `count` (or `timeout` seconds have passed)."""
    deadline, answers = time.monotonic() + timeout, set()
    while len(answers) < count and time.monotonic() < deadline:
        time.sleep(0.05)
        try:
            answers = {r["answer_id"] for r in store.predictions()}
        except OperationalError:  # not migrated yet: the log does it on its first write
            pass
    return answers


def sqlite_store(tmp_path) -> PredictionStore:
    url = f"sqlite:///{tmp_path / 'predictions.db'}"
    migrate(url)
    return PredictionStore(url)


def test_a_record_the_store_refuses_is_set_aside_and_the_rest_are_written(tmp_path, caplog):
    store = sqlite_store(tmp_path)
    log = PredictionLog(store, Spool(tmp_path / "spool.jsonl"))
    log.submit([record("a"), record("bad", score=None), record("b")])  # score is NOT NULL
    assert stored(store, 2) == {"a", "b"}
    log.submit([record("c")])  # the log is not jammed
    assert stored(store, 3) == {"a", "b", "c"}
    log.close()
    dead, torn = Spool(tmp_path / "spool.dead.jsonl").read()
    assert [r["answer_id"] for r in dead] == ["bad"] and torn == 0
    assert not (tmp_path / "spool.jsonl").exists()
    assert "refused 1 record(s)" in caplog.text


def test_a_torn_last_spool_line_is_skipped_and_the_spool_written(tmp_path):
    store = sqlite_store(tmp_path)
    spool = Spool(tmp_path / "spool.jsonl")
    spool.append([record("x"), record("y")])
    with spool.path.open("a") as handle:
        handle.write('{"answer_id": "z", "posi')  # the process died mid-write
    log = PredictionLog(store, spool)
    assert stored(store, 2) == {"x", "y"}
    log.close()
    assert not spool.path.exists()


def test_records_wait_in_the_spool_while_the_store_is_away_and_close_keeps_them(tmp_path):
    away = PredictionStore(f"sqlite:///{tmp_path / 'no-such-folder' / 'predictions.db'}")  # cannot be opened
    spool = Spool(tmp_path / "spool.jsonl")
    log = PredictionLog(away, spool)
    log.submit([record("p")])
    log.submit([record("q")])
    log.close()
    assert sorted(r["answer_id"] for r in spool.read()[0]) == ["p", "q"]
    (tmp_path / "no-such-folder").mkdir()  # the store comes back: the next log writes the spool first
    log = PredictionLog(away, spool)
    assert stored(away, 2) == {"p", "q"}
    log.close()
    assert not spool.path.exists()


def test_an_outcome_that_contradicts_the_stored_one_is_kept_and_flagged(tmp_path):
    store = sqlite_store(tmp_path)
    key = "UA|1545|EWR|2013-01-31T22:00:00+00:00"
    assert store.write_outcomes([{"flight_key": key, "value": 22.0}]).new == [key]
    again = store.write_outcomes([{"flight_key": key, "value": 22.0}, {"flight_key": "other", "value": None}])
    assert again.new == ["other"] and again.disputed == []
    assert store.write_outcomes([{"flight_key": key, "value": None}]).disputed == [key]
    assert [(d["flight_key"], d["value"]) for d in store.disputes()] == [(key, None)]
    store.write_predictions([record("a")])
    (joined,) = store.joined()
    assert joined["value"] == 22.0 and joined["disputed"] is True
