"""The statistics that decide (the canary judge, the retraining policy's AUC trigger), checked by
simulation on real scores of two model versions: flights resampled from a real week, contenders
made from the second version's scores to a known AUC difference on the whole week. The measured
rates are printed."""

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit
from sklearn.metrics import roc_auc_score

from loopline import model_io, registry
from loopline.config import Judge, load_config
from loopline.monitoring.judge import PROMOTE, ROLLBACK, WAIT, Health, delong, judge
from loopline.monitoring.policy import triggers

pytestmark = pytest.mark.slow
TRIALS = 200
RULE = load_config("flights").monitoring.judge
POLICY = load_config("flights").monitoring.policy
EVALUATED_ON = 10_000  # flights in an evaluation split (two weeks of New York)


@pytest.fixture(scope="module")
def week(examples, trained_model, tmp_path_factory):
    """Two real versions' scores on every flight of the train and eval weeks, and the labels."""
    from loopline.steps.train import Hyperparameters, train

    config = load_config("flights")
    other = str(tmp_path_factory.mktemp("other") / "model")
    train(examples[0], config, Hyperparameters(epochs=2, ensemble=1, seed=5), other)
    flights = pd.concat(examples, ignore_index=True)
    scores = [model_io.predict(model_io.load(path), flights, config) for path in (trained_model, other)]
    return scores[0].astype("float64"), scores[1].astype("float64"), flights[config.label.name].to_numpy()


def contender(base: np.ndarray, production: np.ndarray, labels: np.ndarray, difference: float) -> np.ndarray:
    """`base`'s scores moved to AUC(production) + `difference` on the whole week: towards the
    labels to be better, with noise to be worse (bisection on the amount)."""
    target = roc_auc_score(labels, production) + difference
    noise = np.random.default_rng(3).normal(size=len(base))
    better = roc_auc_score(labels, base) < target
    direction = (2 * labels - 1) if better else noise

    def moved(amount: float) -> np.ndarray:
        return expit(logit(np.clip(base, 1e-6, 1 - 1e-6)) + amount * direction)

    low, high = 0.0, 8.0
    for _ in range(60):
        middle = (low + high) / 2
        if (roc_auc_score(labels, moved(middle)) < target) == better:
            low = middle
        else:
            high = middle
    return moved((low + high) / 2)


def rates(week, difference: float, paired: bool, n: int, rule: Judge = RULE) -> dict[str, float]:
    production, base, labels = week
    canary = contender(base, production, labels, difference)
    rng = np.random.default_rng(11)
    decisions = []
    for _ in range(TRIALS):
        picked = rng.integers(0, len(labels), n)
        other = picked if paired else rng.integers(0, len(labels), n)
        verdict = judge(rule, (canary[picked], labels[picked]), (production[other], labels[other]), paired)
        decisions.append(verdict.decision)
    return {d: decisions.count(d) / TRIALS for d in (PROMOTE, ROLLBACK, WAIT)}


def test_delong_agrees_with_sklearn_and_the_bootstrap(week):
    production, base, labels = week
    aucs, cov = delong(np.vstack([production, base]), labels)
    assert aucs[0] == pytest.approx(roc_auc_score(labels, production), abs=1e-12)
    rng = np.random.default_rng(0)
    boot = []
    for _ in range(300):
        i = rng.integers(0, len(labels), len(labels))
        boot.append(roc_auc_score(labels[i], production[i]) - roc_auc_score(labels[i], base[i]))
    delong_se = np.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    assert delong_se == pytest.approx(np.std(boot), rel=0.2)


def test_the_judge_promotes_a_better_canary_and_not_a_worse_one_at_min_outcomes(week):
    n, margin = RULE.min_outcomes, RULE.margin
    better = rates(week, +0.02, paired=True, n=n)
    worse = rates(week, -(margin + 0.005), paired=True, n=n)
    at_margin = rates(week, -margin, paired=True, n=n)
    unpaired_better = rates(week, +0.02, paired=False, n=n)
    unpaired_worse = rates(week, -(margin + 0.005), paired=False, n=n)
    print(
        f"\njudge at min_outcomes={n}, margin={margin}, {TRIALS} trials each, from {len(week[2]):,} flights:"
        f"\n  paired, canary better by 0.02:        promoted {better[PROMOTE]:.1%}, rolled back {better[ROLLBACK]:.1%}"
        f"\n  paired, worse by {margin + 0.005:.3f}:            promoted {worse[PROMOTE]:.1%},"
        f" rolled back {worse[ROLLBACK]:.1%}"
        f"\n  paired, worse by exactly the margin:  promoted {at_margin[PROMOTE]:.1%}"
        f"\n  unpaired, better by 0.02:             promoted {unpaired_better[PROMOTE]:.1%} (waits for more)"
        f"\n  unpaired, worse by {margin + 0.005:.3f}:          promoted {unpaired_worse[PROMOTE]:.1%}"
    )
    assert better[PROMOTE] >= 0.95
    assert worse[PROMOTE] <= 0.05 and unpaired_worse[PROMOTE] <= 0.05
    assert at_margin[PROMOTE] <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / TRIALS)  # the test's size, within its noise


