"""The replay's monitoring schedule: on local wall time, so a daily run judges a local day across
the changes of daylight saving time (2013: 10 March, 3 November in New York)."""

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from loopline.replay.run import monitor_times

ZONE = "America/New_York"


@given(first=st.integers(0, 360), days=st.integers(1, 40), hours=st.sampled_from([1, 2, 3, 4, 6, 8, 12, 24]))
def test_runs_fall_on_the_same_local_hours_whatever_daylight_saving_does(first, days, hours):
    start = pd.Timestamp("2013-01-01", tz=ZONE) + pd.DateOffset(days=first)
    end = start + pd.DateOffset(days=days)
    marks = monitor_times(start, end, hours, ZONE)
    assert len(marks) == days * 24 // hours and marks[-1] == end
    for mark in marks:
        assert start < mark <= end
        local = mark.tz_convert(ZONE)  # 2:00 on 10 March does not exist: that run is at 3:00
        assert local.minute == 0 and (local.hour % hours == 0 or (local.hour, local.month) == (3, 3))


def test_a_daily_run_stays_at_midnight_across_the_autumn_change():
    start = pd.Timestamp("2013-11-01", tz=ZONE)
    marks = monitor_times(start, start + pd.DateOffset(days=4), 24, ZONE)
    assert [m.tz_convert(ZONE).hour for m in marks] == [0, 0, 0, 0]
    hours = [(b - a) / pd.Timedelta(hours=1) for a, b in zip([start, *marks[:-1]], marks, strict=True)]
    assert hours == [24, 24, 25, 24]
