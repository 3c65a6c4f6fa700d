"""Ingest: read the event table from a source, label, and split by time.

Events in the window [start, end) are kept; the last `eval_days` of the window become the eval
split, so evaluation always looks at the future of what training saw.
"""

from dataclasses import dataclass

import pandas as pd

from loopline import storage
from loopline.config import Config
from loopline.errors import DataError
from loopline.events import label, parse_window, read_events


@dataclass(frozen=True)
class IngestSummary:
    train_rows: int
    eval_rows: int
    train_positive_rate: float
    eval_positive_rate: float
    eval_start: str


def split(config: Config, events: pd.DataFrame, start: str, end: str) -> dict[str, pd.DataFrame]:
    """The window's labelled events in time order, as {"train": ..., "eval": ...}; a bad window, or
    one that leaves a split empty, is an error naming it."""
    begin, finish = parse_window(start, end, config.source.timezone)
    stamp = events[config.source.timestamp]
    events = events[(stamp >= begin) & (stamp < finish)].sort_values(config.source.timestamp, kind="stable")
    if events.empty:
        raise DataError(f"no events in the window [{start}, {end}) of table '{config.source.table}'")
    events = label(events, config)
    eval_start = finish - pd.Timedelta(days=config.split.eval_days)
    is_eval = events[config.source.timestamp] >= eval_start
    splits = {"train": events[~is_eval], "eval": events[is_eval]}
    for name, rows in splits.items():
        if rows.empty:
            raise DataError(f"the {name} split of [{start}, {end}) is empty (split.eval_days={config.split.eval_days})")
    return splits


def ingest(config: Config, source: str, start: str, end: str, train_uri: str, eval_uri: str) -> IngestSummary:
    """Read, window, label and split; write train and eval as Parquet, in time order."""
    splits = split(config, read_events(config, source), start, end)
    for rows, uri in ((splits["train"], train_uri), (splits["eval"], eval_uri)):
        storage.write_frame(rows.reset_index(drop=True), uri)
    rate = {name: float(rows[config.label.name].mean()) for name, rows in splits.items()}
    return IngestSummary(
        train_rows=len(splits["train"]),
        eval_rows=len(splits["eval"]),
        train_positive_rate=rate["train"],
        eval_positive_rate=rate["eval"],
        eval_start=(
            parse_window(start, end, config.source.timezone)[1] - pd.Timedelta(days=config.split.eval_days)
        ).isoformat(),
    )
