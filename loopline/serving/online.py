"""The feature store, online: one request's rows with the feature service's current values."""

import os
from pathlib import Path

import pandas as pd

from loopline.config import ENVIRONMENT, Config
from loopline.errors import LooplineError
from loopline.features.store import feature_store


class OnlineFeatures:
    """Reads the config's feature service from a Feast repository's online store."""

    def __init__(self, config: Config, config_ref: str, repo_path: str, fs_yaml_file: str | Path | None = None):
        self.config = config
        # The on-demand view reads the config LOOPLINE_CONFIG names, in this process for good.
        os.environ[ENVIRONMENT] = config_ref
        self.store = feature_store(repo_path, fs_yaml_file)
        try:
            self.service = self.store.get_feature_service(config.features.service)
        except Exception:  # Feast raises its own not-found error per registry type
            raise LooplineError(
                f"feature service '{config.features.service}' is not registered for {repo_path}"
            ) from None
        self.keys = [c for c in [*config.request_fields, config.source.timestamp, config.source.minute] if c]

    def rows(self, requests: pd.DataFrame) -> pd.DataFrame:
        """`requests` with every served feature, as of now in the online store (missing: None)."""
        entity_rows = {key: requests[key].tolist() for key in self.keys}  # columns: no per-row dicts
        served = self.store.get_online_features(features=self.service, entity_rows=entity_rows).to_dict()
        given = {name: requests[name].array for name in requests}  # dtypes kept, no index to align
        return pd.DataFrame(given | {name: column for name, column in served.items() if name not in given})

    def push(self, stream: str, events: pd.DataFrame) -> None:
        """Push `events` to a stream's online store (the next feature load appends them offline)."""
        from feast.data_source import PushMode

        if len(events):
            self.store.push(stream, events, to=PushMode.ONLINE)
