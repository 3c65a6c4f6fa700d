"""The feature store, online: one request's rows with the feature service's current values, and
whether the online store can answer at all."""

import contextlib
import os
import time
from pathlib import Path

import pandas as pd

from loopline.config import ENVIRONMENT, Config
from loopline.errors import LooplineError
from loopline.features.store import feature_store, online_horizon, push_online

# Feast's file registry is rewritten in place (truncated, then written) by every load, so a read
# can meet it half written: a failed read is tried again, READS times in all, PAUSE seconds apart.
READS, PAUSE = 3, 0.05
UNKNOWN_KEY = ""  # looked up for a null key: no request value is empty, so it matches nothing


class OnlineStoreUnavailable(LooplineError):
    """The online store cannot be read (gone, emptied, out of reach); the message says why."""


class OnlineFeatures:
    """Reads the config's feature service from a Feast repository's online store."""

    def __init__(self, config: Config, config_ref: str, repo_path: str, fs_yaml_file: str | Path | None = None):
        self.config, self.repo_path = config, repo_path
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
        self.problem: str | None = None  # why the online store cannot answer, from the last check
        self.horizon: pd.Timestamp | None = None  # the batch views are loaded up to here

    def rows(self, requests: pd.DataFrame) -> pd.DataFrame:
        """`requests` with every served feature, as of now in the online store (missing: None);
        OnlineStoreUnavailable when the store cannot be read."""
        entity_rows = {  # columns: no per-row dicts
            key: [UNKNOWN_KEY if v is None else v for v in requests[key].tolist()] for key in self.keys
        }
        for attempt in range(READS):
            try:
                served = self._read(entity_rows)
                break
            except Exception as error:  # a dropped table, a store away: the store's fault, not the request's
                if attempt + 1 < READS:  # or a registry read while a load rewrote it: read it again
                    time.sleep(PAUSE)
                    with contextlib.suppress(Exception):  # torn again: the next read says
                        self.store.refresh_registry()
                    continue
                self.problem = f"the online store of {self.repo_path} cannot be read: {type(error).__name__}: {error}"
                raise OnlineStoreUnavailable(f"{self.problem}; run `loopline features load`") from None
        given = {name: requests[name].array for name in requests}  # dtypes kept, no index to align
        return pd.DataFrame(given | {name: column for name, column in served.items() if name not in given})

    def _read(self, entity_rows: dict[str, list]) -> dict[str, list]:
        return self.store.get_online_features(features=self.service, entity_rows=entity_rows).to_dict()

    def check(self, probe: pd.DataFrame) -> str | None:
        """Read the registry afresh and look `probe` up: the problem, or None when the store answers.
        A registry read while a load rewrites it is read again before it counts."""
        for attempt in range(READS):
            if attempt:
                time.sleep(PAUSE)
            try:
                self.store.refresh_registry()
                self.horizon = online_horizon(self.store)
                self.rows(probe)
            except OnlineStoreUnavailable:
                continue
            except Exception as error:  # the registry itself is unreadable
                reason = f"{type(error).__name__}: {error}"
                self.problem = f"the feature registry of {self.repo_path} cannot be read: {reason}"
                continue
            self.problem = None
            return None
        return self.problem

    def push(self, stream: str, events: pd.DataFrame) -> None:
        """Push `events` to a stream's online store (the next feature load appends them offline),
        as the replay's feature step does (`push_online`: 5-10% of serving an hour less than
        Feast's `push`, which lists every kind of view at each call)."""
        if len(events):
            push_online({stream: events}, self.repo_path, self.store)
