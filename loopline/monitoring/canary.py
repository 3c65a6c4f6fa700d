"""The canary on live traffic: its evidence from the prediction store, the judge's verdict, and
the registry move that carries it out (recorded in the registry's decisions log)."""

import numpy as np
import pandas as pd

from loopline import registry
from loopline.config import Config
from loopline.monitoring.judge import PROMOTE, ROLLBACK, Health, Verdict, judge
from loopline.monitoring.monitor import Monitoring, labels
from loopline.predictions.store import PredictionStore

SHADOW = "shadow"


def verdict(
    config: Config, store: PredictionStore, registry_uri: str, start: pd.Timestamp, end: pd.Timestamp, as_of
) -> tuple[str, Verdict] | None:
    """The canary's version and the judge's verdict on it over the departures of [start, end),
    on the outcomes known by `as_of`; None when there is no canary. Paired when the canary
    scored production's flights in the shadow, else its own split against production's. It has
    waited since the first departure it scored, and both arms are read from there: production
    before the canary is no comparison (and a long window's read costs most of a verdict)."""
    canary = registry.pointed(registry_uri, config.name, registry.CANARY)
    production = registry.production(registry_uri, config.name)
    if canary is None or production is None:
        return None
    first = store.first_departure(canary.version)
    since = start if first is None else max(start, pd.Timestamp(first))
    window = store.window(since.to_pydatetime(), end.to_pydatetime(), as_of.to_pydatetime(), inputs=False)
    ours = window[window["model_version"] == canary.version]
    waited = (as_of - ours["departs_at"].min()).total_seconds() / 86400 if len(ours) else 0.0

    def arm(rows: pd.DataFrame, role: str, version: str) -> pd.DataFrame:
        return rows[(rows["role"] == role) & (rows["model_version"] == version)]

    paired = len(arm(window, SHADOW, canary.version)) > 0
    canary_role = SHADOW if paired else registry.CANARY
    health = _health(arm(window, canary_role, canary.version), arm(window, registry.PRODUCTION, production.version))
    scored = window[window["labelled"] & window["score"].notna()]
    labelled = scored.assign(late=lambda w: labels(w, config)).dropna(subset=["late"])
    if paired:
        pairs = arm(labelled, registry.PRODUCTION, production.version).merge(
            arm(labelled, SHADOW, canary.version), on=["answer_id", "position"], suffixes=("", "_canary")
        )
        late = pairs["late"].to_numpy()
        arms = (pairs["score_canary"].to_numpy(), late), (pairs["score"].to_numpy(), late)
    else:
        mine = arm(labelled, canary_role, canary.version)
        theirs = arm(labelled, registry.PRODUCTION, production.version)
        arms = (
            (mine["score"].to_numpy(), mine["late"].to_numpy()),
            (theirs["score"].to_numpy(), theirs["late"].to_numpy()),
        )
    return canary.version, judge(config.monitoring.judge, *arms, paired, waited, health)


def _health(canary: pd.DataFrame, production: pd.DataFrame) -> Health:
    """Each arm's share of answers its model failed on and its p99 model latency, per answer
    (a request's rows share one model call)."""

    def per_answer(rows: pd.DataFrame) -> pd.DataFrame:
        return rows.groupby("answer_id").agg(failed=("score", lambda s: s.isna().any()), ms=("latency_ms", "first"))

    def p99(answers: pd.DataFrame) -> float | None:
        ms = answers["ms"].dropna()
        return float(np.percentile(ms, 99)) if len(ms) else None

    ours, theirs = per_answer(canary), per_answer(production)
    return Health(
        error_rate_canary=float(ours["failed"].mean()) if len(ours) else 0.0,
        error_rate_production=float(theirs["failed"].mean()) if len(theirs) else 0.0,
        p99_ms_canary=p99(ours),
        p99_ms_production=p99(theirs),
    )


def carry_out(version: str, found: Verdict, config: Config, registry_uri: str, window: dict) -> dict | None:
    """Promote or roll back canary `version` as `found` says (a wait does nothing), by
    compare-and-swap from the pointers judged; the recorded decision."""
    evidence = found.as_dict() | {"window": window}
    if found.decision == PROMOTE:
        return registry.promote(registry_uri, config.name, version, evidence)
    if found.decision == ROLLBACK:
        return registry.roll_back(registry_uri, config.name, version, evidence)
    return None


def judge_window(config: Config, store: PredictionStore, registry_uri: str, monitored: Monitoring) -> dict | None:
    """Judge the canary on a monitored window and carry the verdict out: its version, the verdict
    and the recorded decision (None on a wait); None when there is no canary."""
    start, end, as_of = (pd.Timestamp(t) for t in (monitored.start, monitored.end, monitored.as_of))
    judged = verdict(config, store, registry_uri, start, end, as_of)
    if judged is None:
        return None
    version, found = judged
    window = {"start": monitored.start, "end": monitored.end, "as_of": monitored.as_of}
    return {
        "version": version,
        "verdict": found.as_dict(),
        "decision": carry_out(version, found, config, registry_uri, window),
    }
