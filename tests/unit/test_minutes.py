"""`events.minutes`: numbers of minutes as durations, as pandas gives them, without its slow path."""

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from loopline.events import minutes

whole = st.integers(-(10**7), 10**7).map(float)


@given(st.lists(st.one_of(whole, st.just(np.nan)), max_size=50), st.sampled_from(["float64", "Float64", "Int64"]))
def test_whole_minutes_and_missing_ones_are_what_pandas_gives(values, dtype):
    if dtype == "Int64":
        series = pd.Series(values, dtype="float64").astype("Int64")
    else:
        series = pd.Series(values, dtype=dtype)
    expected = pd.to_timedelta(series.astype("float64"), unit="min")
    pd.testing.assert_series_equal(minutes(series), expected, check_names=False)


def test_the_index_and_name_are_kept():
    series = pd.Series([1.5, np.nan], index=[7, 3], name="delay")
    got = minutes(series)
    assert got.index.tolist() == [7, 3] and got.name == "delay"
    assert got.iloc[0] == pd.Timedelta(seconds=90) and got.isna().iloc[1]
