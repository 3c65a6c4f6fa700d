"""Two training runs started two seconds apart in one LOOPLINE_HOME, on one feature repository:
both end cleanly, each reporting its own folder and its own push."""

import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from loopline import registry
from loopline.features.store import copy_repo
from tests.conftest import REPO, SMALL_SPLIT, write_config
from tests.pipelines.test_training_pipeline import LOOPLINE, WINDOW

pytestmark = [pytest.mark.pipeline, pytest.mark.slow]


def test_two_overlapping_runs_each_report_their_own_folder_and_push(source, tmp_path):
    config = write_config(tmp_path, split=SMALL_SPLIT)
    home, repo = tmp_path / "home", copy_repo(REPO, tmp_path / "repo", f"loopline_run_{uuid.uuid4().hex[:8]}")
    args = [LOOPLINE, "train", *WINDOW, "--source", source, "--config", config, "--feature-repo", str(repo)]
    args += ["--epochs", "1", "--ensemble", "1", "--json"]
    env = os.environ | {"LOOPLINE_HOME": str(home)}
    runs = []
    for _ in range(2):
        runs.append(subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        time.sleep(2)
    finished = [run.communicate(timeout=900) for run in runs]
    summaries = [json.loads(out) for out, _ in finished]
    for run, (_, err), summary in zip(runs, finished, summaries, strict=True):
        assert run.returncode == 0, err[-3000:]
        assert summary["succeeded"] and "Traceback" not in err
    folders = [Path(s["run_folder"]) for s in summaries]
    assert folders[0] != folders[1] and all(f.parent.parent == home / "runs" for f in folders)
    for summary, folder in zip(summaries, folders, strict=True):
        receipt = (
            json.loads((folder / "push-component" / "executor_output.json").read_text()) if summary["blessed"] else None
        )
        own = receipt["artifacts"]["receipt"]["artifacts"][0]["metadata"]["version"] if receipt else ""
        assert (summary["pushed_version"] or "") == own
    pushed = [s["pushed_version"] for s in summaries if s["pushed_version"]]
    assert pushed and len(set(pushed)) == len(pushed)
    assert registry.production(str(home / "registry"), "flights").version in pushed
    refused = [s["push_message"] for s in summaries if s["blessed"] and not s["pushed_version"]]
    assert all("not pushed: production changed from" in message for message in refused)
