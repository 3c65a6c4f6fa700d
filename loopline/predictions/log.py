"""The prediction log: writing never blocks or fails a prediction, and nothing is lost.

`submit` only queues. A background thread writes what is queued. While the database does not
answer (at start too), batches are appended to a spool file (fsynced, one JSON object a line)
without trying the database again until a backoff (doubling, up to `max_retry_seconds`) is over;
once it answers, the spool is written once and emptied. A record the database refuses (not an
outage: a value it cannot hold) is set aside in a dead-letter file beside the spool, logged,
and never holds up the rest. Writes are idempotent, so a record written both before a failure
and from the spool is stored once. `close` drains the queue (to the store, or to the spool)
before the process exits.
"""

import json
import logging
import os
import queue
import threading
import time
from datetime import datetime
from pathlib import Path

from loopline.predictions.store import PredictionStore, is_outage

log = logging.getLogger("loopline.predictions")
STOP = object()  # queued by close: the writer drains what came before it, then ends


class Spool:
    """Records kept in a local file that survives a restart, one JSON object a line."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, records: list[dict]) -> None:
        with self.path.open("a") as handle:
            handle.writelines(json.dumps(record, default=_iso) + "\n" for record in records)
            handle.flush()
            os.fsync(handle.fileno())

    def read(self) -> tuple[list[dict], int]:
        """The records, and how many lines were torn (a write cut short) and skipped."""
        if not self.path.exists():
            return [], 0
        records, torn = [], 0
        for line in self.path.read_text(errors="replace").splitlines():
            try:
                records.append(_parse(line))
            except (ValueError, TypeError, AttributeError):  # half a line, or not a record
                torn += bool(line.strip())
        return records, torn

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

    def __init__(
        self, store: PredictionStore, spool: Spool, retry_seconds: float = 0.5, max_retry_seconds: float = 15.0
    ):
        self.store, self.spool = store, spool
        self.dead = Spool(spool.path.with_suffix(".dead.jsonl"))
        self.retry_seconds, self.max_retry_seconds = retry_seconds, max_retry_seconds
        self.queue: queue.Queue = queue.Queue()
        self._migrated = False
        self._retry_at, self._backoff = 0.0, retry_seconds
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    def submit(self, records: list[dict]) -> None:
        self.queue.put(records)

    def close(self, timeout: float = 30.0) -> None:
        """Write (or spool) everything submitted so far, then stop the writer."""
        self.queue.put(STOP)
        self._thread.join(timeout)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            try:
                batch = self.queue.get(timeout=self.retry_seconds)
            except queue.Empty:
                batch = []
            while batch is not STOP and not self.queue.empty():  # everything queued, in one write
                more = self.queue.get_nowait()
                if more is STOP:
                    stopping = True
                    break
                batch = batch + more
            if batch is STOP:
                stopping, batch = True, []
            self._write(batch, last=stopping)

    def _write(self, batch: list[dict], last: bool = False) -> None:
        """Write `batch` after what is spooled; during an outage spool it, trying the store again
        only once the backoff is over (or once more before stopping)."""
        if time.monotonic() < self._retry_at and not last:
            if batch:
                self.spool.append(batch)
            return
        pending = self.spool.path.exists()
        if not batch and not pending:
            return
        try:
            if not self._migrated:  # the store may have been away when the server started
                self.store.migrate()
                self._migrated = True
            if pending:
                self._replay()
            self._insert(batch)
        except Exception as error:  # an outage, or a store that cannot be migrated: keep everything
            if batch:
                self.spool.append(batch)
            if self._retry_at == 0.0:
                log.error("prediction store unavailable (%s); spooling to %s", type(error).__name__, self.spool.path)
            self._retry_at = time.monotonic() + self._backoff
            self._backoff = min(self._backoff * 2, self.max_retry_seconds)
            return
        if self._retry_at:
            log.warning("prediction store back; spooled records written")
        self._retry_at, self._backoff = 0.0, self.retry_seconds

    def _replay(self) -> None:
        """Write the spool once, then empty it (an outage midway leaves it whole: inserts are idempotent)."""
        records, torn = self.spool.read()
        if torn:
            log.warning("skipped %d torn line(s) of %s", torn, self.spool.path)
        self._insert(records)
        self.spool.clear()

    def _insert(self, records: list[dict]) -> None:
        """Insert `records`; when the store refuses the batch (not an outage), insert them one by
        one and set aside each record it refuses."""
        try:
            self.store.write_predictions(records)
        except Exception as error:
            if is_outage(error):
                raise
            refused = self._one_by_one(records) if len(records) > 1 else [(records[0], error)]
            self.dead.append([record for record, _ in refused])
            first = str(refused[0][1]).splitlines()[0][:300]
            log.error(
                "the prediction store refused %d record(s) (%s); set aside in %s", len(refused), first, self.dead.path
            )

    def _one_by_one(self, records: list[dict]) -> list[tuple[dict, Exception]]:
        refused = []
        for record in records:
            try:
                self.store.write_predictions([record])
            except Exception as error:
                if is_outage(error):
                    raise
                refused.append((record, error))
        return refused
