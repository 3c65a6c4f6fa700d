import json
from pathlib import Path

import pandas as pd
import pytest

from loopline.config import load_config
from loopline.errors import ValidationFailed
from loopline.steps.validate import validate
from tests.conftest import SMALL_SPLIT, write_config

pytestmark = pytest.mark.slow


def test_clean_example_splits_pass_with_statistics_schema_anomalies_and_html(
    example_splits, small_config_session, tmp_path
):
    result = validate(load_config(small_config_session), *example_splits, str(tmp_path))
    assert result.anomalies == []
    for name in ("train_stats.pbtxt", "eval_stats.pbtxt", "schema.pbtxt", "anomalies.pbtxt", "report.html"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert not result.summary["schema_inferred"]
    assert set(result.summary["drift"]) == {"carrier", "origin", "distance"}
    assert result.summary["train"]["distance"]["mean"] > 500
    assert "no anomalies" in result.html


def spoiled_eval(example_splits, tmp_path, change) -> str:
    frame = change(pd.read_parquet(example_splits[1]))
    path = tmp_path / "eval.parquet"
    frame.to_parquet(path)
    return str(path)


def test_an_unseen_carrier_stops_with_a_readable_report(example_splits, small_config_session, tmp_path):
    def new_carrier(frame):
        frame.loc[frame.index[:50], "carrier"] = "ZZ"
        return frame

    bad_eval = spoiled_eval(example_splits, tmp_path, new_carrier)
    with pytest.raises(ValidationFailed) as failure:
        validate(load_config(small_config_session), example_splits[0], bad_eval, str(tmp_path / "out"))
    message = str(failure.value)
    assert "eval  carrier: Unexpected string values" in message and "ZZ" in message
    assert "ZZ" in (tmp_path / "out" / "report.html").read_text()


def test_drift_beyond_its_threshold_is_an_anomaly(example_splits, tmp_path):
    config = load_config(
        write_config(
            tmp_path, split=SMALL_SPLIT, validation={"schema_file": "flights.pbtxt", "drift": {"distance": 0.01}}
        )
    )
    bad_eval = spoiled_eval(example_splits, tmp_path, lambda f: f[f.distance > 1000])
    with pytest.raises(ValidationFailed, match="distance"):
        validate(config, example_splits[0], bad_eval, str(tmp_path / "out"))
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["drift"]["distance"]["value"] > 0.01


def test_without_a_curated_schema_one_is_inferred_written_and_said(example_splits, tmp_path):
    config = load_config(write_config(tmp_path, split=SMALL_SPLIT, validation={"schema_file": "none-yet.pbtxt"}))
    # An inferred schema knows only train's values: eval's new plane makers are anomalies, which is
    # why the curated flights schema keeps no domain for plane_manufacturer.
    with pytest.raises(ValidationFailed, match="plane_manufacturer"):
        validate(config, *example_splits, str(tmp_path / "out"))
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["schema_inferred"]
    assert "Review it and check it in" in (tmp_path / "out" / "report.html").read_text()
    assert Path(tmp_path / "out" / "schema.pbtxt").read_text().count("feature {") >= 20
