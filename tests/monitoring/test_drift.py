"""The monitor's drift report (Evidently) on served model inputs, whatever a day left empty."""

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


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(empty=st.sets(st.sampled_from(COLUMNS), max_size=4))
def test_a_day_with_columns_never_reported_is_judged_not_refused(reference, empty):
    share, drifted = _drift(drift_report(CONFIG, served(reference, 150, empty), reference, END, []).dict())
    assert 0 <= share <= 1 and drifted <= len(COLUMNS)


def test_inputs_like_the_reference_do_not_drift_and_shifted_ones_do(reference):
    same = _drift(drift_report(CONFIG, served(reference, 500), reference, END, []).dict())
    older = [row | {"distance": row["distance"] + 1000, "plane_year": 1980.0} for row in served(reference, 500)]
    moved = _drift(drift_report(CONFIG, older, reference, END, []).dict())
    assert same[0] < 0.2 and moved[1] >= same[1] + 2, (same, moved)  # (share, columns drifted)
