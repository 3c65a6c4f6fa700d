"""The history tables: every feature stamped when it became known, never earlier."""

import numpy as np
import pandas as pd
import pytest

from loopline.errors import DataError
from loopline.features.history import EVENT_TIMESTAMP, known_at, live_stream, outcome_stream, schedule, trailing_rates

ZONES = {"ORD": "America/Chicago", "LAX": "America/Los_Angeles", "EWR": "America/New_York"}


def flights_of(*rows) -> pd.DataFrame:
    """(scheduled departure UTC hour, minute, dep_delay, sched_arr_time HHMM at dest, arr_delay, tailnum, dest)"""
    columns = ["time_hour", "minute", "dep_delay", "sched_arr_time", "arr_delay", "tailnum", "dest"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["time_hour"] = pd.to_datetime(frame["time_hour"], utc=True)
    frame["origin"], frame["carrier"] = "EWR", "UA"
    return frame


def test_an_outcome_is_known_at_the_scheduled_arrival_in_the_destination_zone_plus_the_delay(flights):
    frame = flights_of(
        ("2013-01-01T14:00Z", 15, 10.0, 1045, 40.0, "N1", "ORD"),  # 09:15 EST, due 10:45 CST = 16:45 UTC
        ("2013-01-01T23:00Z", 30, 0.0, 2105, -5.0, "N2", "LAX"),  # 18:30 EST, due 21:05 PST = 05:05 UTC next day
        ("2013-01-02T04:00Z", 50, 0.0, 10, 0.0, "N3", "ORD"),  # 23:50 EST, due 00:10 CST after midnight
        ("2013-01-01T14:00Z", 0, np.nan, 1045, np.nan, "N4", "ORD"),  # cancelled: never arrives
    )
    known = known_at(frame, flights, ZONES)
    assert known.iloc[0] == pd.Timestamp("2013-01-01T17:25Z")  # 16:45 + 40 minutes late
    assert known.iloc[1] == pd.Timestamp("2013-01-02T05:00Z")  # 05:05 - 5 minutes early
    assert known.iloc[2] == pd.Timestamp("2013-01-02T06:10Z")
    assert pd.isna(known.iloc[3])


def test_a_destination_without_a_time_zone_is_named(flights):
    frame = flights_of(("2013-01-01T14:00Z", 15, 10.0, 1045, 40.0, "N1", "XYZ"))
    with pytest.raises(DataError, match="no time zone for dest XYZ"):
        known_at(frame, flights, ZONES)


def test_the_stream_has_arrived_flights_only_in_time_order(flights):
    frame = flights_of(
        ("2013-01-01T12:00Z", 0, 0.0, 1000, 5.0, "N1", "ORD"),  # due 16:00 UTC, +5
        ("2013-01-01T10:00Z", 0, 0.0, 800, -3.0, "N1", "ORD"),  # due 14:00 UTC, -3
        ("2013-01-01T11:00Z", 0, np.nan, 900, np.nan, "N2", "ORD"),  # cancelled
        ("2013-01-01T11:00Z", 0, 10.0, 900, np.nan, "N3", "ORD"),  # diverted
        ("2013-01-01T11:00Z", 0, 0.0, 900, 1.0, None, "ORD"),  # no aircraft to key it by
    )
    stream = outcome_stream(flights, frame, ZONES)
    assert stream["tailnum"].tolist() == ["N1", "N1"]
    assert stream["previous_arr_delay"].tolist() == [-3.0, 5.0]
    assert stream[EVENT_TIMESTAMP].tolist() == [pd.Timestamp("2013-01-01T13:57Z"), pd.Timestamp("2013-01-01T16:05Z")]
    assert (stream["previous_known_at"] == stream[EVENT_TIMESTAMP]).all()


def test_trailing_rates_count_only_outcomes_known_before_midnight(flights):
    frame = flights_of(
        ("2013-01-01T10:00Z", 0, 0.0, 600, 30.0, "N1", "ORD"),  # late, known 12:30 UTC on the 1st
        ("2013-01-01T22:00Z", 0, 60.0, 1800, 70.0, "N2", "ORD"),  # late, known 01:10 UTC on the 2nd
        ("2013-01-02T10:00Z", 0, 0.0, 600, 0.0, "N1", "ORD"),  # on time, known on the 2nd
        ("2013-01-02T10:00Z", 0, np.nan, 600, np.nan, "N3", "ORD"),  # cancelled: late, counts after the 2nd
    )
    rates = trailing_rates(flights, frame, ZONES, "carrier", ["carrier"]).set_index(EVENT_TIMESTAMP)
    assert rates.loc[pd.Timestamp("2013-01-02", tz="UTC"), ["carrier_late_rate", "carrier_events"]].tolist() == [1, 1]
    assert rates.loc[pd.Timestamp("2013-01-03", tz="UTC"), "carrier_events"] == 4
    assert rates.loc[pd.Timestamp("2013-01-03", tz="UTC"), "carrier_late_rate"] == 0.75
    # 28 days on, the first day's outcome has left the window; the last row is the last day it holds any
    assert rates.loc[pd.Timestamp("2013-01-29", tz="UTC"), "carrier_events"] == 4
    assert rates.loc[pd.Timestamp("2013-01-30", tz="UTC"), "carrier_events"] == 3
    assert rates.index.max() == pd.Timestamp("2013-01-30", tz="UTC")
    assert pd.Timestamp("2013-01-01", tz="UTC") not in rates.index  # nothing known before the first day


def test_the_live_state_counts_departures_of_the_last_two_hours_as_they_leave(flights):
    frame = flights_of(
        ("2013-01-01T10:00Z", 0, 10.0, 1200, 0.0, "N1", "ORD"),  # left 10:10
        ("2013-01-01T10:00Z", 30, 30.0, 1200, 0.0, "N2", "ORD"),  # left 11:00
        ("2013-01-01T11:00Z", 0, np.nan, 1300, np.nan, "N3", "ORD"),  # cancelled: never left
    )
    state = live_stream(flights, frame).set_index(EVENT_TIMESTAMP)
    at = lambda t: state.loc[pd.Timestamp(t)]  # noqa: E731
    assert at("2013-01-01T10:00Z")["recent_departures"] == 0 and np.isnan(at("2013-01-01T10:00Z")["recent_mean_delay"])
    assert at("2013-01-01T10:10Z")[["recent_departures", "recent_mean_delay"]].tolist() == [1, 10]
    assert at("2013-01-01T11:00Z")[["recent_departures", "recent_mean_delay"]].tolist() == [2, 20]
    assert at("2013-01-01T12:10Z")[["recent_departures", "recent_mean_delay"]].tolist() == [1, 30]  # 10:10 left it
    assert at("2013-01-01T13:00Z")["recent_departures"] == 0
    # a state at every change and every hour: never older than an hour
    assert state.index.to_series().diff().max() <= pd.Timedelta(hours=1)
    assert (state["origin"] == "EWR").all() and state.index.is_monotonic_increasing


def test_the_schedule_counts_every_scheduled_departure_by_origin_and_hour(flights):
    frame = flights_of(
        ("2013-01-01T10:00Z", 0, 10.0, 1200, 0.0, "N1", "ORD"),
        ("2013-01-01T10:00Z", 30, np.nan, 1200, np.nan, "N2", "ORD"),  # cancelled, but it was scheduled
        ("2013-01-01T11:00Z", 0, 0.0, 1300, 0.0, "N3", "ORD"),
    )
    counts = schedule(flights, frame).set_index(EVENT_TIMESTAMP)["scheduled_departures"]
    assert counts.to_dict() == {pd.Timestamp("2013-01-01T10:00Z"): 2, pd.Timestamp("2013-01-01T11:00Z"): 1}
