"""The retraining policy: each trigger fires when its condition holds and only then; one open
retraining per model, a cooldown, and a claim that holds when two processes race for it."""

import multiprocessing
from datetime import timedelta

import pandas as pd
import pytest

from loopline import registry
from loopline.config import load_config
from loopline.monitoring.monitor import Monitoring
from loopline.monitoring.policy import RETRAIN, decide, retrain, triggers

CONFIG = load_config("flights")
POLICY = CONFIG.monitoring.policy  # drift 0.3 in 3 windows, AUC margin 0.03 on 1,000, 30 days, cooldown 2


def window(day: int, drift: float | None = 0.1, auc: float | None = 0.75, labelled: int = 2000, version="0001"):
    """The monitored `day` of 2013 counted from 1 January (outcomes known by the next midnight) for
    production `version`."""
    start = pd.Timestamp(2013, 1, 1, tz="America/New_York") + pd.Timedelta(days=day - 1)
    end = start + pd.Timedelta(days=1)
    group = {"role": "production", "version": version, "predictions": 3000, "labelled": labelled}
    group |= {"coverage": labelled / 3000, "auc": auc, "drift_share": drift}
    return Monitoring(start.isoformat(), end.isoformat(), end.isoformat(), groups=[group])


@pytest.fixture
def models(tmp_path) -> str:
    """A registry with version 0001 in production: evaluated at AUC 0.78, trained up to 2013-01-01."""
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "saved_model.pb").write_bytes(b"the policy never loads it")
    uri = str(tmp_path / "registry")
    meta = {"metrics": {"auc": 0.78}, "data_window": {"start": "2012-10-01", "end": "2013-01-01"}}
    registry.push(uri, "flights", str(folder), meta, None)
    return uri


def fired(models: str, *windows: Monitoring) -> list[str]:
    production = registry.production(models, "flights")
    as_of = pd.Timestamp(windows[-1].as_of)
    last = registry.last_retraining(models, "flights")
    return triggers(POLICY, [w.as_dict() for w in windows], production, as_of, last)


def test_drift_fires_after_that_many_consecutive_windows_of_the_production_version(models):
    assert fired(models, window(2, drift=0.6), window(3, drift=0.7)) == []  # two windows are not three
    assert fired(models, window(2, drift=0.6), window(3, drift=0.2), window(4, drift=0.7)) == []  # broken streak
    assert fired(models, window(2, drift=0.6, version="0009"), window(3, drift=0.7), window(4, drift=0.9)) == []
    assert fired(models, window(2, drift=None), window(3, drift=0.7), window(4, drift=0.9)) == []  # no reference
    (reason,) = fired(models, window(2, drift=0.5), window(3, drift=0.7), window(4, drift=0.9))
    assert reason.startswith("drift share 0.50, 0.70, 0.90 in the last 3 windows")


def test_auc_fires_below_the_evaluated_auc_by_the_margin_on_enough_outcomes(models):
    assert fired(models, window(5, auc=0.751)) == []  # 0.78 - 0.03 = 0.75: within the margin
    assert fired(models, window(5, auc=0.70, labelled=999)) == []  # too few outcomes to count
    assert fired(models, window(5, auc=None)) == []  # no AUC measured (one class, or none labelled)
    (reason,) = fired(models, window(5, auc=0.749, labelled=1000))
    assert "live AUC 0.7490 on 1,000 outcomes is below the evaluated 0.7800" in reason


def test_age_fires_once_the_training_data_is_older_than_max_age(models):
    assert fired(models, window(30)) == []  # the clock is 2013-01-31 00:00 in New York: 30 days, not more
    (reason,) = fired(models, window(30), window(31))  # after the window of the 31st: 31 days
    assert "trained on data up to 2013-01-01, 31.0 days ago" in reason


def test_after_a_retraining_that_pushed_nothing_age_waits_as_long_again(models):
    decided = decide(CONFIG, models, window(31))  # on 1 February: 31 days
    assert decided.retrain and decided.reason.startswith("version 0001 trained on data up to 2013-01-01")
    retrain(CONFIG, models, decided, lambda _: "not pushed")
    assert fired(models, window(33)) == [] and fired(models, window(61)) == []  # up to 3 March: 30 days
    (again,) = fired(models, window(62))  # 4 March: the attempt is 31 days old
    assert "trained on data up to 2013-01-01, 62.0 days ago" in again


