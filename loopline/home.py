"""Local state under LOOPLINE_HOME (default ~/.loopline), one place for the command, the kfp.local
runner and the server: `data/` (source tables), `runs/<run id>/` (each run's pipeline root),
`registry/` (models and their pointers), `predictions.db` (the prediction store), `spool/` (what
the store could not take yet), `serve-token` (the write endpoints' credential), `monitoring/`
(the Evidently workspace and the reports). The Feast repository is ./feature_repo unless
LOOPLINE_FEATURE_REPO names another."""

import os
import secrets
import stat
from pathlib import Path

from loopline.errors import LooplineError


def home() -> Path:
    return Path(os.environ.get("LOOPLINE_HOME") or Path.home() / ".loopline").expanduser()


def data_dir() -> Path:
    return home() / "data" / "nycflights13"


def feature_repo_dir() -> Path:
    return Path(os.environ.get("LOOPLINE_FEATURE_REPO") or "feature_repo").resolve()


def store_url() -> str:
    """The default prediction store: LOOPLINE_STORE_URL (a Secret on a cluster), else SQLite under
    LOOPLINE_HOME."""
    return os.environ.get("LOOPLINE_STORE_URL") or f"sqlite:///{home() / 'predictions.db'}"


def runs_dir() -> Path:
    return home() / "runs"


def registry_dir() -> Path:
    return home() / "registry"


def spool_dir() -> Path:
    return home() / "spool"


def monitoring_dir() -> Path:
    """The Evidently workspace, and each monitoring run's HTML report."""
    return home() / "monitoring"


def token_file() -> Path:
    return home() / "serve-token"


def serve_token() -> str:
    """The write endpoints' bearer token: made at first use and kept in `token_file()`, readable by
    its owner only; a token file that others can read is refused rather than used."""
    path = token_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_token(path)
    token = secrets.token_urlsafe(32)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(token + "\n")
    return token


def _read_token(path: Path) -> str:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise LooplineError(f"{path} can be read by others (mode {mode:o}): chmod 600 it, or remove it")
    token = path.read_text().strip()
    if not token:
        raise LooplineError(f"{path} is empty: remove it and a new token is made")
    return token
