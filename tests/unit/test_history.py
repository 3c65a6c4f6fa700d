"""The history tables: outcomes known only after they happen, trailing rates from the past only."""

import numpy as np
import pandas as pd

from loopline.features.history import EVENT_TIMESTAMP, known_at, outcome_stream, trailing_rates


def schedule(*rows) -> pd.DataFrame:
    """(scheduled UTC, minute, dep_delay, air_time, arr_delay, tailnum, carrier)"""
    columns = ["time_hour", "minute", "dep_delay", "air_time", "arr_delay", "tailnum", "carrier"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["time_hour"] = pd.to_datetime(frame["time_hour"], utc=True)
    frame["origin"], frame["dest"] = "EWR", "ORD"
    return frame


def test_an_outcome_is_known_after_departure_delay_air_time_and_taxi(flights):
    frame = schedule(("2013-01-01T10:00Z", 15, 30.0, 120.0, 40.0, "N1", "UA"))
    # 10:00 + 15 min scheduled minute + 30 delay + 120 in the air + 30 allowance
    assert known_at(frame, flights).iloc[0] == pd.Timestamp("2013-01-01T13:15Z")


def test_the_stream_has_landed_flights_only_in_time_order(flights):
    frame = schedule(
        ("2013-01-01T12:00Z", 0, 0.0, 60.0, 5.0, "N1", "UA"),
        ("2013-01-01T10:00Z", 0, 0.0, 60.0, -3.0, "N1", "UA"),
        ("2013-01-01T11:00Z", 0, np.nan, np.nan, np.nan, "N2", "UA"),  # cancelled: never lands
        ("2013-01-01T11:00Z", 0, 10.0, np.nan, np.nan, "N3", "UA"),  # diverted
        ("2013-01-01T11:00Z", 0, 0.0, 60.0, 1.0, None, "UA"),  # no aircraft to key it by
    )
    stream = outcome_stream(flights, frame)
    assert stream["tailnum"].tolist() == ["N1", "N1"]
    assert stream["previous_arr_delay"].tolist() == [-3.0, 5.0]
    assert stream[EVENT_TIMESTAMP].tolist() == [pd.Timestamp("2013-01-01T11:30Z"), pd.Timestamp("2013-01-01T13:30Z")]
    assert (stream["previous_known_at"] == stream[EVENT_TIMESTAMP]).all()


def test_trailing_rates_count_only_outcomes_known_before_midnight(flights):
    frame = schedule(
        ("2013-01-01T10:00Z", 0, 0.0, 60.0, 30.0, "N1", "UA"),  # late, known 11:30 on the 1st
        ("2013-01-01T22:00Z", 0, 60.0, 60.0, 70.0, "N2", "UA"),  # late, known 00:30 on the 2nd
        ("2013-01-02T10:00Z", 0, 0.0, 60.0, 0.0, "N1", "UA"),  # on time, known on the 2nd
        ("2013-01-02T10:00Z", 0, np.nan, np.nan, np.nan, "N3", "UA"),  # cancelled: late
    )
    rates = trailing_rates(flights, frame, "carrier", ["carrier"]).set_index(EVENT_TIMESTAMP)
    assert rates.loc[pd.Timestamp("2013-01-02", tz="UTC"), ["carrier_late_rate", "carrier_events"]].tolist() == [1, 1]
    assert rates.loc[pd.Timestamp("2013-01-03", tz="UTC"), "carrier_events"] == 4
    assert rates.loc[pd.Timestamp("2013-01-03", tz="UTC"), "carrier_late_rate"] == 0.75
    # 28 days on, the first day's outcome has left the window; the last row is the last day it holds any
    assert rates.loc[pd.Timestamp("2013-01-29", tz="UTC"), "carrier_events"] == 4
    assert rates.loc[pd.Timestamp("2013-01-30", tz="UTC"), "carrier_events"] == 3
    assert rates.index.max() == pd.Timestamp("2013-01-30", tz="UTC")
    assert pd.Timestamp("2013-01-01", tz="UTC") not in rates.index  # nothing known before the first day