def test_nothing_is_decided_below_min_outcomes_however_long_it_waited(week):
    production, base, labels = week
    n = RULE.min_outcomes - 1
    verdict = judge(RULE, (base[:n], labels[:n]), (production[:n], labels[:n]), paired=True, waited_days=30)
    assert verdict.decision == WAIT and "fewer than 3,000" in verdict.reason
    rule = Judge(min_outcomes=100, margin=0.01, max_wait_days=7)
    canary = contender(base, production, labels, -0.01)[:300]  # at the margin, on few flights: undecided
    arms = (canary, labels[:300]), (production[:300], labels[:300])
    assert judge(rule, *arms, paired=True, waited_days=3).decision == WAIT
    late = judge(rule, *arms, paired=True, waited_days=8)
    assert late.decision == ROLLBACK and "undecided after 8 days" in late.reason


def test_errors_that_rose_roll_back_and_slower_latency_never_promotes(week):
    production, base, labels = week
    better = contender(base, production, labels, +0.02)
    arms = (better, labels), (production, labels)  # every flight of the two weeks: clearly better
    assert judge(RULE, *arms, paired=True, health=Health(p99_ms_canary=4.0, p99_ms_production=3.0)).decision == PROMOTE
    failing = Health(error_rate_canary=0.0025, error_rate_production=0.001)  # 0.15 points more: over 0.1
    verdict = judge(RULE, *arms, paired=True, health=failing)
    assert verdict.decision == ROLLBACK and verdict.reason.startswith("errors rose: the canary failed on 0.25%")
    few = judge(RULE, (better[:10], labels[:10]), (production[:10], labels[:10]), paired=True, health=failing)
    assert few.decision == ROLLBACK  # a failing canary goes at once, before any outcome counts
    within = Health(error_rate_canary=0.0019, error_rate_production=0.001)
    assert judge(RULE, *arms, paired=True, health=within).decision == PROMOTE
    slow = Health(p99_ms_canary=4.6, p99_ms_production=3.0)  # over 1.5 times production's
    held = judge(RULE, *arms, paired=True, waited_days=1, health=slow)
    assert held.decision == WAIT and "p99 latency 4.6 ms is over 1.5 times production's 3.0 ms" in held.reason
    assert judge(RULE, *arms, paired=True, waited_days=8, health=slow).decision == ROLLBACK


def fire_rate(week, drop: float, n: int) -> float:
    """How often the policy's AUC trigger fires on `n` labelled flights for a production model
    whose AUC was measured on EVALUATED_ON flights and whose live AUC is `drop` below it."""
    production, base, labels = week
    live = production if drop == 0 else contender(base, production, labels, -drop)
    rng, fired = np.random.default_rng(17), 0
    as_of = pd.Timestamp("2013-02-01", tz="UTC")
    for _ in range(TRIALS):
        evaluated = rng.integers(0, len(labels), EVALUATED_ON)
        measured = roc_auc_score(labels[evaluated], production[evaluated])
        version = registry.ModelVersion("flights", "0001", "", {"metrics": {"auc": measured}})
        picked = rng.integers(0, len(labels), n)
        group = {"role": "production", "version": "0001", "labelled": n, "drift_share": None}
        window = {"groups": [group | {"auc": roc_auc_score(labels[picked], live[picked])}]}
        fired += any(reason.startswith("live AUC") for reason in triggers(POLICY, [window], version, as_of))
    return fired / TRIALS


def test_the_auc_trigger_rarely_fires_on_a_model_that_held_and_mostly_on_one_that_fell(week):
    n, margin = POLICY.min_outcomes, POLICY.auc_margin
    held = {size: fire_rate(week, 0.0, size) for size in (n, 1_400)}
    fell = {size: fire_rate(week, 0.05, size) for size in (n, 1_400)}
    print(
        f"\nAUC trigger (margin {margin}, evaluated on {EVALUATED_ON:,} flights), {TRIALS} trials per check:"
        + "".join(
            f"\n  {size:,} outcomes: fires {held[size]:.1%} on a model that held, {fell[size]:.1%} on one 0.05 lower"
            for size in held
        )
    )
    assert held[n] <= 0.10 and fell[1_400] >= 0.80