def test_a_retraining_is_claimed_once_recorded_with_its_reasons_then_cools_down(models):
    quiet = decide(CONFIG, models, window(3, auc=0.74))  # AUC 0.74 < 0.75: fires
    assert quiet.retrain and quiet.claim["open"] and quiet.start == "2012-10-05" and quiet.end == "2013-01-03"
    (decision,) = registry.decisions(models, "flights")
    assert decision["action"] == RETRAIN and decision["evidence"]["reasons"] == quiet.reasons
    again = decide(CONFIG, models, window(3, auc=0.74))  # still firing, but one is open (not expired)
    assert not again.retrain and "is open since" in again.held

    ended = retrain(CONFIG, models, quiet, lambda decided: f"version 0002 pushed ({decided.reason[:8]})")
    assert ended == "version 0002 pushed (live AUC)"
    last = registry.last_retraining(models, "flights")
    assert not last["open"] and last["outcome"] == ended
    cooling = decide(CONFIG, models, window(4, auc=0.74))  # 2 days after the claim at the 4th's midnight
    assert not cooling.retrain and cooling.held.startswith("cooling down")
    assert decide(CONFIG, models, window(6, auc=0.74)).retrain  # 3 days after: over
    assert [d["action"] for d in registry.decisions(models, "flights")] == [RETRAIN, RETRAIN]


def test_nothing_is_claimed_without_a_trigger_or_a_production_model(models, tmp_path):
    assert not decide(CONFIG, models, window(3)).retrain
    assert registry.last_retraining(models, "flights") is None and registry.decisions(models, "flights") == []
    empty = decide(CONFIG, str(tmp_path / "none"), window(3, auc=0.5))
    assert not empty.retrain and "no model in production" in empty.held


def test_a_failed_run_releases_its_claim_and_a_dead_one_is_taken_over(models):
    decided = decide(CONFIG, models, window(3, auc=0.74))

    def crash(_):
        raise RuntimeError("the training pipeline stopped")

    with pytest.raises(RuntimeError):
        retrain(CONFIG, models, decided, crash)
    assert registry.last_retraining(models, "flights")["outcome"] == "failed"

    dead = decide(CONFIG, models, window(8, auc=0.74))  # claimed, and its process died: never released
    assert dead.retrain
    at = pd.Timestamp(dead.at).to_pydatetime()
    hold = timedelta(hours=POLICY.claim_expires_hours)
    with pytest.raises(registry.RetrainingOpen):
        registry.claim_retraining(models, "flights", at + hold - timedelta(minutes=1), "again", hold)
    assert registry.claim_retraining(models, "flights", at + hold, "again", hold)["reason"] == "again"


def _race(models: str, day: int, start, results) -> None:
    start.wait()
    results.put(decide(CONFIG, models, window(day, auc=0.74)).retrain)


def test_two_processes_racing_for_a_retraining_claim_it_once(models):
    context = multiprocessing.get_context("spawn")
    for day in (3, 6, 9, 12, 15):  # each round after the last one's cooldown, claim released
        start, results = context.Barrier(2), context.Queue()
        racers = [context.Process(target=_race, args=(models, day, start, results)) for _ in range(2)]
        for racer in racers:
            racer.start()
        for racer in racers:
            racer.join(timeout=120)
        assert sorted(results.get(timeout=60) for _ in racers) == [False, True], f"round of the {day}th"
        last = registry.last_retraining(models, "flights")
        registry.release_retraining(models, "flights", last, pd.Timestamp(last["at"]).to_pydatetime(), "done")
    assert sum(d["action"] == RETRAIN for d in registry.decisions(models, "flights")) == 5


def test_no_retraining_while_a_canary_awaits_its_verdict(models, tmp_path):
    folder = tmp_path / "contender"
    folder.mkdir()
    registry.push(models, "flights", str(folder), {}, None, registry.CANARY)
    held = decide(CONFIG, models, window(3, auc=0.74))  # a trigger fires, but a contender is out
    assert not held.retrain and held.held == "canary 0002 is still being judged"
    assert registry.last_retraining(models, "flights") is None
