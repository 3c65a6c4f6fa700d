import numpy as np
import pandas as pd
import pytest

from components.errors import DataError
from components.transform import make_features, transform


def rows(**overrides):
    base = {
        "time_hour": pd.to_datetime(["2013-01-01T10:00:00Z", "2013-07-04T22:00:00Z"], utc=True),
        "carrier": pd.array(["UA", None], dtype="string"),
        "origin": ["EWR", "JFK"],
        "dest": ["IAH", "LAX"],
        "plane_manufacturer": pd.array([None, "BOEING"], dtype="string"),
        "distance": [1400.0, 2475.0],
        "late": [0, 1],
    }
    numeric = [
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
    base |= {c: [1.0, np.nan] for c in numeric}
    return pd.DataFrame(base | overrides)


def test_time_features_are_local_to_the_configured_zone(flights):
    features = make_features(rows(), flights)
    # 10:00 UTC in January is 05:00 in New York (EST); 22:00 UTC on 4 July is 18:00 (EDT).
    assert features["hour"].tolist() == [5, 18]
    assert features["weekday"].tolist() == [1, 3]  # Tuesday, Thursday
    assert features["month"].tolist() == [1, 7]


def test_features_are_exactly_the_configured_ones_with_missing_values_kept_visible(flights):
    features = make_features(rows(), flights)
    assert list(features.columns) == flights.feature_names
    assert features["carrier"].tolist() == ["UA", ""]
    assert features["plane_manufacturer"].tolist() == ["", "BOEING"]
    assert features["temp"].dtype == np.float32 and np.isnan(features["temp"].iloc[1])
    assert "late" not in features


def test_transform_adds_the_label(flights):
    assert transform(rows(), flights)["late"].tolist() == [0, 1]


def test_a_missing_feature_column_is_named(flights):
    with pytest.raises(DataError, match="distance"):
        make_features(rows().drop(columns="distance"), flights)
