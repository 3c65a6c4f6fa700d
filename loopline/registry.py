"""A versioned model registry in a folder: local path or gs://bucket/prefix.

    <registry>/<model>/versions/0001/claim.json     the number, taken by an exclusive create
    <registry>/<model>/versions/0001/model/...      the exported SavedModel
    <registry>/<model>/versions/0001/reference.parquet  a sample of the model inputs it trained on
    <registry>/<model>/versions/0001/version.json   metadata, written last: marks the copy complete
    <registry>/<model>/production.json              the production pointer
    <registry>/<model>/canary.json                  the canary pointer: a contender on live traffic
    <registry>/<model>/decisions/<at>-<action>-<version>.json   each promotion, rollback and
                                                    retraining, with its evidence
    <registry>/<model>/monitoring/<end>-<start>.json  each monitored window's figures (the policy reads them)
    <registry>/<model>/retraining.json              the last retraining: open (claimed) or ended

Safe under concurrency: a version number is claimed by creating its claim exclusively (O_EXCL
locally, generation 0 as a GCS precondition), so racing pushes get distinct numbers. A pointer
moves by compare-and-swap from the version its mover saw (evaluate's baseline, for a push): if
another push moved it in the meantime the move is refused and the pointer left alone. A push
copies everything first and moves the pointer last, so a crash at any point leaves the previous
production model in place; an incomplete version is never pointed at. A pointer is cleared by
the same compare-and-swap (it then names no version): promoting a canary is moving production
to it and clearing the canary; rolling it back is clearing it (the version stays).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from loopline import storage
from loopline.errors import RegistryError

PRODUCTION = "production"
CANARY = "canary"
POINTERS = (PRODUCTION, CANARY)
POINTER = f"{PRODUCTION}.json"
MARKER = "version.json"
REFERENCE = "reference.parquet"
CLAIM = "claim.json"
RETRAINING = "retraining.json"


class RetrainingOpen(RegistryError):
    """Another retraining of the model is open: at most one at a time."""


class PointerMoved(RegistryError):
    """A pointer was not where its mover saw it: another process moved it first."""

    def __init__(self, pointer: str, expected: str | None, found: str | None):
        self.pointer, self.expected, self.found = pointer, expected, found
        super().__init__(
            f"{pointer} changed from {expected or 'none'} to {found or 'none'} during evaluation"
            if pointer == PRODUCTION
            else f"{pointer} changed from {expected or 'none'} to {found or 'none'}"
        )


@dataclass(frozen=True)
class ModelVersion:
    model: str
    version: str
    uri: str
    metadata: dict = field(default_factory=dict)


def _model_root(registry: str, model: str) -> str:
    return storage.join(registry, model)


def _pointer_uri(registry: str, model: str, pointer: str) -> str:
    return storage.join(_model_root(registry, model), f"{pointer}.json")


def _read_pointer(registry: str, model: str, pointer: str) -> tuple[str | None, str | None]:
    """The pointer's text and the version it names; (None, None) when it does not exist."""
    uri = _pointer_uri(registry, model, pointer)
    try:
        text = storage.read_text(uri)
    except FileNotFoundError:
        return None, None
    return text, _version_of(text, uri)


