import math
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from loopline.errors import DataError
from loopline.model_io import make_features, request_features
from loopline.steps.transform import transform

WEATHER_PLANE = [
    "temp",
    "dewp",
    "humid",
    "wind_dir",
    "wind_speed",
    "wind_gust",
    "precip",
    "pressure",
    "visib",
    "plane_year",
    "plane_engines",
    "plane_seats",
]
HISTORY = ["previous_arr_delay", "route_late_rate", "route_events", "carrier_late_rate", "carrier_events"]
HISTORY += ["recent_departures", "recent_mean_delay", "scheduled_departures"]


def rows(**overrides):
    """Two rows as the feature service returns them."""
    base = {
        "time_hour": pd.to_datetime(["2013-01-01T10:00:00Z", "2013-07-04T22:00:00Z"], utc=True),
        "carrier": pd.array(["UA", None], dtype="string"),
        "origin": ["EWR", "JFK"],
        "dest": ["IAH", "LAX"],
        "plane_manufacturer": pd.array([None, "BOEING"], dtype="string"),
        "distance": [1400.0, 2475.0],
        "hour": [5, 18],
        "weekday": [1, 3],
        "month": [1, 7],
        "hours_since_previous": [2.5, np.nan],
        "late": [0, 1],
    }
    base |= {c: [1.0, np.nan] for c in WEATHER_PLANE + HISTORY}
    return pd.DataFrame(base | overrides)


def test_time_parts_are_local_to_the_zone_and_the_previous_leg_is_aged(flights):
    stamps = pd.to_datetime(["2013-01-01T10:00:00Z", "2013-07-04T22:00:00Z", "2013-03-10T12:00:00Z"], utc=True)
    previous = pd.to_datetime(["2013-01-01T07:30:00Z", None, "2013-03-09T12:00:00Z"], utc=True)
    rows = pd.DataFrame({"time_hour": stamps, "minute": [45, 0, 0], "previous_known_at": previous})
    out = pd.DataFrame(request_features(rows, flights))
    # 10:00 UTC in January is 05:00 in New York (EST); 22:00 UTC on 4 July is 18:00 (EDT).
    assert out["hour"].tolist() == [5, 18, 8]
    assert out["weekday"].tolist() == [1, 3, 6]  # Tuesday, Thursday, Sunday
    assert out["month"].tolist() == [1, 7, 3]
    # the departure is at the scheduled minute: 10:45 is 3.25 hours after 07:30
    assert out["hours_since_previous"].iloc[0] == 3.25 and np.isnan(out["hours_since_previous"].iloc[1])
    assert out["hours_since_previous"].iloc[2] == 24.0  # elapsed hours, across the DST change


def test_request_features_take_columns_as_feast_python_mode_gives_them(flights):
    """Lists of datetimes (naive ones are UTC) with None where the store has no previous leg."""
    columns = {
        "time_hour": [datetime(2013, 1, 1, 10), datetime(2013, 7, 4, 22, tzinfo=UTC)],
        "minute": [45, None],
        "previous_known_at": [datetime(2013, 1, 1, 7, 30, tzinfo=UTC), None],
    }
    out = request_features(columns, flights)
    assert (out["hour"], out["weekday"], out["month"]) == ([5, 18], [1, 3], [1, 7])
    assert out["hours_since_previous"][0] == 3.25 and math.isnan(out["hours_since_previous"][1])


def test_features_are_exactly_the_configured_ones_with_missing_values_kept_visible(flights):
    features = make_features(rows(), flights)
    assert list(features.columns) == flights.feature_names
    assert features["carrier"].tolist() == ["UA", ""]
    assert features["plane_manufacturer"].tolist() == ["", "BOEING"]
    assert features["temp"].dtype == np.float32 and np.isnan(features["temp"].iloc[1])
    assert features["hour"].dtype == np.int64 and features["hour"].tolist() == [5, 18]
    assert "late" not in features


def test_missing_and_mistyped_values_become_the_models_missing_inputs(flights):
    """As the online store may return them: object columns holding None, NaN or text."""
    features = make_features(
        rows(dest=["IAH", None], carrier=[np.nan, "AA"], temp=["3.5", "n/a"], plane_year=pd.array([2004, None])),
        flights,
    )
    assert features["dest"].tolist() == ["IAH", ""] and features["carrier"].tolist() == ["", "AA"]
    assert features["temp"].iloc[0] == np.float32(3.5) and np.isnan(features["temp"].iloc[1])
    assert features["plane_year"].iloc[0] == 2004 and np.isnan(features["plane_year"].iloc[1])
    assert {features[c].dtype for c in flights.features.numeric} == {np.dtype("float32")}


def test_transform_adds_the_label(flights):
    assert transform(rows(), flights)["late"].tolist() == [0, 1]


def test_a_missing_feature_column_is_named(flights):
    with pytest.raises(DataError, match="distance"):
        make_features(rows().drop(columns="distance"), flights)
