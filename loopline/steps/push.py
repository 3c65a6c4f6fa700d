"""Push: a blessed model into the registry as a new version, made production atomically, with a
sample of the model inputs it trained on (the reference its served inputs are compared with)."""

import pandas as pd

from loopline import registry
from loopline.config import Config
from loopline.errors import RegistryError
from loopline.model_io import make_features

REFERENCE_ROWS = 20_000
TARGETS = {"production": registry.PRODUCTION, "canary": registry.CANARY, "shadow": registry.CANARY}


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
    push_to: str = "production",
) -> registry.ModelVersion:
    """Register the model (and its `reference` sample) and point `push_to` at it: production,
    moved from `baseline`, the version it was judged against (registry.PointerMoved when
    production is no longer `baseline`); or the canary, to be judged on live outcomes before it
    may replace production ("shadow" too: the server's --shadow makes it score every request
    while production answers). Refuses a model that is not blessed."""
    if push_to not in TARGETS:
        raise RegistryError(f"push_to must be one of {', '.join(TARGETS)}, got {push_to!r}")
    if not blessed:
        raise RegistryError(f"model {model_dir} is not blessed: it is never pushed")
    pointer = TARGETS[push_to]
    if pointer != registry.PRODUCTION:  # a contender replaces whichever canary there was
        current = registry.pointed(registry_uri, model_name, pointer)
        baseline = current and current.version
    return registry.push(registry_uri, model_name, model_dir, metadata, baseline, pointer, reference)
