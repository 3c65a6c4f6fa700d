"""Files by URI: a local path or gs://bucket/key, the same calls for both.

Writes of a single object are atomic on both: a local file is written aside and renamed into
place, a GCS object becomes visible only when its upload completes. With STORAGE_EMULATOR_HOST
set (gcp-storage-emulator, for tests) the GCS client talks to the emulator anonymously.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

GCS = "gs://"


def is_gcs(uri: str) -> bool:
    return uri.startswith(GCS)


def join(uri: str, *parts: str) -> str:
    return "/".join([uri.rstrip("/"), *parts]) if is_gcs(uri) else str(Path(uri, *parts))


@lru_cache(maxsize=1)
def _client():
    from google.cloud import storage as gcs

    if os.environ.get("STORAGE_EMULATOR_HOST"):
        from google.auth.credentials import AnonymousCredentials

        return gcs.Client(project="loopline-local", credentials=AnonymousCredentials())
    return gcs.Client()


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len(GCS) :].partition("/")
    return bucket, key.strip("/")


def _blob(uri: str):
    bucket, key = _split(uri)
    return _client().bucket(bucket).blob(key)


def read_bytes(uri: str) -> bytes:
    """The object's bytes; FileNotFoundError naming the URI when it does not exist."""
    if not is_gcs(uri):
        return Path(uri).read_bytes()
    from google.api_core.exceptions import NotFound

    try:
        return _blob(uri).download_as_bytes()
    except NotFound:
        raise FileNotFoundError(uri) from None


def read_text(uri: str) -> str:
    return read_bytes(uri).decode()


def write_bytes(uri: str, data: bytes) -> None:
    """Replace the object at `uri` atomically: readers see the old or the new, never a part."""
    if is_gcs(uri):
        _blob(uri).upload_from_string(data)
        return
    path = Path(uri)
    tmp = _beside(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _beside(path: Path, data: bytes) -> Path:
    """`data` written and synced to a hidden file beside `path` (`list_dir` leaves it out), for
    the caller to move into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def write_text(uri: str, text: str) -> None:
    write_bytes(uri, text.encode())


def create_exclusive(uri: str, text: str) -> bool:
    """Create the object at `uri` holding `text` only if it does not exist yet; False if it did.
    Atomic among racing writers and readers: a hard link of a written file locally (a reader
    never sees it empty), generation 0 as a GCS precondition."""
    if is_gcs(uri):
        from google.api_core.exceptions import PreconditionFailed

        try:
            _blob(uri).upload_from_string(text.encode(), if_generation_match=0)
        except PreconditionFailed:
            return False
        return True
    path = Path(uri)
    tmp = _beside(path, text.encode())
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        tmp.unlink()
    return True


def compare_and_swap(uri: str, expected: str | None, text: str) -> str | None:
    """Replace the object at `uri` with `text` only if it holds `expected` (None: absent).
    Returns what it held: `expected` when the swap happened. Atomic among racing writers: a file
    lock beside a local file, the object's generation as a GCS precondition."""
    if not is_gcs(uri):
        from loopline.locks import file_lock

        path = Path(uri)
        with file_lock(path.with_name(f".{path.name}.lock"), uri):
            current = path.read_text() if path.exists() else None
            if current == expected:
                write_text(uri, text)
            return current
    from google.api_core.exceptions import PreconditionFailed

    bucket, key = _split(uri)
    while True:
        try:
            blob = _client().bucket(bucket).get_blob(key)
            current = blob.download_as_bytes(if_generation_match=blob.generation).decode() if blob else None
            if current == expected:
                _blob(uri).upload_from_string(text.encode(), if_generation_match=blob.generation if blob else 0)
            return current
        except PreconditionFailed:
            continue  # it changed between the read and the write: read again


def exists(uri: str) -> bool:
    if not is_gcs(uri):
        return Path(uri).exists()
    bucket, key = _split(uri)
    return _blob(uri).exists() or any(_client().list_blobs(bucket, prefix=f"{key}/", max_results=1))


def list_dir(uri: str) -> list[str]:
    """Names of the immediate children of a folder, sorted; empty when it does not exist. Hidden
    names (a write in progress, `write_bytes`) are left out."""
    if not is_gcs(uri):
        path = Path(uri)
        return sorted(p.name for p in path.iterdir() if not p.name.startswith(".")) if path.is_dir() else []
    bucket, key = _split(uri)
    prefix = f"{key}/" if key else ""
    names = {blob.name[len(prefix) :].split("/", 1)[0] for blob in _client().list_blobs(bucket, prefix=prefix)}
    return sorted(names)


def upload_dir(local_dir: str | Path, uri: str) -> None:
    """Copy a local folder's files to `uri`, keeping relative paths."""
    local_dir = Path(local_dir)
    for file in sorted(p for p in local_dir.rglob("*") if p.is_file()):
        target = join(uri, *file.relative_to(local_dir).parts)
        if is_gcs(uri):
            _blob(target).upload_from_filename(str(file))
        else:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, target)


def download_dir(uri: str, local_dir: str | Path) -> Path:
    """Copy the folder at `uri` to `local_dir` (returned); a local folder is copied as well."""
    local_dir = Path(local_dir)
    if not is_gcs(uri):
        shutil.copytree(uri, local_dir, dirs_exist_ok=True)
        return local_dir
    bucket, key = _split(uri)
    for blob in _client().list_blobs(bucket, prefix=f"{key}/"):
        target = local_dir / blob.name[len(key) + 1 :]
        target.parent.mkdir(parents=True, exist_ok=True)
        blob.download_to_filename(str(target))
    return local_dir


def local_folder(uri: str, workdir: str | Path) -> Path:
    """A local path holding the folder at `uri`: the path itself when local, else a download."""
    return Path(uri) if not is_gcs(uri) else download_dir(uri, Path(workdir) / "download")


def local_copy(uri: str, workdir: str | Path) -> Path:
    """A local path holding the file at `uri`: the path itself when local, else a download."""
    if not is_gcs(uri):
        return Path(uri)
    target = Path(workdir) / Path(_split(uri)[1]).name
    target.write_bytes(read_bytes(uri))
    return target


def write_frame(frame, uri: str) -> None:
    """Write a pandas DataFrame as one Parquet object at `uri`, atomically (see write_bytes)."""
    write_bytes(uri, frame.to_parquet(index=False))


def read_frame(uri: str):
    """Read the Parquet object at `uri` as a pandas DataFrame."""
    import io

    import pandas as pd

    return pd.read_parquet(io.BytesIO(read_bytes(uri)) if is_gcs(uri) else uri)
