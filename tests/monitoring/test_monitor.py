"""`loopline monitor` on a store filled by a running `loopline serve` with posted outcomes: the
figures equal a direct computation on the answers and outcomes the test sent."""

import json
import subprocess

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import log_loss, roc_auc_score

from loopline import registry
from loopline.config import load_config
from loopline.steps.push import reference_sample
from tests.conftest import LOOPLINE
from tests.serving.conftest import eventually, start

pytestmark = pytest.mark.slow


def flights(source: str, count: int) -> pd.DataFrame:
    """Flights of 20-27 January that arrived, one per flight key, drawn with a fixed seed."""
    table = pd.read_parquet(f"{source}/flights.parquet")
    table["departs"] = pd.to_datetime(table["time_hour"], utc=True) + pd.to_timedelta(table["minute"], unit="min")
    week = table[(table["departs"] >= "2013-01-20T05:00Z") & (table["departs"] < "2013-01-28T05:00Z")]
    week = week.dropna(subset=["arr_delay", "tailnum"]).drop_duplicates(["carrier", "flight", "origin", "time_hour"])
    return week.sample(n=count, random_state=7).reset_index(drop=True)


def monitor(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([LOOPLINE, "monitor", *args], capture_output=True, text=True, timeout=300)


def test_monitor_figures_equal_a_direct_computation_on_served_answers(
    source, served_repo, trained_model, examples, tmp_path, loopline_home
):
    registry_uri, url = str(tmp_path / "registry"), f"sqlite:///{tmp_path / 'predictions.db'}"
    reference = reference_sample(examples[0], load_config("flights"))
    registry.push(registry_uri, "flights", trained_model, {"metrics": {"auc": 0.7}}, None, reference=reference)
    sent = flights(source, 300)
    process, port, _ = start(tmp_path, registry_uri, served_repo, "--store-url", url, "--token", "t0ken")
    try:
        scores = []
        for batch in np.array_split(sent, 3):
            instances = [
                {k: row[k] for k in ("carrier", "origin", "dest", "tailnum")}
                | {"flight": int(row["flight"]), "scheduled_departure": row["departs"].isoformat()}
                for _, row in batch.iterrows()
            ]
            answer = httpx.post(f"http://127.0.0.1:{port}/v1/models/flights:predict", json={"instances": instances})
            scores += [p["probability"] for p in answer.json()["predictions"]]
        told = sent.head(200)  # outcomes of two thirds; the rest have not arrived
        outcomes = [
            {"carrier": r["carrier"], "flight": int(r["flight"]), "origin": r["origin"]}
            | {"scheduled_departure": r["departs"].isoformat(), "arr_delay": float(r["arr_delay"])}
            | {"arrived_at": (r["departs"] + pd.Timedelta(hours=4)).isoformat()}
            for _, r in told.iterrows()
        ]
        posted = httpx.post(
            f"http://127.0.0.1:{port}/v1/outcomes",
            json={"outcomes": outcomes},
            headers={"authorization": "Bearer t0ken"},
        )
        assert posted.json()["new"] == 200
        store = f"sqlite:///{tmp_path / 'predictions.db'}"
        assert eventually(lambda: len(pd.read_sql("select answer_id from predictions", store)) == 300)
    finally:
        process.terminate()
        process.wait(timeout=30)

    args = ["--start", "2013-01-20", "--end", "2013-01-28", "--store-url", url, "--registry", registry_uri]
    done = monitor(*args, "--as-of", "2013-01-29T00:00:00-05:00", "--json")  # every posted arrival is in
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    (group,) = result["groups"]
    late = (told["arr_delay"] >= 15).astype(int)
    assert group["role"] == "production" and group["version"] == "0001"
    assert group["predictions"] == 300 and group["labelled"] == 200 and group["coverage"] == pytest.approx(2 / 3)
    assert group["auc"] == pytest.approx(roc_auc_score(late, scores[:200]), abs=1e-9)  # the unlabelled excluded
    assert group["log_loss"] == pytest.approx(log_loss(late, scores[:200]), abs=1e-6)
    assert 0 <= group["drift_share"] <= 1 and group["evaluation_auc"] == 0.7
    assert result["policy"]["retrain"] is False and result["retrained"] is None  # no --retrain: nothing claimed
    (kept,) = registry.monitored_windows(registry_uri, "flights")  # what the policy reads back
    assert kept["groups"][0]["auc"] == group["auc"] and registry.last_retraining(registry_uri, "flights") is None
    report = open(result["report"]).read()
    assert "production 0001: drift" in report and "production 0001: quality" in report

    # a day's window: drift on that day's answers, quality on the two weeks up to its end
    day = ["--start", "2013-01-27", "--end", "2013-01-28", "--store-url", url, "--registry", registry_uri]
    one = json.loads(monitor(*day, "--as-of", "2013-01-29T00:00:00-05:00", "--json").stdout.splitlines()[-1])
    (daily,) = one["groups"]
    assert daily["predictions"] == (sent["departs"].dt.tz_convert("America/New_York").dt.day == 27).sum() < 300
    assert daily["labelled"] == 200 and daily["auc"] == group["auc"] and one["quality_start"].startswith("2013-01-14")

    # as of before any arrival: nothing is labelled, and nothing counts as a negative
    early = json.loads(monitor(*args, "--as-of", "2013-01-20T00:00:00-05:00", "--json").stdout.splitlines()[-1])
    assert early["groups"][0]["labelled"] == 0 and early["groups"][0]["auc"] is None
    assert (loopline_home / "monitoring" / "workspace").is_dir()


@pytest.mark.parametrize(
    "args, named",
    [
        (["--start", "2013/01/20", "--end", "2013-01-28"], "--start '2013/01/20' is not a date like 2013-01-31"),
        (["--start", "now", "--end", "2013-01-28"], "--start 'now' is not a date like 2013-01-31"),
        (["--start", "2013-01-28", "--end", "2013-01-20"], "must be after --start"),
        (["--start", "2013-01-20", "--end", "2013-01-28", "--as-of", "soon"], "--as-of 'soon' is not an ISO 8601"),
        (["--start", "2013-03-01", "--end", "2013-03-02"], "no predictions for departures"),
    ],
)
def test_monitor_refuses_bad_input_naming_it(args, named, tmp_path):
    done = monitor(*args, "--store-url", f"sqlite:///{tmp_path / 'empty.db'}", "--registry", str(tmp_path))
    assert done.returncode == 2 and named in done.stderr and "Traceback" not in done.stderr
