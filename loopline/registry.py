"""A versioned model registry in a folder: local path or gs://bucket/prefix.

    <registry>/<model>/versions/0001/model/...     the exported SavedModel
    <registry>/<model>/versions/0001/version.json  metadata, written last: marks the copy complete
    <registry>/<model>/production.json             the production pointer, replaced atomically

A push copies everything first and moves the pointer last, so a crash at any point leaves the
previous production model in place; an incomplete version folder is never pointed at.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from loopline import storage
from loopline.errors import RegistryError

POINTER = "production.json"
MARKER = "version.json"


@dataclass(frozen=True)
class ModelVersion:
    model: str
    version: str
    uri: str
    metadata: dict = field(default_factory=dict)


def _model_root(registry: str, model: str) -> str:
    return storage.join(registry, model)


def production(registry: str, model: str) -> ModelVersion | None:
    """The model version in production, or None before the first push."""
    pointer = storage.join(_model_root(registry, model), POINTER)
    try:
        data = json.loads(storage.read_text(pointer))
    except FileNotFoundError:
        return None
    except json.JSONDecodeError:
        raise RegistryError(f"{pointer} is not valid JSON") from None
    return get(registry, model, data["version"])


def get(registry: str, model: str, version: str) -> ModelVersion:
    root = storage.join(_model_root(registry, model), "versions", version)
    try:
        metadata = json.loads(storage.read_text(storage.join(root, MARKER)))
    except FileNotFoundError:
        raise RegistryError(f"model {model} version {version} is missing or incomplete in {registry}") from None
    return ModelVersion(model, version, storage.join(root, "model"), metadata)


def versions(registry: str, model: str) -> list[str]:
    """Complete versions, oldest first."""
    root = storage.join(_model_root(registry, model), "versions")
    return [v for v in storage.list_dir(root) if storage.exists(storage.join(root, v, MARKER))]


def _next_version(registry: str, model: str) -> str:
    taken = [int(v) for v in storage.list_dir(storage.join(_model_root(registry, model), "versions")) if v.isdigit()]
    return f"{max(taken, default=0) + 1:04d}"


def push(registry: str, model: str, model_dir: str, metadata: dict) -> ModelVersion:
    """Copy `model_dir` in as a new version and make it production; returns the new version."""
    version = _next_version(registry, model)
    root = storage.join(_model_root(registry, model), "versions", version)
    pushed_at = datetime.now(UTC).isoformat(timespec="seconds")
    metadata = {**metadata, "version": version, "pushed_at": pushed_at}
    storage.upload_dir(model_dir, storage.join(root, "model"))
    storage.write_text(storage.join(root, MARKER), json.dumps(metadata, indent=1, sort_keys=True))
    pointer = {"version": version, "promoted_at": pushed_at}
    storage.write_text(storage.join(_model_root(registry, model), POINTER), json.dumps(pointer))
    return ModelVersion(model, version, storage.join(root, "model"), metadata)
