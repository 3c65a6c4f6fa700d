"""The time window a pipeline run covers. A run started by hand (or by the replay, on its own
clock) names it; a recurring run on Kubeflow leaves it empty and takes it from the time it runs:
KFP v2 expands no date macro in a recurring run's parameters (kubeflow/pipelines#12494), and
kfp.local cannot resolve the schedule-time placeholder, so the clock is read by the run's first
task and every later task gets the same window from it.

- training: the policy's `training_days` ending `label_delay_days` before the run's day (the
  window a retraining on the replay's clock uses);
- features: up to the minute the run starts;
- monitoring: the local day before the run's day.
"""

from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from loopline.config import Config
from loopline.errors import DataError
from loopline.events import parse_date

PIPELINES = ("training", "features", "monitoring")


@dataclass(frozen=True)
class Window:
    start: str  # ISO 8601, as the pipelines' parameters take it; "" where the pipeline has no start
    end: str


def training_end(config: Config, as_of: pd.Timestamp) -> date:
    """The day a training window on the clock `as_of` ends (exclusive): `label_delay_days` before
    the clock's day in the source's time zone, so that its flights' outcomes are in."""
    delay = timedelta(days=config.monitoring.policy.label_delay_days)
    return as_of.tz_convert(config.source.timezone).date() - delay


def training_window(config: Config, as_of: pd.Timestamp) -> tuple[date, date]:
    """The days a retraining on the clock `as_of` trains on: `training_days` up to `training_end`."""
    end = training_end(config, as_of)
    return end - timedelta(days=config.monitoring.policy.training_days), end


def run_window(config: Config, pipeline: str, start: str, end: str, now: pd.Timestamp) -> Window:
    """[start, end) of a `pipeline` run at `now` (aware): what was given, the rest filled in."""
    if pipeline not in PIPELINES:
        raise DataError(f"pipeline {pipeline!r} is not one of {', '.join(PIPELINES)}")
    zone = config.source.timezone
    if pipeline == "features":
        return Window("", end or now.tz_convert("UTC").floor("min").isoformat())
    if pipeline == "training" and not end:
        first, last = training_window(config, now)
        start, end = start or first.isoformat(), last.isoformat()
    elif not end:
        day = now.tz_convert(zone).date()
        start, end = start or (day - timedelta(days=1)).isoformat(), day.isoformat()
    if not start:
        raise DataError(f"start is empty: with end {end} given, give start too")
    if parse_date(start, "start", zone) >= parse_date(end, "end", zone):
        raise DataError(f"start {start} is not before end {end}")
    return Window(start, end)
