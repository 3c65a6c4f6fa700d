"""File locks for state that several processes share: the feature store, the registry's pointers.

A lock is `flock` on a file: exclusive for writers, shared for readers. A process that must wait
says so once, then waits up to LOOPLINE_LOCK_TIMEOUT seconds (default 1800) before it stops with
an error naming what stayed locked.
"""

import fcntl
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from loopline.errors import LooplineError

POLL_SECONDS = 0.2


def timeout_seconds() -> float:
    value = os.environ.get("LOOPLINE_LOCK_TIMEOUT", "1800")
    try:
        return float(value)
    except ValueError:
        raise LooplineError(f"LOOPLINE_LOCK_TIMEOUT must be a number of seconds, got {value!r}") from None


@contextmanager
def file_lock(path: str | Path, what: str, exclusive: bool = True) -> Iterator[None]:
    """Hold `path`'s lock while inside (`what` names the state it guards in messages)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    with open(path, "a") as handle:
        deadline, said = time.monotonic() + timeout_seconds(), False
        while True:
            try:
                fcntl.flock(handle, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LooplineError(
                        f"{what} stayed locked by another process for {timeout_seconds():g} s "
                        f"({path}); try again when it has finished, or raise LOOPLINE_LOCK_TIMEOUT"
                    ) from None
                if not said:
                    print(f"loopline: waiting for {what}: another process is writing it", file=sys.stderr, flush=True)
                    said = True
                time.sleep(POLL_SECONDS)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
