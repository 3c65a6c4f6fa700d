import re

import pytest
import yaml

from loopline.config import load_config
from loopline.errors import ConfigError
from tests.conftest import FLIGHTS_YAML, write_config


def test_packaged_flights_config_resolves_every_name(flights):
    assert flights.label.name == "late"
    assert "plane_year" in flights.raw_columns and flights.raw_columns["plane_year"] == "float"
    assert flights.feature_names[-3:] == ["hour", "weekday", "month"]


def test_post_departure_columns_are_never_features(flights):
    leaks = {"dep_time", "dep_delay", "arr_time", "air_time", "arr_delay", "sched_arr_time"}
    assert not leaks & set(flights.feature_names)
    # read only to time when other flights leave and arrive, for later flights' history
    arrival, live = flights.history.arrival, flights.history.live
    assert leaks & set(flights.raw_columns) <= {arrival.scheduled, arrival.delay, live.delay, flights.label.column}


HISTORY = yaml.safe_load(FLIGHTS_YAML.read_text())["history"]


@pytest.mark.parametrize(
    "change, named",
    [
        ({"labl": {}}, "labl"),
        ({"split": {"eval_dayz": 3}}, "split.eval_dayz"),
        ({"split": {"eval_days": 0}}, "split.eval_days"),
        ({"features": {"service": "flight_delay", "categorical": ["carier"]}}, "carier"),
        ({"evaluation": {"thresholds": {"auc_min": 1.5}}}, "evaluation.thresholds.auc_min"),
        ({"history": HISTORY | {"previous": "tailnumber"}}, "history.previous: 'tailnumber'"),
        (
            {"history": HISTORY | {"trailing": {"route": ["origin", "destination"], "carrier": ["carrier"]}}},
            "history.trailing[route]: 'destination'",
        ),
        ({"history": {"trailing_dayz": 7}}, "history.trailing_dayz"),
        ({"history": HISTORY | {"arrival": None}}, "previous and trailing need `arrival`"),
        (
            {"history": HISTORY | {"arrival": HISTORY["arrival"] | {"delay": "arrival_delay"}}},
            "history.arrival: 'arrival_delay'",
        ),
        ({"history": HISTORY | {"live": {"key": "airport", "delay": "dep_delay"}}}, "history.live: 'airport'"),
    ],
)
def test_a_bad_key_or_value_is_an_error_naming_it(tmp_path, change, named):
    with pytest.raises(ConfigError, match=re.escape(named)):
        load_config(write_config(tmp_path, **change))


def test_a_bad_timezone_is_named(tmp_path):
    source = yaml.safe_load(FLIGHTS_YAML.read_text())["source"] | {"timezone": "Mars/Olympus"}
    with pytest.raises(ConfigError, match="Mars/Olympus"):
        load_config(write_config(tmp_path, source=source))


def test_missing_file_unknown_name_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found: .*nope.yaml"):
        load_config(str(tmp_path / "nope.yaml"))
    with pytest.raises(ConfigError, match="no packaged config named 'trains'"):
        load_config("trains")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load_config(str(bad))


def test_a_drift_column_to_ignore_must_be_a_model_input(tmp_path):
    monitoring = {"drift": {"ignore": ["weekday", "wheather"]}}
    with pytest.raises(ConfigError, match="monitoring.drift.ignore: 'wheather' is not a model input"):
        load_config(write_config(tmp_path, monitoring=monitoring))
