"""The models a server answers with, following the registry's pointers.

`production` answers every request unless a `canary` pointer is set: then `canary_percent` of
requests, chosen by a hash of the request id (a retry lands on the same model), go to the
canary; in shadow mode the canary scores every request and production answers. A model that
fails to load leaves the one before it serving; the reason is logged and kept for /ready.
"""

import hashlib
import logging
from dataclasses import dataclass

import numpy as np

from loopline import model_io, registry, storage
from loopline.config import Config
from loopline.registry import CANARY, POINTERS, PRODUCTION

log = logging.getLogger("loopline.serving")


@dataclass(frozen=True)
class Loaded:
    """One registry version, loaded: its number and its serving signature."""

    version: str
    serve: object

    def score(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        return model_io.score(self.serve, inputs)


@dataclass(frozen=True)
class Route:
    """Who answers a request, and who scores it in the shadow."""

    answer: Loaded
    role: str
    shadow: Loaded | None = None


class RegistryModels:
    """The loaded production and canary versions of one model, kept in step with the registry."""

    def __init__(self, registry_uri: str, config: Config, canary_percent: float = 0.0, shadow: bool = False):
        self.registry_uri, self.config = registry_uri, config
        self.canary_percent, self.shadow = canary_percent, shadow
        self.loaded: dict[str, Loaded | None] = dict.fromkeys(POINTERS)
        self.problems: dict[str, str] = {}

    def refresh(self) -> None:
        """Load whichever pointer moved, warmed up (`model_io.warm_up`); a version already loaded
        under the other pointer (a promoted canary) is taken as it is. A version that fails to
        load leaves the old one serving."""
        held = {found.version: found for found in self.loaded.values() if found is not None}
        for pointer in POINTERS:
            try:
                wanted = registry.pointed(self.registry_uri, self.config.name, pointer)
            except Exception as error:  # an unreadable pointer: keep serving, say why
                self._problem(pointer, f"cannot read the {pointer} pointer: {error}")
                continue
            current = self.loaded[pointer]
            if wanted is None:
                if current is not None:
                    log.warning("%s pointer removed: %s %s no longer serves", pointer, pointer, current.version)
                self.loaded[pointer] = None
                continue
            if current is not None and current.version == wanted.version:
                continue
            loaded = held.get(wanted.version)
            if loaded is None:
                try:
                    loaded = Loaded(wanted.version, _load(wanted.uri))
                    warm = model_io.warm_up(loaded.serve, self.config)
                except Exception as error:
                    self._problem(pointer, f"version {wanted.version} failed to load: {error}")
                    continue
                log.warning("version %s loaded; its first call, at load, took %.0f ms", wanted.version, warm)
            self.loaded[pointer] = loaded  # one assignment: a request in flight keeps the model it took
            self.problems.pop(pointer, None)
            log.warning("%s is now version %s", pointer, wanted.version)

    def _problem(self, pointer: str, message: str) -> None:
        if self.problems.get(pointer) != message:
            log.error(
                "%s: %s; still serving %s", pointer, message, self.loaded[pointer] and self.loaded[pointer].version
            )
        self.problems[pointer] = message

    def route(self, request_id: str) -> Route:
        """The model that answers `request_id`, deterministic in the id."""
        production, canary = self.loaded[PRODUCTION], self.loaded[CANARY]
        if production is None:
            raise LookupError(f"no model '{self.config.name}' in production in {self.registry_uri}")
        if canary is None:
            return Route(production, PRODUCTION)
        if self.shadow:
            return Route(production, PRODUCTION, shadow=canary)
        if _bucket(request_id) < self.canary_percent:
            return Route(canary, CANARY)
        return Route(production, PRODUCTION)


def _bucket(request_id: str) -> float:
    """A number in [0, 100) fixed by the request id."""
    digest = hashlib.sha256(request_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100


def _load(uri: str):
    """The serving signature of the SavedModel at `uri` (local, or gs:// downloaded to a folder
    of its own that lives as long as the process)."""
    import tempfile

    if not storage.is_gcs(uri):
        return model_io.load(uri)
    return model_io.load(str(storage.download_dir(uri, tempfile.mkdtemp(prefix="loopline-model-"))))
