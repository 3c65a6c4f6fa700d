"""The canary judge: is the contender at least as good as production on live outcomes?

The evidence is the AUC of the canary minus production's on labelled flights. With shadow scores
(the canary scored every flight production answered) the comparison is paired, on the same
flights, and DeLong's test for correlated ROC curves gives its variance; otherwise the two
arms' own flights are compared, unpaired, each AUC with DeLong's variance. The rule (config
`monitoring.judge`) is a non-inferiority test: promote when the one-sided lower bound of the
difference is above -margin, roll back when the upper bound is below -margin, otherwise wait,
for at most `max_wait_days`, then roll back. Below `min_outcomes` labelled flights in an arm
nothing is decided on quality, however long it has waited. Operations come first: a canary that
fails more often than production by `error_margin` is rolled back at once, and one whose p99
model latency exceeds production's `latency_ratio` times is never promoted. DeLong, DeLong and Clarke-Pearson (1988), in
Sun and Xu's fast form (2014).
"""

from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import norm, rankdata

from loopline.config import Judge

PROMOTE, ROLLBACK, WAIT = "promote", "rollback", "wait"


@dataclass
class Health:
    """Each arm's share of requests its model failed on, and its p99 model latency in ms (None:
    not measured)."""

    error_rate_canary: float = 0.0
    error_rate_production: float = 0.0
    p99_ms_canary: float | None = None
    p99_ms_production: float | None = None


@dataclass
class Verdict:
    decision: str  # promote, rollback or wait
    reason: str
    paired: bool
    n_canary: int  # labelled flights in each arm (paired: the same flights)
    n_production: int
    auc_canary: float | None = None
    auc_production: float | None = None
    difference: float | None = None  # canary minus production
    lower: float | None = None  # one-sided bounds at the configured confidence
    upper: float | None = None
    p_value: float | None = None  # of "the canary is worse by the margin or more"
    log_loss_difference: float | None = None
    health: Health | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def delong(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The AUC of each row of `scores` (k models by n flights) and their covariance matrix."""
    positive, negative = scores[:, labels == 1], scores[:, labels == 0]
    m, n = positive.shape[1], negative.shape[1]
    within_pos, within_neg = rankdata(positive, axis=1), rankdata(negative, axis=1)
    ranks = rankdata(np.hstack([positive, negative]), axis=1)
    aucs = ranks[:, :m].sum(axis=1) / (m * n) - (m + 1) / (2 * n)
    v10 = (ranks[:, :m] - within_pos) / n  # per positive: the share of negatives below it
    v01 = 1 - (ranks[:, m:] - within_neg) / m  # per negative: the share of positives above it
    covariance = np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n
    return aucs, covariance


def _log_loss(scores: np.ndarray, labels: np.ndarray) -> float:
    p = np.clip(scores, 1e-7, 1 - 1e-7)
    return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))


def judge(
    rule: Judge,
    canary: tuple[np.ndarray, np.ndarray],
    production: tuple[np.ndarray, np.ndarray],
    paired: bool,
    waited_days: float = 0.0,
    health: Health | None = None,
) -> Verdict:
    """The verdict on (scores, labels) of the canary and of production, and on their `health`;
    paired: the same flights in the same order (production's answers and the canary's shadow
    scores)."""
    (cs, cl), (ps, pl) = canary, production
    health = health or Health()
    verdict = Verdict(WAIT, "", paired, len(cl), len(pl), health=health)
    if health.error_rate_canary > health.error_rate_production + rule.error_margin:
        verdict.decision = ROLLBACK
        verdict.reason = (
            f"errors rose: the canary failed on {health.error_rate_canary:.2%} of requests, production "
            f"on {health.error_rate_production:.2%} (error_margin {rule.error_margin})"
        )
        return verdict
    too_few = min(len(cl), len(pl)) < rule.min_outcomes
    one_class = any(len(np.unique(labels)) < 2 for labels in (cl, pl))
    if too_few or one_class:
        verdict.reason = (  # never decided on this little: however long it has waited
            f"{min(len(cl), len(pl)):,} labelled flights in an arm, fewer than {rule.min_outcomes:,}"
            if too_few
            else "the labelled flights are of one class: no AUC"
        )
        return verdict
    if paired:
        aucs, cov = delong(np.vstack([cs, ps]), cl)
        variance = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    else:
        (auc_c,), cov_c = delong(cs[None, :], cl)
        (auc_p,), cov_p = delong(ps[None, :], pl)
        aucs, variance = np.array([auc_c, auc_p]), cov_c[0, 0] + cov_p[0, 0]
    difference, se = float(aucs[0] - aucs[1]), float(np.sqrt(max(variance, 1e-12)))
    z = norm.ppf(rule.confidence)
    verdict.auc_canary, verdict.auc_production = float(aucs[0]), float(aucs[1])
    verdict.difference, verdict.lower, verdict.upper = difference, difference - z * se, difference + z * se
    verdict.p_value = float(norm.sf((difference + rule.margin) / se))
    verdict.log_loss_difference = _log_loss(cs, cl) - _log_loss(ps, pl)
    bounds = (
        f"AUC difference {difference:+.4f}, {rule.confidence:.0%} bounds [{verdict.lower:+.4f}, {verdict.upper:+.4f}]"
    )
    slower = (
        health.p99_ms_canary is not None
        and health.p99_ms_production is not None
        and health.p99_ms_canary > rule.latency_ratio * health.p99_ms_production
    )
    if verdict.lower > -rule.margin and slower:
        verdict.reason = (
            f"{bounds}: good enough, but its p99 latency {health.p99_ms_canary:.1f} ms is over "
            f"{rule.latency_ratio:g} times production's {health.p99_ms_production:.1f} ms"
        )
        return _timed_out(verdict, rule, waited_days)
    if verdict.lower > -rule.margin:
        verdict.decision, verdict.reason = PROMOTE, f"{bounds}: lower bound above -{rule.margin}"
    elif verdict.upper < -rule.margin:
        verdict.decision, verdict.reason = ROLLBACK, f"{bounds}: upper bound below -{rule.margin}"
    else:
        verdict.reason = f"{bounds}: undecided"
        return _timed_out(verdict, rule, waited_days)
    return verdict


def _timed_out(verdict: Verdict, rule: Judge, waited_days: float) -> Verdict:
    if waited_days >= rule.max_wait_days:
        verdict.decision = ROLLBACK
        verdict.reason += f"; undecided after {waited_days:g} days (max_wait_days {rule.max_wait_days:g})"
    return verdict
