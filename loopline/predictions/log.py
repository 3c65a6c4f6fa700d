"""The prediction log: writing never blocks or fails a prediction, and nothing is lost.

`submit` only queues. A background thread writes what is queued; when the database does not
answer, the records go to a spool file (appended and fsynced, one JSON object a line) and are
written from there once it answers again. Writes are idempotent, so a record written both
before a failure and from the spool is stored once.
"""

import json
import logging
import os
import queue
import threading
from datetime import datetime
from pathlib import Path

from loopline.predictions.store import PredictionStore

log = logging.getLogger("loopline.predictions")


class Spool:
    """Records that could not be written yet, in a local file that survives a restart."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, records: list[dict]) -> None:
        with self.path.open("a") as handle:
            for record in records:
                handle.write(json.dumps(record, default=_iso) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def read(self) -> list[dict]:
        if not self.path.exists():
            return []
        return [_parse(line) for line in self.path.read_text().splitlines() if line.strip()]

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def _iso(value):
    if isinstance(value, datetime):
        return {"__datetime__": value.isoformat()}
    raise TypeError(f"{type(value).__name__} is not JSON")


def _parse(line: str) -> dict:
    record = json.loads(line)
    return {
        k: datetime.fromisoformat(v["__datetime__"]) if isinstance(v, dict) and "__datetime__" in v else v
        for k, v in record.items()
    }


class PredictionLog:
    """Queues prediction records and writes them in the background (see the module's doc)."""

    def __init__(self, store: PredictionStore, spool: Spool, retry_seconds: float = 1.0):
        self.store, self.spool, self.retry_seconds = store, spool, retry_seconds
        self.queue: queue.Queue = queue.Queue()
        self._down = False
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    def submit(self, records: list[dict]) -> None:
        self.queue.put(records)

    def _run(self) -> None:
        while True:
            try:
                batch = self.queue.get(timeout=self.retry_seconds)
            except queue.Empty:
                batch = None
            if batch is None and not self.spool.path.exists():
                continue
            if batch is not None:
                while not self.queue.empty():  # everything queued, in one write
                    batch = batch + self.queue.get_nowait()
            self._write(batch or [])

    def _write(self, batch: list[dict]) -> None:
        pending = self.spool.read() + batch
        try:
            self.store.write_predictions(pending)
        except Exception as error:  # the database is away: keep everything, say so once
            if batch:
                self.spool.append(batch)
            if not self._down:
                self._down = True
                log.error("prediction store unavailable (%s); spooling to %s", type(error).__name__, self.spool.path)
            return
        self.spool.clear()
        if self._down:
            log.warning("prediction store back; %d spooled records written", len(pending) - len(batch))
            self._down = False
