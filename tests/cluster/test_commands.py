"""`loopline submit`, `schedule` and `runs` against a stand-in for the KFP API server that records
what it was asked (no cluster runs here); the pipelines are compiled from this installation."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopline.cluster import Package, arguments, cron
from loopline.errors import LooplineError
from tests.cluster.fake_kfp import API, FakeKfp

LOOPLINE = str(Path(sys.executable).with_name("loopline"))


def loopline(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([LOOPLINE, *args], capture_output=True, text=True, timeout=120, env=os.environ)


@pytest.fixture
def kfp():
    with FakeKfp() as server:
        yield server


def test_submit_runs_the_compiled_pipeline_with_typed_parameters(kfp):
    done = loopline("submit", "--host", kfp.url, "training", "--param", "epochs=3", "--param", "source=gs://b/src")
    assert done.returncode == 0, done.stderr
    (run,) = kfp.state.runs.values()
    # the pipeline with its Kubernetes platform spec (resources, the Secret, the ConfigMap)
    assert run["pipeline_spec"]["pipeline_spec"]["pipelineInfo"]["name"] == "loopline-training"
    executors = run["pipeline_spec"]["platform_spec"]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    settings = executors["exec-load-features-component"]["configMapAsEnv"]
    assert "LOOPLINE_FEATURE_DATA" in {pair["envVar"] for source in settings for pair in source["keyToEnv"]}
    assert run["runtime_config"]["parameters"] == {"epochs": 3, "source": "gs://b/src"}
    assert run["service_account"] == "loopline-pipeline"  # the manifests' account, with the bucket rights
    assert kfp.state.experiments[run["experiment_id"]]["display_name"] == "loopline"
    assert f"{kfp.url}/#/runs/details/{run['run_id']}" in done.stdout and "Traceback" not in done.stderr


def test_schedule_creates_then_replaces_with_never_two_enabled(kfp):
    first = loopline("schedule", "--host", kfp.url, "--name", "nightly", "--cron", "0 0 3 * * *", "monitoring")
    assert first.returncode == 0, first.stderr
    (old,) = kfp.state.recurring
    kfp.state.requests.clear()
    second = loopline("schedule", "--host", kfp.url, "--name", "nightly", "--cron", "0 30 3 * * *", "monitoring")
    assert second.returncode == 0, second.stderr
    (new,) = kfp.state.recurring  # one left: the old one is gone
    changes = [(m, p.removeprefix(API)) for m, p in kfp.state.calls() if m != "GET"]
    assert changes == [
        ("POST", "/recurringruns"),  # created disabled
        ("POST", f"/recurringruns/{old}:disable"),
        ("POST", f"/recurringruns/{new}:enable"),
        ("DELETE", f"/recurringruns/{old}"),
    ]
    created = next(r.body for r in kfp.state.requests if r.method == "POST" and r.path.endswith("/recurringruns"))
    assert created["mode"] == "DISABLE"
    schedule = kfp.state.recurring[new]
    assert schedule["status"] == "ENABLED" and schedule["trigger"]["cron_schedule"]["cron"] == "0 30 3 * * *"
    assert int(schedule["max_concurrency"]) == 1 and schedule["no_catchup"] is True
    assert schedule["service_account"] == "loopline-pipeline"
    assert schedule["pipeline_spec"]["pipeline_spec"]["pipelineInfo"]["name"] == "loopline-monitoring"
    listed = loopline("runs", "--host", kfp.url)
    assert listed.returncode == 0 and "nightly" in listed.stdout and "ENABLED" in listed.stdout
    assert any(r.path.endswith("/recurringruns") and r.method == "GET" for r in kfp.state.requests)


def test_a_host_that_does_not_answer_or_refuses_is_one_line_and_exit_1(kfp):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    done = loopline("runs", "--host", closed)
    assert done.returncode == 1 and f"Kubeflow Pipelines at {closed} does not answer" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    kfp.state.healthz_status = 503
    done = loopline("submit", "--host", kfp.url, "training")
    assert done.returncode == 1 and "refused: 503" in done.stderr and "Traceback" not in done.stderr
    assert not kfp.state.runs


@pytest.mark.parametrize(
    "args, message",
    [
        (["schedule", "--name", "n", "--cron", "0 3 * * *"], "has 5 fields; KFP takes 6, seconds first"),
        (["submit", "--param", "epoch=3"], "--param epoch: loopline-training has no such parameter"),
        (["submit", "--param", "epochs=three"], "--param epochs: 'three' is not NUMBER_INTEGER"),
        (["submit", "--param", "epochs"], "--param 'epochs' must be NAME=VALUE"),
        (["submit", "nope"], "pipeline 'nope' is neither one of training, features, monitoring"),
    ],
)
def test_bad_input_is_named_and_nothing_is_created(kfp, args, message):
    done = loopline(args[0], "--host", kfp.url, *args[1:])
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not kfp.state.runs and not kfp.state.recurring


PACKAGE = Package(Path("p.yaml"), "p", {"n": "NUMBER_INTEGER", "x": "NUMBER_DOUBLE", "s": "STRING", "b": "BOOLEAN"})


@given(name=st.sampled_from(["n", "x", "s", "b", "zz", ""]), value=st.text(max_size=30))
def test_any_parameter_text_is_taken_typed_or_refused_by_name(name, value):
    try:
        parsed = arguments(PACKAGE, [f"{name}={value}"])
    except LooplineError as error:
        assert f"--param {name}" in str(error) or "NAME=VALUE" in str(error)
        return
    kind = {"n": int, "x": float, "s": str, "b": bool}[name]
    assert type(parsed[name]) is kind


@given(st.text(max_size=60))
def test_any_cron_text_is_six_fields_or_refused(expression):
    try:
        assert len(cron(expression).split()) == 6
    except LooplineError as error:
        assert "KFP takes 6, seconds first" in str(error)
