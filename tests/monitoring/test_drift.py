"""The monitor's drift report (Evidently) on served model inputs, whatever a day left empty, and
the drift trigger's error rates by simulation on real days: a week after the training weeks
(nothing changed) and the same days with their schedule tilted towards long routes (drifted).
The measured rates are printed."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopline.config import load_config
from loopline.model_io import families
from loopline.monitoring.monitor import _drift, drift_report
from loopline.steps.push import reference_sample

pytestmark = pytest.mark.slow

CONFIG = load_config("flights")
POLICY = CONFIG.monitoring.policy
COLUMNS = [c for names in families(CONFIG).values() for c in names]
END = pd.Timestamp("2013-01-29", tz="UTC")


@pytest.fixture(scope="module")
def reference(examples) -> pd.DataFrame:
    return reference_sample(examples[0], CONFIG)


def served(reference: pd.DataFrame, count: int, empty: set[str] = frozenset()) -> list[dict]:
    """`count` reference rows drawn at random, as the server logs model inputs (JSON values: None
    where missing), with the `empty` columns unreported all day."""
    frame = reference[COLUMNS].sample(count, random_state=1).astype(object)
    frame = frame.where(frame.notna(), None)
    return [row | dict.fromkeys(empty) for row in frame.to_dict("records")]


def shifted(reference: pd.DataFrame) -> list[dict]:
    """500 reference rows on longer routes flown by older planes."""
    return [row | {"distance": row["distance"] + 1000, "plane_year": 1980.0} for row in served(reference, 500)]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(empty=st.sets(st.sampled_from(COLUMNS), max_size=4))
def test_a_day_with_columns_never_reported_is_judged_not_refused(reference, empty):
    share, drifted = _drift(drift_report(CONFIG, served(reference, 150, empty), reference, END, []).dict())
    assert 0 <= share <= 1 and drifted <= len(COLUMNS)


def test_inputs_like_the_reference_do_not_drift_and_shifted_ones_do(reference):
    same = _drift(drift_report(CONFIG, served(reference, 500), reference, END, []).dict())
    moved = _drift(drift_report(CONFIG, shifted(reference), reference, END, []).dict())
    assert same[0] < 0.2 and moved[1] >= same[1] + 2, (same, moved)  # (share, columns drifted)


def test_the_count_alone_agrees_with_the_preset(reference):
    """A replay's monitor asks Evidently for the drifted columns' count alone: the same figures."""
    for inputs in (served(reference, 500), shifted(reference)):
        preset, count = (_drift(drift_report(CONFIG, inputs, reference, END, [], d).dict()) for d in (True, False))
        assert preset == count


def days(examples: pd.DataFrame) -> list[pd.DataFrame]:
    """Examples (in time order) split into days: a day ends where the weekday changes."""
    day = examples["weekday"].ne(examples["weekday"].shift()).cumsum()
    return [rows for _, rows in examples.groupby(day)]


def tilted(day: pd.DataFrame, reference: pd.DataFrame, strength: float, seed: int) -> list[dict]:
    """60% of a day's flights drawn with weights exp(`strength` x the distance in the reference's
    standard deviations): 0 leaves the day as it was, 2 a schedule moved towards long routes."""
    z = (day["distance"] - reference["distance"].mean()) / reference["distance"].std()
    weights = np.exp(strength * z.to_numpy(float))
    picked = day.sample(n=int(len(day) * 0.6), weights=weights / weights.sum(), random_state=seed)
    frame = picked[COLUMNS].astype(object)
    return frame.where(frame.notna(), None).to_dict("records")


def firing_rate(reference: pd.DataFrame, served: list[pd.DataFrame], strength: float) -> float:
    """The share of days whose drift share reaches the policy's threshold."""
    shares = [
        _drift(drift_report(CONFIG, tilted(day, reference, strength, seed), reference, END, [], False).dict())[0]
        for seed, day in enumerate(served)
    ]
    return float(np.mean([share >= POLICY.drift_share for share in shares]))


def test_the_drift_trigger_rarely_fires_on_a_later_week_and_mostly_on_a_shifted_schedule(examples, reference):
    week = days(examples[1])  # 22-28 January, after the reference's 1-21
    held, moved = firing_rate(reference, week, 0.0), firing_rate(reference, week, 2.0)
    print(
        f"\ndrift trigger (p < {CONFIG.monitoring.drift.threshold}, share >= {POLICY.drift_share} of the judged "
        f"columns) on {len(week)} days of every flight: a day fires {held:.0%} of the time when nothing changed, "
        f"{moved:.0%} when the schedule moved towards long routes; a streak of {POLICY.drift_windows} days: "
        f"{held**POLICY.drift_windows:.1%} and {moved**POLICY.drift_windows:.0%} if days were independent"
    )
    assert held <= 1 / len(week) and moved >= 0.8
