"""The window a pipeline run covers: as given by hand or by the replay, or, for a recurring run
that leaves it empty, from the time it runs."""

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopline.config import load_config
from loopline.errors import DataError
from loopline.events import parse_date
from loopline.windows import PIPELINES, Window, run_window, training_window

CONFIG = load_config("flights")
ZONE = CONFIG.source.timezone
NOW = pd.Timestamp("2013-07-15 03:00", tz="UTC")  # 23:00 on 14 July in New York


def test_a_given_window_is_kept():
    assert run_window(CONFIG, "training", "2013-01-01", "2013-04-01", NOW) == Window("2013-01-01", "2013-04-01")
    assert run_window(CONFIG, "features", "", "2013-04-01", NOW).end == "2013-04-01"
    assert run_window(CONFIG, "monitoring", "2013-04-01", "2013-04-02", NOW).start == "2013-04-01"


def test_a_recurring_run_takes_its_window_from_the_time_it_runs():
    policy = CONFIG.monitoring.policy
    training = run_window(CONFIG, "training", "", "", NOW)
    end = pd.Timestamp("2013-07-14") - pd.Timedelta(days=policy.label_delay_days)  # the local day, less the delay
    assert training.end == end.date().isoformat()
    assert training.start == (end - pd.Timedelta(days=policy.training_days)).date().isoformat()
    assert run_window(CONFIG, "monitoring", "", "", NOW) == Window("2013-07-13", "2013-07-14")  # yesterday, locally
    assert run_window(CONFIG, "features", "", "", NOW).end == "2013-07-15T03:00:00+00:00"


@pytest.mark.parametrize(
    "pipeline, start, end, message",
    [
        ("training", "2013-04-01", "2013-01-01", "start 2013-04-01 is not before end 2013-01-01"),
        ("monitoring", "", "2013-04-02", "start is empty: with end 2013-04-02 given, give start too"),
        ("training", "2013-01-01", "April", "end 'April' is not a date"),
        ("serving", "", "", "pipeline 'serving' is not one of training, features, monitoring"),
    ],
)
def test_a_bad_window_is_named(pipeline, start, end, message):
    with pytest.raises(DataError, match=message):
        run_window(CONFIG, pipeline, start, end, NOW)


@given(
    st.datetimes(
        min_value=pd.Timestamp("2000-01-01").to_pydatetime(), max_value=pd.Timestamp("2040-01-01").to_pydatetime()
    ),
    st.sampled_from(PIPELINES),
)
def test_any_run_time_gives_a_window_that_ends_by_then(moment, pipeline):
    now = pd.Timestamp(moment, tz="UTC")
    window = run_window(CONFIG, pipeline, "", "", now)
    end = parse_date(window.end, "end", ZONE)
    assert end <= now
    if window.start:
        assert parse_date(window.start, "start", ZONE) < end
    if pipeline == "training":
        assert (window.start, window.end) == tuple(day.isoformat() for day in training_window(CONFIG, now))
