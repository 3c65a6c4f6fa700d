"""The prediction store and its log on a real SQLite store: a record the store refuses, a torn
spool line, a store that is away, disputes of outcomes, the window reader."""

import time
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy.exc import OperationalError

from loopline.predictions.log import PredictionLog, Spool
from loopline.predictions.store import PredictionStore, migrate

KEY = "UA|1545|EWR|2013-01-31T22:00:00+00:00"


def record(answer: str, score: float | None = 0.5, **changes) -> dict:
    return {
        "answer_id": answer,
        "request_id": f"request-{answer}",
        "position": 0,
        "role": "production",
        "predicted_at": datetime(2026, 12, 3, 12, tzinfo=UTC),
        "departs_at": datetime(2013, 1, 31, 22, 15, tzinfo=UTC),
        "flight_key": KEY,
        "model_version": "0001",
        "inputs": {"carrier": "UA"},
        "score": score,
    } | changes


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
    log.submit([record("a"), record("bad", model_version=None), record("b")])  # model_version is NOT NULL
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
    key = KEY
    assert store.write_outcomes([{"flight_key": key, "value": 22.0}]).new == [key]
    again = store.write_outcomes([{"flight_key": key, "value": 22.0}, {"flight_key": "other", "value": None}])
    assert again.new == ["other"] and again.disputed == []
    assert store.write_outcomes([{"flight_key": key, "value": None}]).disputed == [key]
    assert [(d["flight_key"], d["value"]) for d in store.disputes()] == [(key, None)]
    store.write_predictions([record("a")])
    (joined,) = store.joined()
    assert joined["value"] == 22.0 and joined["disputed"] is True


def test_the_window_reader_joins_only_outcomes_known_by_as_of(tmp_path):
    store = sqlite_store(tmp_path)
    other = "AA|1|JFK|2013-02-01T10:00:00+00:00"
    store.write_predictions(
        [
            record("a"),
            record("b", role="canary", model_version="0002"),
            record("c", flight_key=other, departs_at=datetime(2013, 2, 1, 10, tzinfo=UTC)),
            record("d", departs_at=datetime(2013, 2, 3, tzinfo=UTC)),  # outside the window
        ]
    )
    store.write_outcomes([{"flight_key": KEY, "value": 40.0, "known_at": datetime(2013, 2, 1, 1, tzinfo=UTC)}])
    store.write_outcomes([{"flight_key": other, "value": None}])  # cancelled: known when received (now)
    start, end = datetime(2013, 1, 31, tzinfo=UTC), datetime(2013, 2, 2, tzinfo=UTC)

    window = store.window(start, end, as_of=datetime(2013, 2, 1, 2, tzinfo=UTC))
    assert list(window["answer_id"]) == ["a", "b", "c"]
    assert window.set_index("answer_id")["labelled"].to_dict() == {"a": True, "b": True, "c": False}
    assert window.loc[window["answer_id"] == "a", "outcome"].item() == 40.0
    early = store.window(start, end, as_of=datetime(2013, 2, 1, tzinfo=UTC))
    assert not early["labelled"].any() and early["outcome"].isna().all()  # not known yet: unknown, not negative
    assert list(store.window(start, end, roles=["canary"])["answer_id"]) == ["b"]
    assert list(store.window(start, end, version="0001")["answer_id"]) == ["a", "c"]
    new_york = timezone(timedelta(hours=-5))  # the same window, its bounds given in another zone
    assert list(store.window(start.astimezone(new_york), end.astimezone(new_york))["answer_id"]) == ["a", "b", "c"]
    late_start = datetime(2013, 1, 31, 17, 30, tzinfo=new_york)  # 22:30 UTC: after a, b's departure
    assert list(store.window(late_start, end)["answer_id"]) == ["c"]
    everything = store.window(start, end)
    assert everything["labelled"].all() and everything.loc[everything["answer_id"] == "c", "outcome"].isna().all()
    assert everything["inputs"].tolist() == [{"carrier": "UA"}] * 3
    bare = store.window(start, end, inputs=False)  # the same rows, their inputs not read
    assert bare["inputs"].isna().all() and bare.drop(columns="inputs").equals(everything.drop(columns="inputs"))


def test_a_versions_first_departure_is_its_earliest_scored_one_in_any_role(tmp_path):
    store = sqlite_store(tmp_path)
    assert store.first_departure("0002") is None
    store.write_predictions(
        [
            record("a", model_version="0002", role="shadow", departs_at=datetime(2013, 2, 1, 9, tzinfo=UTC)),
            record("b", model_version="0002", role="canary", departs_at=datetime(2013, 2, 1, 8, tzinfo=UTC)),
            record("c", departs_at=datetime(2013, 1, 1, tzinfo=UTC)),  # another version's
        ]
    )
    assert store.first_departure("0002") == datetime(2013, 2, 1, 8, tzinfo=UTC)
