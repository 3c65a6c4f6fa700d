"""What a repository's store was last loaded from (`<data>/loaded.json`): the source's files, the
repository's definitions, the store's settings and the config, by content, and the time the
store holds them up to.
A load of the same source to that time or before finds everything in place and does nothing: a
retraining in a replay (or after the features pipeline) does not load the store again.
"""

import hashlib
import json
from pathlib import Path

import pandas as pd

from loopline import storage
from loopline.config import Config

MARKER = "loaded.json"


def fingerprint(config: Config, source: str, repo_path: str | Path, store) -> str:
    """A digest of the source folder's files, the repository's definitions, the Feast `store`'s
    settings (which online store, where) and the config."""
    digest = hashlib.blake2b(config.model_dump_json().encode(), digest_size=16)
    digest.update(store.config.model_dump_json().encode())
    for name in storage.list_dir(source):
        digest.update(name.encode())
        digest.update(storage.read_bytes(storage.join(source, name)))
    for path in sorted([*Path(repo_path).glob("*.py"), *Path(repo_path).glob("feature_store*.yaml")]):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def record(uri: str, digest: str, end: pd.Timestamp, rows: dict[str, int]) -> None:
    """Note at `uri` that the store holds the source with `digest` up to `end`, in `rows`."""
    storage.write_text(uri, json.dumps({"source": digest, "end": end.isoformat(), "rows": rows}))


def covered(uri: str, digest: str, end: pd.Timestamp) -> dict[str, int] | None:
    """The rows recorded at `uri` if the store holds the source with `digest` up to `end` or
    later; None if it must be loaded."""
    if not storage.exists(uri):
        return None
    try:
        noted = json.loads(storage.read_text(uri))
        holds = noted["source"] == digest and pd.Timestamp(noted["end"]) >= end
    except (ValueError, KeyError, TypeError):  # a marker from elsewhere: load
        return None
    return noted["rows"] if holds else None
