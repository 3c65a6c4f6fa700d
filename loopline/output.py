"""Where a long command's output goes: its libraries' and subprocesses' into a log file, what a
person reads to the terminal."""

import os
import sys
from contextlib import contextmanager


@contextmanager
def redirected(path):
    """Send this process's stdout and stderr (its subprocesses' too) to the file `path`, appended,
    while inside; yields the terminal's stdout and stderr as they were, as files to write to."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    terminal = [os.fdopen(os.dup(fd), "w", buffering=1) for fd in saved]
    with open(path, "ab", buffering=0) as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield tuple(terminal)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, target in zip(saved, (1, 2), strict=True):
                os.dup2(fd, target)
                os.close(fd)
            for handle in terminal:
                handle.close()
