"""Benchmark: a replay's own steps, timed one by one, on a copy of a finished replay's folder.

Where a replay's wall clock goes between retrainings: the folder (`LOOPLINE_HOME/replays/<id>`,
from `make demo` or `make bench-replay`) is copied, its server started on the copy, and the
replay's loop continues from where the replay ended for `--hours`: each hour the feature store
is brought up to the clock (`Replay._refresh`: the weather hour and the streams, every table at
midnight) and the hour's flights (every one: `--sample 1`) and outcomes are sent to the server
(`Replay._serve`). No monitoring, no training. Prints the median and mean of each part, hourly
steps and midnight refreshes apart, and what they come to per replayed day. The replay must end
before late December (the hours it continues into must be in the source).

    python benchmarks/replay_steps.py LOOPLINE_HOME/replays/<id> [--hours 72]
"""

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from loopline import home
from loopline.features import store as features
from loopline.predictions.store import PredictionStore
from loopline.replay.run import Replay, ReplayOptions
from loopline.replay.server import Server
from loopline.replay.world import World


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("replay", type=Path, help="a finished replay's folder")
    parser.add_argument("--hours", type=int, default=72)
    parser.add_argument("--source", default=str(home.data_dir()), help="the replay's source (default: LOOPLINE_HOME's)")
    args = parser.parse_args()
    window = json.loads((args.replay / "report.json").read_text())["window"]
    start, end = pd.Timestamp(window["serving_from"]), pd.Timestamp(window["to"])
    copy = Path(tempfile.mkdtemp(prefix="loopline-steps-")) / "replay"
    shutil.copytree(args.replay, copy, ignore=shutil.ignore_patterns("source", "*.log"))
    later = end + pd.Timedelta(hours=args.hours)
    options = ReplayOptions(
        start.date().isoformat(), later.date().isoformat(), sample=1, source=args.source, folder=str(copy)
    )
    replay = Replay(options)
    replay.world = World(replay.config, replay.source)
    replay.world.check(end, later)
    replay.world.events["sampled"] = True
    replay.store = PredictionStore(replay.store_url)
    replay.feature_store = features.feature_store(replay.repo)
    replay.pushed = end.tz_convert("UTC")
    env = os.environ | {"LOOPLINE_HOME": str(copy)}
    replay.server = Server(replay.config, replay.registry, replay.repo, replay.store_url, copy / "server.log", env)
    replay.server.start()
    zone = replay.config.source.timezone
    seconds: dict[str, list[float]] = {"hourly feature step": [], "midnight refresh": [], "serving an hour": []}
    clock = replay.pushed
    try:
        for _ in tqdm(range(args.hours), unit="hour"):
            after = clock + pd.Timedelta(hours=1)
            midnight = after == after.tz_convert(zone).normalize()
            started = time.perf_counter()
            replay._refresh(after, full=midnight)
            seconds["midnight refresh" if midnight else "hourly feature step"].append(time.perf_counter() - started)
            started = time.perf_counter()
            replay._serve(clock, after)
            seconds["serving an hour"].append(time.perf_counter() - started)
            clock = after
    finally:
        replay.server.stop()
    per_day = {"hourly feature step": 23, "midnight refresh": 1, "serving an hour": 24}
    print(f"\n{args.hours} hours from {end:%Y-%m-%d %H:%M %Z}, {replay.progress.flights:,} flights\n")
    print("| part | times | median s | mean s | a replayed day s |")
    print("|---|---:|---:|---:|---:|")
    for part, times in seconds.items():
        if times:
            mean = statistics.mean(times)
            print(
                f"| {part} | {len(times)} | {statistics.median(times):.3f} | {mean:.3f} | {mean * per_day[part]:.2f} |"
            )
    shutil.rmtree(copy.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
