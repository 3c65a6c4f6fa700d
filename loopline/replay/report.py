"""The replay's report: per week, the serving model's AUC and log loss on ground truth beside the
frozen first model's on the same flights and inputs (the logged model inputs rescored), the drift
share and the outcome coverage; the loop's decisions on a timeline; the headline (the loop's AUC
minus the frozen model's over the whole replay, with a bootstrap interval). Written as
report.json, report.svg (the plot) and report.html under the replay's folder."""

import html
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import log_loss, roc_auc_score

from loopline import model_io, registry
from loopline.config import Config
from loopline.monitoring.monitor import labels

BOOTSTRAP = 500


def served(replay) -> pd.DataFrame:
    """The answers given (production's, one per flight), labelled by what was known at the end,
    each with the frozen model's score of the same logged inputs."""
    config: Config = replay.config
    window = replay.store.window(replay.start.to_pydatetime(), replay.end.to_pydatetime())
    answers = window[window["role"] == registry.PRODUCTION].drop_duplicates("flight_key")
    frozen = model_io.load(registry.get(replay.registry, config.name, replay.frozen).uri)
    inputs = pd.DataFrame(answers["inputs"].tolist(), index=answers.index)
    for column in config.features.numeric:
        inputs[column] = pd.to_numeric(inputs[column], errors="coerce")
    answers = answers.assign(
        frozen=model_io.score(frozen, model_io.as_model_inputs(inputs, config)) if len(answers) else [],
        late=labels(answers, config).where(answers["labelled"]),
    )
    return answers


def _figures(rows: pd.DataFrame) -> dict:
    known = rows.dropna(subset=["late"])
    out = {"flights": len(rows), "labelled": len(known), "coverage": len(known) / max(len(rows), 1)}
    if known["late"].nunique() == 2:
        y = known["late"].astype(int)
        out |= {
            "auc_loop": roc_auc_score(y, known["score"]),
            "auc_frozen": roc_auc_score(y, known["frozen"]),
            "log_loss_loop": log_loss(y, known["score"], labels=[0, 1]),
            "log_loss_frozen": log_loss(y, known["frozen"], labels=[0, 1]),
        }
    return out


def headline(rows: pd.DataFrame, seed: int) -> dict:
    """The loop's AUC minus the frozen model's on every labelled flight, with a 95% paired
    bootstrap interval (flights resampled)."""
    known = rows.dropna(subset=["late"])
    if known["late"].nunique() < 2:
        return {"labelled": len(known), "difference": None}
    y, loop, frozen = known["late"].to_numpy(int), known["score"].to_numpy(), known["frozen"].to_numpy()
    difference = roc_auc_score(y, loop) - roc_auc_score(y, frozen)
    rng, draws = np.random.default_rng(seed), []
    for _ in range(BOOTSTRAP):
        i = rng.integers(0, len(y), len(y))
        if len(np.unique(y[i])) == 2:
            draws.append(roc_auc_score(y[i], loop[i]) - roc_auc_score(y[i], frozen[i]))
    low, high = np.percentile(draws, [2.5, 97.5])
    return {"labelled": len(known), "difference": difference, "low": float(low), "high": float(high)}


def weeks(rows: pd.DataFrame, monitored: list[dict], zone: str) -> list[dict]:
    """The figures of each week (Monday to Sunday, local) of departures, and its mean drift share
    of the serving model."""
    local = rows["departs_at"].dt.tz_convert(zone)
    week = local.dt.tz_localize(None).dt.to_period("W-SUN").dt.start_time
    drift = pd.DataFrame(
        [
            {"start": pd.Timestamp(w["start"]).tz_convert(zone).tz_localize(None), "share": g["drift_share"]}
            for w in monitored
            for g in w["groups"]
            if g["role"] == registry.PRODUCTION and g["drift_share"] is not None
        ],
        columns=["start", "share"],
    )
    out = []
    for monday, group in rows.groupby(week):
        sunday = monday + pd.Timedelta(days=7)
        shares = drift[(drift["start"] >= monday) & (drift["start"] < sunday)]["share"]
        versions = sorted(group["model_version"].unique())
        figures = _figures(group) | {"week": monday.date().isoformat(), "versions": versions}
        out.append(figures | {"drift_share": float(shares.mean()) if len(shares) else None})
    return out


