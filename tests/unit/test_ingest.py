import shutil

import pandas as pd
import pytest

from loopline import storage
from loopline.config import load_config
from loopline.datasets import export_nycflights13
from loopline.errors import DataError
from loopline.steps.ingest import ingest


def run(config, source, tmp_path, start="2013-01-01", end="2013-01-15"):
    summary = ingest(config, source, start, end, str(tmp_path / "train.parquet"), str(tmp_path / "eval.parquet"))
    return summary, pd.read_parquet(tmp_path / "train.parquet"), pd.read_parquet(tmp_path / "eval.parquet")


def test_window_split_by_local_days_and_counts(source, small_config, tmp_path):
    summary, train, evals = run(load_config(small_config), source, tmp_path)
    flights = pd.read_parquet(f"{source}/flights.parquet")
    local = flights.time_hour.dt.tz_convert("America/New_York")  # a window's days are the source's days
    in_window = flights[(local >= "2013-01-01") & (local < "2013-01-15")]
    assert summary.train_rows + summary.eval_rows == len(in_window) == len(train) + len(evals)
    evening = in_window[local[in_window.index].dt.date.astype(str) == "2013-01-14"]
    assert (evening.time_hour >= pd.Timestamp("2013-01-15", tz="UTC")).any()  # New York's evening: UTC's next day
    eval_start = pd.Timestamp("2013-01-08", tz="America/New_York")
    assert train.time_hour.max() < eval_start <= evals.time_hour.min()
    assert summary.eval_start == "2013-01-08T00:00:00-05:00"


@pytest.mark.parametrize("start", ["now", "2013/01/01", "20130101", "2013-1-1", "2013-01-01T00:00"])
def test_a_window_takes_iso_dates_only(source, small_config, tmp_path, start):
    with pytest.raises(DataError, match=f"start {start!r} is not a date like 2013-01-31"):
        run(load_config(small_config), source, tmp_path, start=start)


def test_label_counts_late_and_cancelled_flights_as_late(source, small_config, tmp_path):
    _, train, _ = run(load_config(small_config), source, tmp_path)
    assert (train.loc[train.arr_delay >= 15, "late"] == 1).all()
    assert (train.loc[train.arr_delay < 15, "late"] == 0).all()
    cancelled = train.arr_delay.isna()
    assert cancelled.any() and (train.loc[cancelled, "late"] == 1).all()


def test_only_the_event_tables_configured_columns_come_through(source, small_config, tmp_path):
    config = load_config(small_config)
    _, train, _ = run(config, source, tmp_path)
    assert set(train.columns) == set(config.source.columns) | {"late"}  # context joins in the feature store


@pytest.fixture
def broken_source(source, tmp_path):
    """A copy of the source whose flights table the test then spoils."""
    folder = tmp_path / "broken"
    folder.mkdir()
    for table in ("flights", "weather", "planes"):
        shutil.copy(f"{source}/{table}.parquet", folder)
    return folder


def spoil(folder, change):
    flights = pd.read_parquet(folder / "flights.parquet")
    change(flights).to_parquet(folder / "flights.parquet")


def test_a_missing_column_is_named(broken_source, small_config, tmp_path):
    spoil(broken_source, lambda f: f.drop(columns="distance"))
    with pytest.raises(DataError, match=r"flights\.parquet: missing column\(s\) distance"):
        run(load_config(small_config), str(broken_source), tmp_path)


def test_a_column_of_strings_is_named(broken_source, small_config, tmp_path):
    spoil(broken_source, lambda f: f.assign(distance=f.distance.astype(str).str.cat(["mi"] * len(f))))
    with pytest.raises(DataError, match="column 'distance' should be float, found '1400mi'"):
        run(load_config(small_config), str(broken_source), tmp_path)


def test_empty_window_missing_table_and_bad_dates(source, small_config, tmp_path):
    config = load_config(small_config)
    with pytest.raises(DataError, match="no events in the window"):
        run(config, source, tmp_path, "2015-01-01", "2015-02-01")
    with pytest.raises(DataError, match="has no table 'flights'"):
        run(config, str(tmp_path), tmp_path)
    with pytest.raises(DataError, match=r"window \[2013-01-01, 2013-02-30\): end '2013-02-30' is not a date"):
        run(config, source, tmp_path, "2013-01-01", "2013-02-30")
    with pytest.raises(DataError, match="start must come before end"):
        run(config, source, tmp_path, "2013-02-01", "2013-01-01")
    with pytest.raises(DataError, match="the train split .* is empty"):
        run(config, source, tmp_path, "2013-01-01", "2013-01-03")


def test_a_gcs_source_reads_like_a_local_one(gcs_bucket, small_config, tmp_path, source):
    bucket_source = f"{gcs_bucket}/sources/nycflights13"
    export_nycflights13(bucket_source)
    assert "flights.parquet" in storage.list_dir(bucket_source)
    config = load_config(small_config)
    (tmp_path / "remote").mkdir()
    remote, _, _ = run(config, bucket_source, tmp_path / "remote")
    local, _, _ = run(config, source, tmp_path)
    assert remote == local
