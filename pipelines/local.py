"""Running pipelines on this machine: kfp.local's SubprocessRunner and one folder of local state.

Everything local lives under LOOPLINE_HOME (default ~/.loopline): `data/` (source tables),
`runs/` (the pipeline root: every task's artifacts), `registry/` (models and the production
pointer). The Feast repository is ./feature_repo unless LOOPLINE_FEATURE_REPO names another.
"""

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from components import registry
from components.config import load_config
from components.evaluate import SUMMARY

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def home() -> Path:
    return Path(os.environ.get("LOOPLINE_HOME") or Path.home() / ".loopline").expanduser()


def data_dir() -> Path:
    return home() / "data" / "nycflights13"


def feature_repo_dir() -> Path:
    return Path(os.environ.get("LOOPLINE_FEATURE_REPO") or "feature_repo").resolve()


def runs_dir() -> Path:
    return home() / "runs"


def registry_dir() -> Path:
    return home() / "registry"


@dataclass
class RunSummary:
    run_folder: str
    succeeded: bool
    error: str = ""
    blessed: bool = False
    reasons: list[str] = field(default_factory=list)
    auc: float | None = None
    baseline_version: str | None = None
    pushed_version: str | None = None
    metrics: dict = field(default_factory=dict)
    reports: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def _latest_run(before: set[str]) -> Path | None:
    runs = [p for p in runs_dir().glob("*") if p.is_dir() and p.name not in before]
    return max(runs, key=lambda p: p.stat().st_mtime) if runs else None


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


def run_training(
    source: str,
    start: str,
    end: str,
    config: str = "flights",
    registry_uri: str | None = None,
    feature_repo: str | None = None,
    **hyperparameters,
) -> RunSummary:
    """Run the training pipeline through kfp.local; returns what happened, failed or not."""
    from kfp import local

    from components import storage
    from pipelines.training import training_pipeline

    registry_uri = registry_uri or str(registry_dir())
    feature_repo = str(Path(feature_repo).resolve()) if feature_repo else str(feature_repo_dir())
    model_name = load_config(config).name  # validates the config before any task starts
    if not storage.is_gcs(registry_uri):
        Path(registry_uri).mkdir(parents=True, exist_ok=True)
    before_production = registry.production(registry_uri, model_name)
    runs_dir().mkdir(parents=True, exist_ok=True)
    existing = {p.name for p in runs_dir().iterdir()}
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(runs_dir()))
    error = ""
    try:
        training_pipeline(
            source=source,
            start=start,
            end=end,
            registry=registry_uri,
            feature_repo=feature_repo,
            config=config,
            **hyperparameters,
        )
    except RuntimeError as failure:
        error = ANSI.sub("", str(failure))
    run = _latest_run(existing)
    evaluation = _evaluation(run)
    after = registry.production(registry_uri, model_name)
    previous = before_production.version if before_production else None
    pushed = after.version if after and after.version != previous else None
    return RunSummary(
        run_folder=str(run) if run else "",
        succeeded=not error,
        error=error,
        blessed=evaluation.get("blessed", False),
        reasons=evaluation.get("reasons", []),
        auc=evaluation.get("metrics", {}).get("auc"),
        baseline_version=previous,
        pushed_version=pushed,
        metrics=evaluation.get("metrics", {}),
        reports=_reports(run) if run else {},
    )
