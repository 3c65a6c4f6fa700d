"""Feast guarantees on the real flight features, on SQLite and on Redis (+ a PostgreSQL registry)."""

import math
import shutil
from pathlib import Path

import pandas as pd
import pytest

from loopline.config import load_config
from loopline.errors import LooplineError
from loopline.events import event_time, read_events
from loopline.features.history import EVENT_TIMESTAMP, known_at, live_stream, outcome_stream
from loopline.features.store import (
    DEPARTURES,
    OUTCOMES,
    STATIC_SINCE,
    copy_repo,
    feature_store,
    load,
    materialize,
    online_horizon,
    replay,
    streams,
    training_set,
    zones,
)
from loopline.model_io import make_features
from tests.conftest import END, REPO

pytestmark = pytest.mark.slow

WEATHER = ["temp", "dewp", "humid", "wind_dir", "wind_speed", "wind_gust", "precip", "pressure", "visib"]
PLANE = ["plane_year", "plane_type", "plane_manufacturer", "plane_engines", "plane_seats"]
HISTORY = ["previous_arr_delay", "route_late_rate", "route_events", "carrier_late_rate", "carrier_events"]
HISTORY += ["recent_departures", "recent_mean_delay", "scheduled_departures"]
REQUEST = ["hour", "weekday", "month", "hours_since_previous"]
SERVED = WEATHER + PLANE + HISTORY + REQUEST + ["distance"]
KEYS = ["origin", "dest", "carrier", "tailnum"]


def store_of(repo):
    folder, yaml = repo
    return feature_store(str(folder), yaml)


def historical(store, rows: pd.DataFrame) -> pd.DataFrame:
    """Point-in-time values as of each row's scheduled departure (time_hour + minute)."""
    service = store.get_feature_service("flight_delay")
    entity_df = rows.assign(event_timestamp=event_time(rows, load_config("flights")))
    return store.get_historical_features(entity_df=entity_df, features=service).to_df()


def online(store, rows: list[dict]) -> dict:
    service = store.get_feature_service("flight_delay")
    return store.get_online_features(features=service, entity_rows=rows).to_dict()


