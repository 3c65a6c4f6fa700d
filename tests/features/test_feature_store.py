"""Feast guarantees on the real flight features, on SQLite and on Redis (+ a PostgreSQL registry)."""

import math

import pandas as pd
import pytest

from components.config import load_config
from components.features import STATIC_SINCE, feature_store, materialize
from components.transform import make_features
from tests.features.conftest import END

pytestmark = pytest.mark.slow

WEATHER = ["temp", "dewp", "humid", "wind_dir", "wind_speed", "wind_gust", "precip", "pressure", "visib"]
PLANE = ["plane_year", "plane_type", "plane_manufacturer", "plane_engines", "plane_seats"]


def store_of(repo):
    folder, yaml = repo
    return feature_store(str(folder), yaml)


def historical(store, rows: pd.DataFrame) -> pd.DataFrame:
    service = store.get_feature_service("flight_delay")
    return store.get_historical_features(entity_df=rows, features=service).to_df()


def online(store, rows: list[dict]) -> dict:
    service = store.get_feature_service("flight_delay")
    return store.get_online_features(features=service, entity_rows=rows).to_dict()


def same(a, b) -> bool:
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or (isinstance(b, float) and math.isnan(b))
    return a == pytest.approx(b) if isinstance(a, float) else a == b


def test_no_value_stamped_after_the_event_joins(sqlite_repo, source):
    weather = pd.read_parquet(f"{source}/weather.parquet").set_index(["origin", "time_hour"])
    ewr = weather.loc["EWR", "temp"]
    hours = ewr.index[(ewr.index >= "2013-01-15") & (ewr.diff() != 0)]
    hour = next(h for h in hours if h - pd.Timedelta(hours=1) in ewr.index)  # the temperature changed at `hour`
    rows = pd.DataFrame(
        {
            "origin": ["EWR", "EWR"],
            "tailnum": ["N14228", "N14228"],
            "event_timestamp": [hour - pd.Timedelta(seconds=1), hour],
        }
    )
    joined = historical(store_of(sqlite_repo), rows).sort_values("event_timestamp")
    before, at = joined["temp"].tolist()
    assert before == pytest.approx(weather.loc[("EWR", hour - pd.Timedelta(hours=1)), "temp"])
    assert at == pytest.approx(weather.loc[("EWR", hour), "temp"])
    assert before != at


def test_every_entity_row_comes_back_even_when_rows_share_keys_and_time(sqlite_repo):
    hour = pd.Timestamp("2013-01-10T14:00:00Z")
    rows = pd.DataFrame(
        {
            "origin": ["EWR", "EWR", "EWR"],
            "tailnum": ["N14228", "N24211", "N14228"],
            "event_timestamp": [hour, hour, hour + pd.Timedelta(hours=1)],
            "flight": [1, 2, 3],
        }
    )
    joined = historical(store_of(sqlite_repo), rows)
    assert sorted(joined["flight"]) == [1, 2, 3]
    assert joined.set_index("flight").loc[2, "plane_year"] == 1998.0


def test_offline_and_online_agree_after_materialization(repo, source):
    store = store_of(repo)
    flights = pd.read_parquet(f"{source}/flights.parquet")
    sample = flights[flights.tailnum.notna()].sample(40, random_state=3)[["origin", "tailnum"]].drop_duplicates()
    rows = sample.assign(event_timestamp=END)  # materialization includes values stamped at its end
    offline = historical(store, rows)
    live = online(store, sample.to_dict("records"))
    for i, (origin, tailnum) in enumerate(zip(live["origin"], live["tailnum"], strict=True)):
        expected = offline[(offline.origin == origin) & (offline.tailnum == tailnum)].iloc[0]
        for name in WEATHER + PLANE:
            assert same(expected[name] if not pd.isna(expected[name]) else None, live[name][i]), (name, origin, tailnum)


def test_sqlite_and_redis_return_the_same_values(sqlite_repo, redis_repo):
    rows = [{"origin": o, "tailnum": t} for o, t in [("EWR", "N14228"), ("JFK", "N24211"), ("LGA", "N619AA")]]
    a, b = online(store_of(sqlite_repo), rows), online(store_of(redis_repo), rows)
    for name in WEATHER + PLANE:
        assert all(same(x, y) for x, y in zip(a[name], b[name], strict=True)), name


def test_materializing_again_changes_nothing(repo):
    store = store_of(repo)
    rows = [{"origin": "JFK", "tailnum": "N24211"}, {"origin": "LGA", "tailnum": "N619AA"}]
    before = online(store, rows)
    materialize(str(repo[0]), END, start=STATIC_SINCE, fs_yaml_file=repo[1])
    assert online(store_of(repo), rows) == before


def test_an_unknown_aircraft_gets_missing_values_the_model_takes(repo):
    live = online(store_of(repo), [{"origin": "EWR", "tailnum": "N0NEW"}])
    assert all(live[name] == [None] for name in PLANE) and live["temp"][0] is not None
    rows = pd.DataFrame(live).assign(
        carrier="UA", dest="IAH", distance=1400.0, time_hour=pd.Timestamp("2013-01-31T20:00:00Z")
    )
    features = make_features(rows, load_config("flights"))
    assert features["plane_manufacturer"].tolist() == [""] and math.isnan(features["plane_year"].iloc[0])
