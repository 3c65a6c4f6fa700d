"""The file lock the feature store and the local registry pointers share between processes."""

import subprocess
import sys
import time

import pytest

from loopline.errors import LooplineError
from loopline.locks import file_lock

HOLD = """
import sys, time
from loopline.locks import file_lock
with file_lock(sys.argv[1], "the thing", exclusive=sys.argv[2] == "x"):
    print("held", flush=True)
    time.sleep(float(sys.argv[3]))
"""


def holder(path, mode: str, seconds: float) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), mode, str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_writer_waits_for_another_writer_and_says_so_once(tmp_path, capsys):
    other = holder(tmp_path / ".lock", "x", 1.5)
    started = time.monotonic()
    with file_lock(tmp_path / ".lock", "the thing"):
        waited = time.monotonic() - started
    other.wait()
    assert waited > 1.0
    assert capsys.readouterr().err.count("waiting for the thing") == 1


def test_readers_share_and_a_writer_waits_for_them(tmp_path, capsys):
    other = holder(tmp_path / ".lock", "s", 1.5)
    with file_lock(tmp_path / ".lock", "the thing", exclusive=False):
        assert "waiting" not in capsys.readouterr().err
    with file_lock(tmp_path / ".lock", "the thing"):
        assert "waiting for the thing" in capsys.readouterr().err
    other.wait()


def test_a_lock_held_too_long_is_a_named_error(tmp_path, monkeypatch):
    monkeypatch.setenv("LOOPLINE_LOCK_TIMEOUT", "0.5")
    other = holder(tmp_path / ".lock", "x", 3)
    with pytest.raises(LooplineError, match=r"the thing stayed locked by another process for 0.5 s"):
        with file_lock(tmp_path / ".lock", "the thing"):
            pass
    other.kill()
