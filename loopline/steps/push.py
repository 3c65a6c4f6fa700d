"""Push: a blessed model into the registry as a new version, made production atomically, with a
sample of the model inputs it trained on (the reference its served inputs are compared with)."""

import pandas as pd

from loopline import registry
from loopline.config import Config
from loopline.errors import RegistryError
from loopline.model_io import make_features

REFERENCE_ROWS = 20_000


def reference_sample(examples: pd.DataFrame, config: Config, rows: int = REFERENCE_ROWS) -> pd.DataFrame:
    """Up to `rows` training examples as model inputs (the columns the prediction log keeps),
    drawn at random with a fixed seed."""
    sample = examples.sample(n=min(rows, len(examples)), random_state=0).sort_index()
    return make_features(sample, config).reset_index(drop=True)


def push(
    registry_uri: str,
    model_name: str,
    model_dir: str,
    blessed: bool,
    metadata: dict,
    baseline: str | None,
    reference: pd.DataFrame | None = None,
) -> registry.ModelVersion:
    """Register the model (and its `reference` sample) and move the production pointer from
    `baseline`, the version it was judged against; refuses a model that is not blessed, and
    raises registry.PointerMoved when production is no longer `baseline`."""
    if not blessed:
        raise RegistryError(f"model {model_dir} is not blessed: it is never pushed")
    return registry.push(registry_uri, model_name, model_dir, metadata, baseline, reference=reference)
