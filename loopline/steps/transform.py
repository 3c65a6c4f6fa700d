"""Transform: each split's events as training examples, through the loaded feature store's
service (point in time) and the model contract's `make_features`."""

import pandas as pd

from loopline import storage
from loopline.config import Config
from loopline.features import store
from loopline.model_io import make_features


def transform(rows: pd.DataFrame, config: Config) -> pd.DataFrame:
    """Features plus the label: the training examples of one split."""
    return make_features(rows, config).assign(**{config.label.name: rows[config.label.name].astype("int64")})


def transform_splits(config: Config, repo_path: str, splits: list[tuple[str, str]]) -> dict[str, int]:
    """Turn each split's events (input URI) into examples (output URI) through the loaded feature
    store's service, point in time. Returns the rows written per output URI."""
    rows = {}
    for events_uri, examples_uri in splits:
        examples = transform(store.training_set(config, storage.read_frame(events_uri), repo_path), config)
        storage.write_frame(examples, examples_uri)
        rows[examples_uri] = len(examples)
    return rows
