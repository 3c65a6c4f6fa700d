"""The retraining policy: after each monitored window, should production be retrained?

Three triggers (config `monitoring.policy`): the production version's served inputs drifted in
`drift_windows` consecutive monitored windows; its live AUC, on at least `min_outcomes` labelled
flights, fell `auc_margin` below the AUC it was evaluated at; its training data ended more than
`max_age_days` before the clock and no retraining started in that time either (one that pushed
nothing, or whose contender was rolled back, waits as long before it is tried again). A
retraining that a trigger calls for is held while another is open (one claim per model in the
registry) or within `cooldown_days` of the last one. Every retraining started is recorded in the
registry's decisions log with its reasons, and the reasons travel with the training run (its
`trigger` parameter, kept in the version's metadata).

The clock is the caller's (`as_of`): the wall clock on a schedule, the replay's in a replay.
"""

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import timedelta

import pandas as pd

from loopline import registry
from loopline.config import Config, Policy
from loopline.monitoring.monitor import Monitoring
from loopline.windows import training_window

RETRAIN = "retrain"


@dataclass
class Retraining:
    """The policy's answer for one monitored window."""

    retrain: bool
    reasons: list[str] = field(default_factory=list)  # every trigger that fired
    held: str = ""  # why a trigger that fired starts nothing (open claim, cooldown, no production)
    at: str = ""  # the clock
    start: str = ""  # the training window to use: ISO dates, end exclusive
    end: str = ""
    claim: dict | None = None  # the registry claim to release when the run ends

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)

    def as_dict(self) -> dict:
        return asdict(self)


def triggers(
    policy: Policy,
    windows: list[dict],
    production: registry.ModelVersion,
    as_of: pd.Timestamp,
    last: dict | None = None,
) -> list[str]:
    """The triggers that fire for `production` given the monitored `windows` (oldest first, the
    current one last) at the clock `as_of`, and the `last` retraining (registry.last_retraining)."""
    fired = []

    def days_before(stamp: str) -> float:
        moment = pd.Timestamp(stamp)
        return (as_of - (moment if moment.tz else moment.tz_localize(as_of.tz))).total_seconds() / 86400

    def group(window: dict) -> dict | None:
        return next(
            (g for g in window["groups"] if g["role"] == registry.PRODUCTION and g["version"] == production.version),
            None,
        )

    recent = [group(w) for w in windows[-policy.drift_windows :]]
    if len(recent) == policy.drift_windows and all(
        g is not None and g["drift_share"] is not None and g["drift_share"] >= policy.drift_share for g in recent
    ):
        shares = ", ".join(f"{g['drift_share']:.2f}" for g in recent)
        fired.append(
            f"drift share {shares} in the last {policy.drift_windows} windows (threshold {policy.drift_share})"
        )
    current = group(windows[-1]) if windows else None
    evaluated = production.metadata.get("metrics", {}).get("auc")
    if (
        current is not None
        and current["auc"] is not None
        and evaluated is not None
        and current["labelled"] >= policy.min_outcomes
        and current["auc"] < evaluated - policy.auc_margin
    ):
        fired.append(
            f"live AUC {current['auc']:.4f} on {current['labelled']:,} outcomes is below the evaluated "
            f"{evaluated:.4f} by more than {policy.auc_margin}"
        )
    trained_to = production.metadata.get("data_window", {}).get("end")
    age = days_before(trained_to) if trained_to else 0.0
    tried = days_before(last["at"]) if last else math.inf
    if age > policy.max_age_days and tried > policy.max_age_days:
        fired.append(f"version {production.version} trained on data up to {trained_to}, {age:.1f} days ago")
    return fired


def decide(config: Config, registry_uri: str, monitored: Monitoring, claim: bool = True) -> Retraining:
    """Keep the monitored window's figures in the registry, apply the policy on the window's
    clock (`as_of`) and, when it calls for a retraining and nothing holds it, claim it and record
    the decision (with `claim` False: only say what it would do). The caller runs the training
    through `retrain`, which releases the claim."""
    policy = config.monitoring.policy
    registry.record_window(registry_uri, config.name, monitored.as_dict())
    as_of = pd.Timestamp(monitored.as_of)
    production = registry.production(registry_uri, config.name)
    if production is None:
        return Retraining(False, held="no model in production: train one first", at=monitored.as_of)
    windows = registry.monitored_windows(registry_uri, config.name)
    last = registry.last_retraining(registry_uri, config.name)
    found = Retraining(False, triggers(policy, windows, production, as_of, last), at=monitored.as_of)
    if not found.reasons:
        return found
    pending = registry.pointed(registry_uri, config.name, registry.CANARY)
    if pending is not None:  # a retraining now would replace it before its verdict
        found.held = f"canary {pending.version} is still being judged"
        return found
    since = (as_of - pd.Timestamp(last["at"])) if last else None
    if last and not last["open"] and since < timedelta(days=policy.cooldown_days):
        found.held = f"cooling down: the last retraining started {last['at']} (cooldown {policy.cooldown_days:g} days)"
        return found
    if last and last["open"] and not claim:
        found.held = f"a retraining of {config.name} is open since {last['at']} ({last['reason']})"
        return found
    found.start, found.end = (day.isoformat() for day in training_window(config, as_of))
    if not claim:
        found.retrain = True
        return found
    try:
        found.claim = registry.claim_retraining(
            registry_uri,
            config.name,
            as_of.to_pydatetime(),
            found.reason,
            timedelta(hours=policy.claim_expires_hours),
        )
    except registry.RetrainingOpen as held:
        found.held = str(held)
        return found
    found.retrain = True
    evidence = {"reasons": found.reasons, "reason": found.reason, "clock": found.at, "window": [found.start, found.end]}
    registry.decide(registry_uri, config.name, RETRAIN, production.version, production.version, evidence)
    return found


def retrain(config: Config, registry_uri: str, decided: Retraining, run: Callable[[Retraining], str]) -> str:
    """Run the retraining `decided` calls for (`run` returns how it ended: the version pushed,
    or why none was) and release its claim, whatever happens; returns how it ended."""
    outcome = "failed"
    try:
        outcome = run(decided)
        return outcome
    finally:
        ended = pd.Timestamp(decided.at).to_pydatetime()
        registry.release_retraining(registry_uri, config.name, decided.claim, ended, outcome)