def flight(tailnum="N14228", origin="EWR", dest="IAH", carrier="UA", at=END) -> dict:
    """A request for a flight scheduled to leave at `at` (a whole minute)."""
    hour = at.floor("h")
    keys = {"origin": origin, "dest": dest, "carrier": carrier, "tailnum": tailnum}
    return keys | {"time_hour": hour, "minute": int((at - hour).total_seconds() // 60)}


def same(a, b) -> bool:
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or (isinstance(b, float) and math.isnan(b))
    return a == pytest.approx(b) if isinstance(a, float) else a == b


def test_every_configured_feature_comes_with_the_event_or_from_the_service(sqlite_repo):
    """The request's own columns (carrier, route, time) come with it; the rest, distance included, is served."""
    config = load_config("flights")
    store = store_of(sqlite_repo)
    service = store.get_feature_service(config.features.service)
    served = {feature.name for projection in service.feature_view_projections for feature in projection.features}
    requested = set(config.source.columns) - set(config.served_attributes)
    assert set(config.feature_names) - requested == served - {"plane_type", "previous_known_at"}
    assert not served & requested and "distance" in served
    request = store.get_on_demand_feature_view("departure").source_request_sources["scheduled_departure"]
    assert [field.name for field in request.schema] == [config.source.timestamp, config.source.minute]


def test_an_hours_weather_joins_only_once_its_last_report_is_in(sqlite_repo, source):
    """The row stamped 14:00 summarises reports up to 14:51: a departure at 14:05 or 14:50 sees
    the 13:00 row, one at 14:51 the 14:00 row."""
    weather = pd.read_parquet(f"{source}/weather.parquet").set_index(["origin", "time_hour"])
    ewr = weather.loc["EWR", "temp"]
    hours = ewr.index[(ewr.index >= "2013-01-15") & (ewr.diff() != 0)]
    hour = next(h for h in hours if h - pd.Timedelta(hours=1) in ewr.index)  # the temperature changed at `hour`
    minutes = [5, 50, 51]
    rows = pd.DataFrame([flight(at=hour + pd.Timedelta(minutes=m)) for m in minutes])
    joined = historical(store_of(sqlite_repo), rows).sort_values("minute")
    previous, current = weather.loc[("EWR", hour - pd.Timedelta(hours=1)), "temp"], weather.loc[("EWR", hour), "temp"]
    assert joined["temp"].tolist() == pytest.approx([previous, previous, current])
    assert previous != current


def test_a_previous_leg_joins_only_once_it_has_landed(sqlite_repo, source):
    """The pushed stream, read back point in time: a leg not at the gate at the departure never joins."""
    stream = pd.read_parquet(f"{sqlite_repo[0]}/data/{OUTCOMES}.parquet").sort_values(EVENT_TIMESTAMP)
    legs = stream[stream.tailnum == stream.tailnum.iloc[len(stream) // 2]]
    first, second = legs.iloc[0], legs.iloc[1]
    landed = second[EVENT_TIMESTAMP]
    rows = pd.DataFrame(
        [flight(second.tailnum, at=landed - pd.Timedelta(minutes=1)), flight(second.tailnum, at=landed)]
    )
    joined = historical(store_of(sqlite_repo), rows).sort_values(["time_hour", "minute"])
    assert joined["previous_arr_delay"].tolist() == [first.previous_arr_delay, second.previous_arr_delay]
    assert joined["hours_since_previous"].iloc[1] == 0.0
    config = load_config("flights")
    every = outcome_stream(config, read_events(config, source), zones(config, source))
    assert len(stream) == (every[EVENT_TIMESTAMP] <= END).sum()  # all pushed up to END, none after


def test_a_leg_still_flying_at_the_next_departure_does_not_join_it(sqlite_repo, source):
    """January flights whose aircraft's previous leg reaches the gate after their scheduled
    departure (late inbound aircraft): each joins the leg before that one, as a merge of the
    arrivals in pandas says."""
    config = load_config("flights")
    events = read_events(config, source)
    events = events[events.time_hour < END].dropna(subset=["tailnum"]).assign(departs=lambda f: event_time(f, config))
    events = events.assign(arrives=known_at(events, config, zones(config, source))).sort_values("departs")
    before = events.groupby("tailnum")["arrives"].shift()  # the aircraft's previous leg's arrival
    late_inbound = events[before > events["departs"]].head(40)
    assert len(late_inbound) >= 3
    joined = training_set(
        config, late_inbound.drop(columns=["departs", "arrives"]), str(sqlite_repo[0]), sqlite_repo[1]
    )
    arrivals = events.dropna(subset=["arrives"]).sort_values("arrives")[["tailnum", "arrives", "arr_delay"]]
    expected = pd.merge_asof(
        late_inbound.sort_values("departs"),
        arrivals,
        left_on="departs",
        right_on="arrives",
        by="tailnum",
        suffixes=("", "_previous"),
        allow_exact_matches=True,
    ).set_index(["tailnum", "departs"])
    for row, got in zip(late_inbound.itertuples(), joined.itertuples(), strict=True):
        want = expected.loc[(row.tailnum, row.departs)]
        assert pd.isna(got.previous_known_at) or got.previous_known_at <= row.departs
        assert same(want["arr_delay_previous"], got.previous_arr_delay), (row.tailnum, row.departs)


def test_the_airport_state_joins_as_it_was_at_the_departure(sqlite_repo, source):
    """A departure at the minute the origin's state changes sees the new state; a minute before, the old."""
    config = load_config("flights")
    state = live_stream(config, read_events(config, source))
    ewr = state[(state.origin == "EWR") & (state[EVENT_TIMESTAMP] > "2013-01-20")].reset_index(drop=True)
    change = ewr.index[ewr["recent_departures"].diff().fillna(0) != 0][0]
    at = ewr.loc[change, EVENT_TIMESTAMP]
    rows = pd.DataFrame([flight(at=at - pd.Timedelta(minutes=1)), flight(at=at)])
    joined = historical(store_of(sqlite_repo), rows).sort_values(["time_hour", "minute"])
    assert joined["recent_departures"].tolist() == [
        ewr.loc[change - 1, "recent_departures"],
        ewr.loc[change, "recent_departures"],
    ]
    assert joined["scheduled_departures"].notna().all()
    pushed = pd.read_parquet(f"{sqlite_repo[0]}/data/{DEPARTURES}.parquet")
    assert len(pushed) == (state[EVENT_TIMESTAMP] <= END).sum()


def test_every_entity_row_comes_back_even_when_rows_share_keys_and_time(sqlite_repo):
    hour = pd.Timestamp("2013-01-10T14:00:00Z")
    rows = pd.DataFrame([flight("N14228", at=hour), flight("N24211", at=hour), flight("N14228", at=hour)])
    rows["flight"] = [1, 2, 3]
    joined = historical(store_of(sqlite_repo), rows)
    assert sorted(joined["flight"]) == [1, 2, 3]
    assert joined.set_index("flight").loc[2, "plane_year"] == 1998.0


def test_offline_and_online_agree_after_materialization(repo, source):
    store = store_of(repo)
    flights = pd.read_parquet(f"{source}/flights.parquet")
    sample = flights[flights.tailnum.notna() & (flights.time_hour < END)].sample(40, random_state=3)
    rows = sample[KEYS].drop_duplicates().assign(time_hour=END, minute=0)  # values stamped at END included
    offline = historical(store, rows)
    live = online(store, rows.to_dict("records"))
    assert pd.notna(offline["previous_arr_delay"]).sum() > 30 and pd.notna(offline["route_late_rate"]).all()
    for i, keys in enumerate(zip(*(live[k] for k in KEYS), strict=True)):
        expected = offline[(offline[KEYS] == keys).all(axis=1)].iloc[0]
        for name in SERVED:
            assert same(expected[name] if not pd.isna(expected[name]) else None, live[name][i]), (name, keys)


def test_sqlite_and_redis_return_the_same_values(sqlite_repo, redis_repo):
    rows = [flight("N14228"), flight("N24211", "JFK", "MIA", "AA"), flight("N619AA", "LGA", "ATL", "DL")]
    a, b = online(store_of(sqlite_repo), rows), online(store_of(redis_repo), rows)
    for name in SERVED:
        assert all(same(x, y) for x, y in zip(a[name], b[name], strict=True)), name


def test_materializing_and_replaying_again_changes_nothing(repo, source):
    store = store_of(repo)
    rows = [flight("N24211", "JFK", "MIA", "AA"), flight("N619AA", "LGA", "ATL", "DL")]
    before = online(store, rows)
    outcomes = f"{repo[0]}/data/{OUTCOMES}.parquet"
    pushed = pd.read_parquet(outcomes)
    materialize(str(repo[0]), END, start=STATIC_SINCE, fs_yaml_file=repo[1])
    config = load_config("flights")
    pushes = streams(config, read_events(config, source), zones(config, source))
    assert replay(pushes, str(repo[0]), END, repo[1]) == {OUTCOMES: 0, DEPARTURES: 0}  # nothing new to push
    assert online(store_of(repo), rows) == before
    assert pd.read_parquet(outcomes).equals(pushed)


def test_an_unknown_aircraft_and_route_get_missing_values_the_model_takes(repo):
    live = online(store_of(repo), [flight("N0NEW", dest="ZZZ")])
    unknown = PLANE + ["previous_arr_delay", "hours_since_previous", "route_late_rate", "route_events", "distance"]
    assert all(live[name] == [None] for name in unknown)
    assert live["temp"][0] is not None and live["carrier_late_rate"][0] is not None
    assert live["hour"] == [19]  # midnight UTC is 19:00 in New York
    features = make_features(pd.DataFrame(live), load_config("flights"))
    assert features["plane_manufacturer"].tolist() == [""] and math.isnan(features["plane_year"].iloc[0])
    assert math.isnan(features["previous_arr_delay"].iloc[0]) and math.isnan(features["route_late_rate"].iloc[0])


def test_a_folder_that_is_no_feature_repository_is_named_and_left_alone(source, tmp_path):
    with pytest.raises(LooplineError, match=f"{tmp_path}/nope is not a Feast repository"):
        load(load_config("flights"), source, str(tmp_path / "nope"), END)
    assert not (tmp_path / "nope").exists()


def test_pushing_before_feast_apply_says_so(source, tmp_path):
    folder = copy_repo(REPO, tmp_path / "repo", "loopline_unapplied")
    with pytest.raises(LooplineError, match="run `feast apply` there first"):
        config = load_config("flights")
        replay(streams(config, read_events(config, source), zones(config, source)), str(folder), END)


def test_a_step_loads_the_views_with_new_rows_and_records_the_others_as_loaded(sqlite_repo, source, tmp_path):
    """An hourly load: every batch view counts as loaded up to the step's end (the online horizon),
    and the online values are those of one load up to that end."""
    config = load_config("flights")
    folder = copy_repo(REPO, tmp_path / "repo", "loopline_steps")
    earlier = END - pd.Timedelta(hours=5)
    load(config, source, str(folder), earlier)
    windows = materialize(str(folder), END, check_lost=False)
    store = feature_store(str(folder))
    assert online_horizon(store) == END
    assert set(windows.values()) == {(earlier.isoformat(), END.isoformat())} and len(windows) == 6
    at = END - pd.Timedelta(hours=2)  # its weather hour came in during the step
    rows = [flight("N14228", at=at), flight("N24211", "JFK", "MIA", "AA", at), flight("N619AA", "LGA", "ATL", "DL", at)]
    loaded_at_once = online(store_of(sqlite_repo), rows)
    stepped = online(store, rows)
    batch = WEATHER + PLANE + ["distance", "route_late_rate", "carrier_late_rate", "scheduled_departures"]
    for name in batch:
        assert all(same(x, y) for x, y in zip(loaded_at_once[name], stepped[name], strict=True)), name
    assert None not in stepped["temp"]
    for hour in range(1, 6):  # more steps: the earlier loads' intervals merged, not one per load kept
        materialize(str(folder), END + pd.Timedelta(hours=hour), check_lost=False)
    views = feature_store(str(folder)).list_feature_views()
    assert max(len(view.materialization_intervals) for view in views if view.name in windows) <= 2  # + the last
    assert online_horizon(feature_store(str(folder))) == END + pd.Timedelta(hours=5)


def test_a_store_loaded_from_the_same_source_is_not_loaded_again(source, tmp_path):
    """A load to an end the store already holds, from the same source, writes nothing; a later
    end or a changed source loads again."""
    config = load_config("flights")
    folder = str(copy_repo(REPO, tmp_path / "repo", "loopline_loaded"))
    earlier = END - pd.Timedelta(days=1)
    rows = load(config, source, folder, END)
    tables = {path: path.stat().st_mtime_ns for path in Path(folder, "data").glob("*.parquet")}
    assert rows[OUTCOMES] > 0 and load(config, source, folder, earlier) == rows | {OUTCOMES: 0, DEPARTURES: 0}
    assert {path: path.stat().st_mtime_ns for path in tables} == tables
    changed = shutil.copytree(source, tmp_path / "source")
    planes = pd.read_parquet(changed / "planes.parquet")
    planes.assign(seats=planes["seats"] + 1).to_parquet(changed / "planes.parquet", index=False)
    load(config, str(changed), folder, earlier)
    written = pd.read_parquet(Path(folder, "data", "planes.parquet"))
    assert written["plane_seats"].sum() == pytest.approx((planes["seats"] + 1).sum())
