"""A short replay end to end, as `make demo` runs a long one: a first model, a live server, a
week of January 2013 on its own clock with a policy tuned to fire; a retraining happens, the
canary is judged and the decision recorded, the server is restarted in the middle and loses
nothing, nothing in the feature store or the prediction store comes from after the clock, and
the report's JSON and HTML agree."""

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from loopline import registry
from loopline.features.history import EVENT_TIMESTAMP
from loopline.replay.report import time_spent
from loopline.replay.run import Replay, ReplayOptions
from loopline.replay.world import AHEAD
from tests.conftest import REPO, write_config

pytestmark = [pytest.mark.slow, pytest.mark.pipeline]
PLANTED = "NFUTURE"
END = pd.Timestamp("2013-01-26", tz="America/New_York")


@pytest.fixture(scope="module")
def replayed(source, tmp_path_factory):
    """The replay of 22-25 January (a first model on 1-20 January) and what each step saw."""
    folder = tmp_path_factory.mktemp("replay")
    planted = folder / "source"
    shutil.copytree(source, planted)
    flights = pd.read_parquet(planted / "flights.parquet")
    future = flights[flights.time_hour >= END + pd.Timedelta(days=3)].head(1).assign(tailnum=PLANTED, flight=9999)
    pd.concat([flights, future], ignore_index=True).to_parquet(planted / "flights.parquet")
    monitoring = {
        "judge": {"min_outcomes": 100, "margin": 0.05, "max_wait_days": 1},
        "policy": {"max_age_days": 2, "cooldown_days": 5, "training_days": 21, "min_outcomes": 100},
        "replay": {"step_minutes": 120, "unarrived_hours": 3, "monitor_hours": 24, "batch": 100},
    }
    gates = {"slices": [["carrier"]], "thresholds": {"auc_min": 0.55, "auc_max_drop": 0.05}}
    config = write_config(folder, split={"eval_days": 5}, monitoring=monitoring, evaluation=gates)
    seen = []

    def step(replay: Replay, clock: pd.Timestamp) -> None:
        data = Path(replay.repo, "data")
        # every table but the trailing rates, whose window is carried forward from the outcomes known
        timed = [p for p in data.glob("*.parquet") if not p.name.endswith("_rates.parquet")]
        latest = max(pd.read_parquet(p, columns=[EVENT_TIMESTAMP])[EVENT_TIMESTAMP].max() for p in timed)
        seen.append((clock, latest, replay.progress.flights))
        if clock == pd.Timestamp("2013-01-24T12:00", tz="America/New_York"):
            replay.server.restart()  # SIGTERM in the middle: its log drained, then a new process

    replay = Replay(options(folder / "run", config, planted), on_step=step)
    return replay, replay.run(), seen


def options(folder: Path, config: str, source: Path) -> ReplayOptions:
    return ReplayOptions(
        train_end="2013-01-22",
        end="2013-01-26",
        sample=0.12,
        seed=3,
        config=config,
        source=str(source),
        folder=str(folder),
        feature_repo=str(REPO),
        hyperparameters={"epochs": 2, "ensemble": 1},
    )


def test_the_loop_retrains_and_judges_on_its_own_clock(replayed):
    replay, report, _ = replayed
    actions = [event["action"] for event in report["timeline"]]
    assert actions[:2] == ["retrain", "trained"] and "pushed to the canary" in report["timeline"][1]["reason"]
    assert {"promote", "rollback"} & set(actions)  # the canary was judged, and the verdict carried out
    decisions = registry.decisions(replay.registry, replay.config.name)
    assert [d["action"] for d in decisions] == [a for a in actions if a in ("retrain", "promote", "rollback")]
    retrained = registry.get(replay.registry, replay.config.name, "0002").metadata
    assert retrained["trigger"] == report["timeline"][0]["reason"] and "days ago" in retrained["trigger"]


def test_a_restart_in_the_middle_loses_no_prediction_or_outcome(replayed):
    replay, report, _ = replayed
    answers = replay.store.window(replay.start.to_pydatetime(), replay.end.to_pydatetime())
    production = answers[answers["role"] == "production"]
    assert len(production) == report["progress"]["flights"] > 300  # every flight sent is stored once
    assert production["flight_key"].nunique() == len(production)
    labelled = production["labelled"].sum()
    assert labelled == report["overall"]["labelled"] and labelled > 0.9 * len(production)
    assert (replay.folder / "server.log").read_text().count("loopline: serving flights") == 2  # restarted once


def test_nothing_is_read_from_after_the_clock(replayed):
    replay, _, seen = replayed
    for clock, latest, _ in seen:
        assert latest <= clock + AHEAD, clock  # the store holds values up to the clock (schedules a day ahead)
    for table in Path(replay.repo, "data").glob("*.parquet"):
        frame = pd.read_parquet(table)
        assert PLANTED not in set(frame.get("tailnum", [])), table.name
    stored = replay.store.window(replay.start.to_pydatetime(), (END + pd.Timedelta(days=9)).to_pydatetime())
    assert stored["departs_at"].max() < END and not stored["flight_key"].str.contains("9999").any()


def test_the_report_json_and_html_agree(replayed):
    _, report, _ = replayed
    saved = json.loads(Path(report["files"]["json"]).read_text())
    page = Path(report["files"]["html"]).read_text()
    head = saved["headline"]
    assert saved["overall"]["labelled"] == head["labelled"] and head["low"] <= head["difference"] <= head["high"]
    assert f"{head['difference']:+.4f}" in page and f"{head['labelled']:,} flights" in page
    assert page.count("<tr>") == len(saved["weeks"]) + 1 and "<svg" in page
    assert all(event["reason"] in page for event in saved["timeline"])
    assert Path(report["files"]["svg"]).read_text().startswith("<?xml")
    seconds = saved["progress"]["seconds"]
    assert 0 < sum(v for part, v in seconds.items() if part != "all") <= seconds["all"] and time_spent(saved) in page


@pytest.mark.long
def test_the_same_seed_gives_the_same_figures(replayed):
    """A second replay of the same window, sample and seed (another 3 minutes: `make test-long`)."""
    first, report, _ = replayed
    again = Replay(options(first.folder.parent / "again", first.options.config, Path(first.source))).run()
    figures = ("overall", "weeks", "headline")
    assert {k: report[k] for k in figures} == {k: again[k] for k in figures}
    assert [(e["action"], e["version"]) for e in report["timeline"]] == [
        (e["action"], e["version"]) for e in again["timeline"]
    ]