def _version_of(text: str | None, uri: str) -> str | None:
    if text is None:
        return None
    try:
        return json.loads(text)["version"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise RegistryError(f"{uri} is not valid JSON naming a version") from None


def pointed(registry: str, model: str, pointer: str = PRODUCTION) -> ModelVersion | None:
    """The version a pointer names (production by default), or None when it is not set."""
    _, version = _read_pointer(registry, model, pointer)
    return get(registry, model, version) if version else None


def production(registry: str, model: str) -> ModelVersion | None:
    """The model version in production, or None before the first push."""
    return pointed(registry, model, PRODUCTION)


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


def moved_at(registry: str, model: str, pointer: str) -> datetime | None:
    """When `pointer` last moved, or None when it was never set."""
    text, _ = _read_pointer(registry, model, pointer)
    return datetime.fromisoformat(json.loads(text)["moved_at"]) if text else None


def promote(registry: str, model: str, version: str | None = None, evidence: dict | None = None) -> dict:
    """Make `version` (default: the canary) production, by compare-and-swap from the production
    seen, and clear the canary if it named it; the decision is recorded with its `evidence`."""
    before = production(registry, model)
    canary = pointed(registry, model, CANARY)
    version = version or (canary and canary.version)
    if version is None:
        raise RegistryError(f"model {model} has no canary to promote in {registry}: name a version")
    if before and before.version == version:
        raise RegistryError(f"version {version} is already in production")
    move(registry, model, PRODUCTION, before and before.version, version)
    if canary and canary.version == version:
        clear(registry, model, CANARY, version)
    return decide(registry, model, "promote", version, before and before.version, evidence)


def roll_back(registry: str, model: str, version: str | None = None, evidence: dict | None = None) -> dict:
    """Clear the canary if it still names `version` (default: whichever it names); the version
    stays in the registry, and the decision is recorded."""
    canary = pointed(registry, model, CANARY)
    if canary is None:
        raise RegistryError(f"model {model} has no canary to roll back in {registry}")
    clear(registry, model, CANARY, version or canary.version)
    current = production(registry, model)
    return decide(registry, model, "rollback", version or canary.version, current and current.version, evidence)


def decide(registry: str, model: str, action: str, version: str, production_version: str | None, evidence) -> dict:
    """Append a decision (promote, rollback, retrain) about `version` to the decisions log."""
    at = datetime.now(UTC)
    decision = {
        "at": at.isoformat(timespec="seconds"),
        "action": action,
        "version": version,
        "production_before": production_version,
        "evidence": evidence or {"by": "hand"},
    }
    name = f"{at:%Y%m%dT%H%M%S%f}-{action}-{version}.json"
    storage.create_exclusive(storage.join(_model_root(registry, model), "decisions", name), json.dumps(decision))
    return decision


def decisions(registry: str, model: str) -> list[dict]:
    """Every promotion, rollback and retraining, oldest first."""
    root = storage.join(_model_root(registry, model), "decisions")
    return [json.loads(storage.read_text(storage.join(root, name))) for name in sorted(storage.list_dir(root))]


def record_window(registry: str, model: str, monitored: dict) -> None:
    """Keep a monitored window's figures (`Monitoring.as_dict()`); the same window again replaces them."""
    stamp = "-".join(
        datetime.fromisoformat(monitored[k]).astimezone(UTC).strftime("%Y%m%dT%H%M%S") for k in ("end", "start")
    )
    storage.write_text(storage.join(_model_root(registry, model), "monitoring", f"{stamp}.json"), json.dumps(monitored))


def monitored_windows(registry: str, model: str) -> list[dict]:
    """Every monitored window's figures, by window end, oldest first."""
    root = storage.join(_model_root(registry, model), "monitoring")
    return [json.loads(storage.read_text(storage.join(root, name))) for name in sorted(storage.list_dir(root))]


def last_retraining(registry: str, model: str) -> dict | None:
    """The last retraining (`open` while its run lasts), or None before the first."""
    try:
        return json.loads(storage.read_text(storage.join(_model_root(registry, model), RETRAINING)))
    except FileNotFoundError:
        return None


def claim_retraining(registry: str, model: str, at: datetime, reason: str, expires: timedelta) -> dict:
    """Open the model's one retraining at `at` (the caller's clock) for `reason`, by
    compare-and-swap; RetrainingOpen if another is open and was claimed less than `expires`
    before `at` (an older claim is a run that died: taken over)."""
    uri = storage.join(_model_root(registry, model), RETRAINING)
    try:
        seen = storage.read_text(uri)
    except FileNotFoundError:
        seen = None
    last = json.loads(seen) if seen else None
    if last and last["open"] and at - datetime.fromisoformat(last["at"]) < expires:
        raise RetrainingOpen(f"a retraining of {model} is open since {last['at']} ({last['reason']})")
    claim = {"open": True, "at": at.isoformat(), "reason": reason, "ended": None, "outcome": None}
    if storage.compare_and_swap(uri, seen, json.dumps(claim)) != seen:
        raise RetrainingOpen(f"another process opened a retraining of {model} first")
    return claim


def release_retraining(registry: str, model: str, claim: dict, ended: datetime, outcome: str) -> None:
    """Close the retraining `claim` opened, saying how it ended; a claim taken over meanwhile is left alone."""
    uri = storage.join(_model_root(registry, model), RETRAINING)
    closed = {**claim, "open": False, "ended": ended.isoformat(), "outcome": outcome}
    storage.compare_and_swap(uri, json.dumps(claim), json.dumps(closed))


def reference(registry: str, model: str, version: str):
    """The sample of model inputs `version` trained on (a DataFrame), or None if it has none."""
    uri = storage.join(_model_root(registry, model), "versions", version, REFERENCE)
    return storage.read_frame(uri) if storage.exists(uri) else None


def _claim_version(registry: str, model: str, claimed_at: str) -> str:
    """A new version number, taken atomically: the lowest above every number seen whose claim
    this process creates first."""
    root = storage.join(_model_root(registry, model), "versions")
    number = max((int(v) for v in storage.list_dir(root) if v.isdigit()), default=0) + 1
    while not storage.create_exclusive(storage.join(root, f"{number:04d}", CLAIM), json.dumps({"at": claimed_at})):
        number += 1
    return f"{number:04d}"


def move(registry: str, model: str, pointer: str, expected: str | None, version: str | None) -> None:
    """Point `pointer` at `version` (None: clear it) if it still names `expected` (None: not set);
    PointerMoved if not."""
    if pointer not in POINTERS:
        raise RegistryError(f"no pointer {pointer!r}: the pointers are {', '.join(POINTERS)}")
    if version is not None:
        get(registry, model, version)  # only a complete version is ever pointed at
    uri = _pointer_uri(registry, model, pointer)
    seen, current = _read_pointer(registry, model, pointer)
    if current != expected:
        raise PointerMoved(pointer, expected, current)
    text = json.dumps({"version": version, "moved_at": datetime.now(UTC).isoformat(timespec="seconds")})
    found = storage.compare_and_swap(uri, seen, text)
    if found != seen:
        raise PointerMoved(pointer, expected, _version_of(found, uri))


def clear(registry: str, model: str, pointer: str, expected: str | None) -> None:
    """Make `pointer` name no version if it still names `expected`; PointerMoved if not."""
    move(registry, model, pointer, expected, None)


def push(
    registry: str,
    model: str,
    model_dir: str,
    metadata: dict,
    expected: str | None,
    pointer: str = PRODUCTION,
    reference=None,
) -> ModelVersion:
    """Copy `model_dir` in as a new version (with `reference`, a DataFrame of the model inputs it
    trained on, when given) and point `pointer` (production, or canary for a contender to be
    judged on live traffic) at it if that pointer still names `expected` (None for none). If it
    moved, PointerMoved: the new version stays in the registry, not pointed at."""
    pushed_at = datetime.now(UTC).isoformat(timespec="seconds")
    version = _claim_version(registry, model, pushed_at)
    root = storage.join(_model_root(registry, model), "versions", version)
    metadata = {**metadata, "version": version, "pushed_at": pushed_at}
    storage.upload_dir(model_dir, storage.join(root, "model"))
    if reference is not None:
        storage.write_frame(reference, storage.join(root, REFERENCE))
    storage.write_text(storage.join(root, MARKER), json.dumps(metadata, indent=1, sort_keys=True))
    try:
        move(registry, model, pointer, expected, version)
    except PointerMoved as moved:
        moved.args = (f"{moved}; version {version} stays in the registry, not in {pointer}",)
        raise
    return ModelVersion(model, version, storage.join(root, "model"), metadata)