def write_report(replay) -> dict:
    rows = served(replay)
    zone = replay.config.source.timezone
    monitored = registry.monitored_windows(replay.registry, replay.config.name)
    report = {
        "id": replay.id,
        "window": {"serving_from": replay.start.isoformat(), "to": replay.end.isoformat()},
        "sample": replay.options.sample,
        "seed": replay.options.seed,
        "frozen_version": replay.frozen,
        "headline": headline(rows, replay.options.seed),
        "overall": _figures(rows),
        "weeks": weeks(rows, monitored, zone),
        "timeline": [asdict(event) for event in replay.events],
        "progress": asdict(replay.progress),
        "days": (replay.end - replay.start) / pd.Timedelta(days=1),
    }
    folder = Path(replay.folder)
    (folder / "report.json").write_text(json.dumps(report, indent=1, default=float))
    plot(report, folder / "report.svg")
    (folder / "report.html").write_text(page(report, (folder / "report.svg").read_text()))
    report["files"] = {name: str(folder / f"report.{name}") for name in ("json", "svg", "html")}
    return report


def plot(report: dict, path: Path) -> None:
    """Weekly AUC of the loop and of the frozen model, drift share below, decisions as lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    weeks_ = [w for w in report["weeks"] if "auc_loop" in w]
    when = pd.to_datetime([w["week"] for w in weeks_])
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True, height_ratios=[3, 1])
    top.plot(when, [w["auc_loop"] for w in weeks_], marker="o", label="the loop (serving model)")
    top.plot(when, [w["auc_frozen"] for w in weeks_], marker="s", label=f"frozen (version {report['frozen_version']})")
    colors = {"promote": "tab:green", "rollback": "tab:red", "retrain": "tab:gray"}
    for event in report["timeline"]:
        if event["action"] in colors:
            at = pd.Timestamp(event["clock"]).tz_localize(None)
            top.axvline(at, color=colors[event["action"]], linestyle="--", linewidth=1)
            top.annotate(f"{event['action']} {event['version']}", (at, top.get_ylim()[0]), rotation=90, fontsize=7)
    top.set_ylabel("AUC on ground truth")
    top.legend(loc="lower right", fontsize=8)
    head = report["headline"]
    if head.get("difference") is not None:
        top.set_title(
            f"loop minus frozen: {head['difference']:+.4f} AUC "
            f"(95% interval {head['low']:+.4f} to {head['high']:+.4f})",
            fontsize=10,
        )
    bottom.bar(when, [w["drift_share"] or 0 for w in weeks_], width=5, color="tab:orange")
    bottom.set_ylabel("drift share")
    figure.autofmt_xdate()
    figure.tight_layout()
    figure.savefig(path)  # the format by the suffix: svg for the report
    plt.close(figure)


def page(report: dict, svg: str) -> str:
    def cell(value) -> str:
        return "-" if value is None else f"{value:.4f}" if isinstance(value, float) else html.escape(str(value))

    names = ["week", "versions", "flights", "coverage", "auc_loop", "auc_frozen", "log_loss_loop", "log_loss_frozen"]
    names.append("drift_share")
    rows = "".join("<tr>" + "".join(f"<td>{cell(w.get(n))}</td>" for n in names) + "</tr>" for w in report["weeks"])
    timeline = "".join(
        f"<li>{html.escape(e['clock'])}: <b>{html.escape(e['action'])}</b> {html.escape(e['version'])} "
        f"{html.escape(e['reason'])}</li>"
        for e in report["timeline"]
    )
    head = report["headline"]
    title = f"loopline replay {report['id']}"
    summary = (
        f"The loop's AUC minus the frozen model's: <b>{head['difference']:+.4f}</b> "
        f"(95% bootstrap interval {head['low']:+.4f} to {head['high']:+.4f}) on {head['labelled']:,} flights."
        if head.get("difference") is not None
        else "Too few labelled flights for a headline."
    )
    header = "".join(f"<th>{n}</th>" for n in names)
    summary += f"<p>{html.escape(time_spent(report))}</p>"
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head><body>"
        f"<h1>{title}</h1><p>{summary}</p>{svg}<h2>Weeks</h2><table border='1' cellpadding='4'>"
        f"<tr>{header}</tr>{rows}</table><h2>Timeline</h2><ul>{timeline}</ul></body></html>"
    )


def time_spent(report: dict) -> str:
    """Where the replay's wall time went, and per simulated month (30 days)."""
    seconds = report["progress"]["seconds"]
    parts = ", ".join(f"{part} {seconds[part]:.0f} s" for part in seconds if part != "all")
    month = seconds["all"] / report["days"] * 30
    return f"time: {parts}; {seconds['all']:.0f} s in all, {month:.0f} s per simulated month"
