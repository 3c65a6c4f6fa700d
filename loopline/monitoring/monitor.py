"""Monitor: the predictions served for a window of scheduled departures, per model version and
role, judged with Evidently against what was known by `as_of`.

Drift (DataDriftPreset) compares the model inputs served in the window with the sample of inputs
that version trained on (its registry reference). Quality (ClassificationPreset) is measured on
the version's predictions of the last `monitoring.quality_days` up to the window's end (a day's
outcomes are too few for an AUC), only those whose outcome had become known by `as_of`: a
missing outcome is unknown, never a negative, and the labelled share (coverage) is reported
beside it. Each retried answer for a flight counts once (its first).
"""

import html
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from loopline import registry
from loopline.config import Config
from loopline.errors import BadRequest, LooplineError
from loopline.events import local_day, parse_time
from loopline.model_io import families
from loopline.predictions.store import PredictionStore

TARGET, SCORE = "late", "score"


@dataclass
class Group:
    """One model version in one role (production, canary, shadow) over the window."""

    role: str
    version: str
    predictions: int  # scored in the window (a failed model call is counted in `errors` instead)
    labelled: int  # from the quality period's predictions (Monitoring.quality_start to the end)
    coverage: float  # their labelled share
    errors: int = 0  # requests this canary or shadow failed on (production answered them)
    auc: float | None = None  # None: fewer than two classes among the labelled
    log_loss: float | None = None
    accuracy: float | None = None
    drift_share: float | None = None  # None: the version has no reference sample
    drifted_columns: int | None = None
    evaluation_auc: float | None = None  # what the version scored when it was evaluated


@dataclass
class Monitoring:
    start: str
    end: str
    as_of: str
    quality_start: str = ""  # quality is measured on the departures from here to `end`
    groups: list[Group] = field(default_factory=list)
    report: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def labels(window: pd.DataFrame, config: Config) -> pd.Series:
    """The label of each labelled prediction: late by the threshold; an outcome that never came
    (a cancelled flight) as `label.missing` says (positive, or dropped: NaN)."""
    late = (window["outcome"] >= config.label.threshold).astype("float64")
    never = window["outcome"].isna()
    return late.where(~never, 1.0 if config.label.missing == "positive" else math.nan)


def monitor_window(
    config: Config,
    store: PredictionStore,
    registry_uri: str,
    start: str,
    end: str,
    as_of: str | None,
    report: str | Path,
    workspace: str | Path | None = None,
) -> Monitoring:
    """`monitor` on the days from ISO date `start` to `end` (the config's time zone), as of the
    ISO 8601 time `as_of` (default: the end); bad input is a LooplineError naming it. A store no
    server has written yet is made, empty."""
    first, last = (local_day(v, f"--{n}", config.source.timezone) for v, n in ((start, "start"), (end, "end")))
    if last <= first:
        raise LooplineError(f"--end {end} must be after --start {start}")
    try:
        known = parse_time(as_of, config, "--as-of") if as_of else last
    except BadRequest as error:
        raise LooplineError(str(error)) from None
    store.migrate()
    return monitor(config, store, registry_uri, first, last, known, report, workspace)


def monitor(
    config: Config,
    store: PredictionStore,
    registry_uri: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    as_of: pd.Timestamp,
    report: str | Path | None,
    workspace: str | Path | None = None,
) -> Monitoring:
    """Judge the window [start, end) as of `as_of`; write the HTML `report` and, with a
    `workspace`, one Evidently snapshot per group, backdated to the window's end. Without a
    report (None: where no one reads it, as in a replay) the snapshots hold only the metrics the
    dashboard and the policy read, not Evidently's presets, whose per-column widgets are most of
    a monitored day's cost (README, Benchmarks: the replay)."""
    since = min(start, end - pd.Timedelta(days=config.monitoring.quality_days))
    once = ["role", "model_version", "flight_key"]
    period = store.window(since.to_pydatetime(), end.to_pydatetime(), as_of.to_pydatetime(), inputs=False)
    period = period.drop_duplicates(once)
    window = store.window(start.to_pydatetime(), end.to_pydatetime(), as_of.to_pydatetime()).drop_duplicates(once)
    if window.empty:
        raise LooplineError(f"no predictions for departures from {start.isoformat()} to {end.isoformat()}")
    result = Monitoring(start.isoformat(), end.isoformat(), as_of.isoformat(), since.isoformat())
    sections = []
    for (role, version), served in window.groupby(["role", "model_version"], sort=True):
        recent = period[(period["role"] == role) & (period["model_version"] == version)]
        group, snapshots = _judge(config, registry_uri, role, version, served, recent, end, report is not None)
        result.groups.append(group)
        sections.append((group, snapshots))
        if workspace is not None:
            from loopline.monitoring.workspace import save_snapshots

            save_snapshots(workspace, config.name, snapshots)
    if report is not None:
        Path(report).parent.mkdir(parents=True, exist_ok=True)
        Path(report).write_text(_html(result, sections))
        result.report = str(report)
    return result


