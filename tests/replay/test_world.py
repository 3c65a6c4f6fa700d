"""The replay's world tells the system only what is known at the clock: every table of a
snapshot and every stream event checked against it, and a flight planted after the clock that
must never appear."""

import shutil

import pandas as pd
import pytest

from loopline.config import load_config
from loopline.features.history import EVENT_TIMESTAMP
from loopline.features.store import lookup_tables
from loopline.replay.world import AHEAD, DEPARTS, KNOWN, World

CONFIG = load_config("flights")
NOW = pd.Timestamp("2013-03-10T15:30Z")
PLANTED = "NFUTURE"


@pytest.fixture(scope="module")
def world(source, tmp_path_factory) -> World:
    """The world of a source with a flight planted three days after NOW."""
    folder = tmp_path_factory.mktemp("planted")
    shutil.copytree(source, folder, dirs_exist_ok=True)
    flights = pd.read_parquet(folder / "flights.parquet")
    planted = flights[flights.time_hour == flights.time_hour[flights.time_hour > NOW].min()].head(1).copy()
    planted["time_hour"] = planted["time_hour"] + pd.Timedelta(days=3)
    planted["tailnum"], planted["flight"] = PLANTED, 9999
    pd.concat([flights, planted], ignore_index=True).to_parquet(folder / "flights.parquet")
    return World(CONFIG, str(folder))


def test_a_snapshot_holds_only_what_is_known_at_the_clock(world, tmp_path):
    folder = world.snapshot(NOW, tmp_path)
    flights = pd.read_parquet(folder / "flights.parquet")
    departs = flights.time_hour + pd.to_timedelta(flights.minute, unit="min")
    assert departs.max() < NOW + AHEAD and departs.max() > NOW + pd.Timedelta(hours=20)  # the published schedule
    assert PLANTED not in set(flights.tailnum)
    mine = world.events.loc[world.events[DEPARTS] < NOW + AHEAD]
    arrived = (mine[KNOWN] <= NOW).to_numpy()
    assert flights.arr_delay.notna().to_numpy()[~arrived].sum() == 0  # not at the gate yet: unknown
    assert (flights.arr_delay.notna().to_numpy()[arrived]).all()  # at the gate: known
    left = (world.left[mine.index] <= NOW).to_numpy()
    assert flights.dep_delay.notna().to_numpy()[~left].sum() == 0 and flights.dep_delay.notna().to_numpy()[left].all()
    weather = pd.read_parquet(folder / "weather.parquet")
    assert (weather.time_hour + pd.Timedelta(minutes=51)).max() <= NOW  # an hour counts once its last report is in
    assert (weather.time_hour + pd.Timedelta(minutes=51)).max() > NOW - pd.Timedelta(hours=1)


def test_the_hourly_weather_table_is_the_snapshots_and_ends_at_the_clock(world, tmp_path):
    hourly = world.timed_tables(NOW)["weather"]
    from_snapshot = lookup_tables(CONFIG, str(world.lookups(NOW, tmp_path)), timed=True)["weather"]
    pd.testing.assert_frame_equal(hourly.reset_index(drop=True), from_snapshot.reset_index(drop=True))
    assert hourly[EVENT_TIMESTAMP].max() <= NOW and hourly[EVENT_TIMESTAMP].max() > NOW - pd.Timedelta(hours=1)


def test_streams_requests_and_outcomes_are_cut_at_the_clock(world):
    hour_before = world.streams(NOW, since=NOW - pd.Timedelta(hours=1))
    for name, stream in world.streams(NOW).items():
        assert stream[EVENT_TIMESTAMP].max() <= NOW and len(stream) > 1000, name
        recent = stream[stream[EVENT_TIMESTAMP] > NOW - pd.Timedelta(hours=1)]
        assert len(recent) > 5 and hour_before[name].equals(recent), name
    hour = world.due(NOW, NOW + pd.Timedelta(hours=1))
    assert len(hour) > 20 and hour[DEPARTS].between(NOW, NOW + pd.Timedelta(hours=1), inclusive="left").all()
    outcomes = world.outcomes(NOW, NOW + pd.Timedelta(hours=1))
    assert outcomes[KNOWN].between(NOW, NOW + pd.Timedelta(hours=1), inclusive="left").all()
    never = outcomes[outcomes.arr_delay.isna()]
    assert len(outcomes) > 20 and (never[KNOWN] > never[DEPARTS]).all()  # a cancellation reported after
    later = world.due(NOW + pd.Timedelta(days=3), NOW + pd.Timedelta(days=3, hours=1))
    assert PLANTED in set(later.tailnum)  # the planted flight is there, in its time
