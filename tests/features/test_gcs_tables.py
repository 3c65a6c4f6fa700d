"""The offline tables on gs:// (gcp-storage-emulator): written, read by Feast's DuckDB offline
store and materialized with no local copy, giving what the local tables give."""

import pandas as pd
import pytest

from loopline import storage
from loopline.features.store import OUTCOMES, STATIC_SINCE, feature_store, materialize
from tests.conftest import END
from tests.features.test_feature_store import KEYS, SERVED, flight, historical, online, same, store_of

pytestmark = pytest.mark.slow


def test_the_tables_live_in_the_bucket_and_nowhere_else(gcs_repo, sqlite_repo):
    folder, _, prefix = gcs_repo
    local = {p.name for p in (folder / "data").iterdir()}
    assert not [name for name in local if name.endswith(".parquet")], local
    expected = sorted(p.name for p in (sqlite_repo[0] / "data").glob("*.parquet"))
    assert storage.list_dir(prefix) == expected
    views = feature_store(str(folder), gcs_repo[1]).list_data_sources()
    assert {s.path for s in views if hasattr(s, "path")} == {storage.join(prefix, name) for name in expected}
    assert len(storage.read_frame(storage.join(prefix, f"{OUTCOMES}.parquet"))) > 10_000  # the stream, pushed


def test_a_training_set_from_the_bucket_is_the_local_one(gcs_repo, sqlite_repo, source):
    flights = pd.read_parquet(f"{source}/flights.parquet")
    rows = flights[flights.tailnum.notna() & (flights.time_hour < END)].sample(60, random_state=5)
    rows = rows[[*KEYS, "time_hour", "minute"]]
    remote = historical(store_of(gcs_repo[:2]), rows).sort_values([*KEYS, "time_hour"]).reset_index(drop=True)
    local = historical(store_of(sqlite_repo), rows).sort_values([*KEYS, "time_hour"]).reset_index(drop=True)
    assert remote[SERVED].notna().sum().sum() > 1_000
    pd.testing.assert_frame_equal(remote[SERVED], local[SERVED])


def test_the_online_store_is_loaded_from_the_bucket(gcs_repo, sqlite_repo):
    rows = [flight("N14228"), flight("N24211", "JFK", "MIA", "AA"), flight("N619AA", "LGA", "ATL", "DL")]
    materialize(str(gcs_repo[0]), END, start=STATIC_SINCE, fs_yaml_file=gcs_repo[1])  # every table read again
    a, b = online(store_of(gcs_repo[:2]), rows), online(store_of(sqlite_repo), rows)
    assert sum(v is not None for name in SERVED for v in a[name]) > 40
    for name in SERVED:
        assert all(same(x, y) for x, y in zip(a[name], b[name], strict=True)), name