def _judge(
    config: Config,
    registry_uri: str,
    role: str,
    version: str,
    served: pd.DataFrame,
    recent: pd.DataFrame,
    end: pd.Timestamp,
    detail: bool,
):
    """One group's figures and Evidently snapshots: drift on what it `served` in the window,
    quality on its `recent` predictions (the quality period's); in `detail`, Evidently's presets."""
    from evidently import BinaryClassification, DataDefinition, Dataset, Report
    from evidently.metrics import Accuracy, LogLoss, RocAuc
    from evidently.presets import ClassificationPreset

    failed = served["score"].isna()
    served, recent = served[~failed], recent[recent["score"].notna()]
    labelled = recent[recent["labelled"]].assign(**{TARGET: labels(recent[recent["labelled"]], config)})
    labelled = labelled.dropna(subset=[TARGET])
    group = Group(role, version, len(served), len(labelled), len(labelled) / max(len(recent), 1), int(failed.sum()))
    try:
        group.evaluation_auc = registry.get(registry_uri, config.name, version).metadata.get("metrics", {}).get("auc")
    except LooplineError:  # a version from another registry: judged all the same
        pass
    tags = [role, f"version:{version}"]
    snapshots = []
    reference = registry.reference(registry_uri, config.name, version)
    if reference is not None and len(served):
        snapshot = drift_report(config, served["inputs"].tolist(), reference, end, tags, detail)
        group.drift_share, group.drifted_columns = _drift(snapshot.dict())
        snapshots.append(("drift", snapshot))
    if labelled[TARGET].nunique() == 2:
        frame = pd.DataFrame({TARGET: labelled[TARGET].astype(int).to_numpy(), SCORE: labelled["score"].to_numpy()})
        definition = DataDefinition(classification=[BinaryClassification(target=TARGET, prediction_probas=SCORE)])
        dataset = Dataset.from_pandas(frame, data_definition=definition)
        metrics = [ClassificationPreset()] if detail else [RocAuc(), LogLoss(), Accuracy()]
        snapshot = Report(metrics).run(dataset, None, timestamp=end.to_pydatetime(), tags=tags)
        values = _values(snapshot.dict())
        group.auc, group.log_loss, group.accuracy = values.get("RocAuc"), values.get("LogLoss"), values.get("Accuracy")
        snapshots.append(("quality", snapshot))
    return group, snapshots


def drift_report(
    config: Config,
    inputs: list[dict],
    reference: pd.DataFrame,
    end: pd.Timestamp,
    tags: list[str],
    detail: bool = True,
):
    """Evidently's data drift of the served model `inputs` against the version's training
    `reference`, as of `end`, on the columns that have a value in both (Evidently refuses an
    empty one: a day without a wind gust reported is calm, not drifted). In `detail`, the preset
    (each column's test and plots); else only the drifted columns' count and share (a sixth of
    the time: the preset tests every column twice and renders it)."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import DriftedColumnsCount
    from evidently.presets import DataDriftPreset

    kinds = families(config)
    columns = [c for names in kinds.values() for c in names]
    numerical = [*kinds["numeric"], *kinds["time"]]
    # as floats: a column with no value all day (no wind gust reported) is otherwise objects,
    # which Evidently cannot count
    served = pd.DataFrame(inputs, columns=columns).astype(dict.fromkeys(numerical, "float64"))
    definition = DataDefinition(numerical_columns=numerical, categorical_columns=kinds["categorical"])
    current, ref = (Dataset.from_pandas(f, data_definition=definition) for f in (served, reference[columns]))
    spec = config.monitoring.drift
    judged = [c for c in columns if c not in spec.ignore and served[c].notna().any() and reference[c].notna().any()]
    kind = DataDriftPreset if detail else DriftedColumnsCount
    metric = kind(columns=judged, num_method=spec.num_method, cat_method=spec.cat_method, threshold=spec.threshold)
    return Report([metric]).run(current, ref, timestamp=end.to_pydatetime(), tags=tags)


def _values(snapshot: dict) -> dict[str, float]:
    """Each scalar metric of a snapshot by its type's name (RocAuc, LogLoss, Accuracy, ...)."""
    out = {}
    for metric in snapshot["metrics"]:
        name = metric["config"]["type"].rsplit(":", 1)[-1]
        if isinstance(metric["value"], int | float):
            out.setdefault(name, float(metric["value"]))
    return out


def _drift(snapshot: dict) -> tuple[float, int]:
    for metric in snapshot["metrics"]:
        if metric["config"]["type"].endswith(":DriftedColumnsCount"):
            return float(metric["value"]["share"]), int(metric["value"]["count"])
    raise LooplineError("Evidently's drift report has no DriftedColumnsCount")


def _html(result: Monitoring, sections: list) -> str:
    """One page: the figures per group, then each Evidently report in a frame of its own."""

    def cell(value) -> str:
        return "-" if value is None else f"{value:.4f}" if isinstance(value, float) else html.escape(str(value))

    names = ["role", "version", "predictions", "errors", "labelled", "coverage", "auc", "log_loss", "drift_share"]
    rows = "".join(
        "<tr>" + "".join(f"<td>{cell(getattr(group, n))}</td>" for n in names) + "</tr>" for group, _ in sections
    )
    frame = '<iframe style="width:100%;height:900px;border:0" srcdoc="{}"></iframe>'
    frames = "".join(
        f"<h2>{html.escape(group.role)} {html.escape(group.version)}: {kind}</h2>"
        + frame.format(html.escape(snapshot.get_html_str(as_iframe=False)))
        for group, snapshots in sections
        for kind, snapshot in snapshots
    )
    title = (
        f"loopline monitoring: departures {result.start} to {result.end} (quality from {result.quality_start}), "
        f"outcomes known by {result.as_of}"
    )
    header = "".join(f"<th>{n}</th>" for n in names)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(title)}</h1><table border='1' cellpadding='4'><tr>{header}</tr>{rows}</table>"
        f"{frames}</body></html>"
    )
