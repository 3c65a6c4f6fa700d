"""`loopline`: export the reference data, run the pipelines locally, compile them for Kubeflow."""

import argparse
import importlib.util
import json
import os
import sys
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from loopline.errors import LooplineError


def _pipelines_folder() -> Path:
    """Where the compiled pipelines are kept: beside their definitions (pipelines/)."""
    return Path(importlib.util.find_spec("loopline.pipelines").submodule_search_locations[0])


@contextmanager
def _stdout_to_stderr():
    """Send everything written to stdout (subprocesses included) to stderr while inside."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def cmd_data(args) -> int:
    from loopline.datasets import export_nycflights13

    rows = export_nycflights13(args.dest)
    for table, count in rows.items():
        print(f"{table:>9}: {count:>7,} rows")
    print(f"nycflights13 written to {args.dest}")
    return 0


def cmd_train(args) -> int:
    from loopline.local import run_training

    names = ("epochs", "batch_size", "learning_rate", "hidden_units", "ensemble")
    hyperparameters = {k: getattr(args, k) for k in names if getattr(args, k) is not None}
    run = partial(
        run_training,
        args.source,
        args.start,
        args.end,
        args.config,
        args.registry,
        args.feature_repo,
        args.push_to,
        **hyperparameters,
    )
    return _report(args, run, _describe)


def _report(args, run, describe) -> int:
    """Run; print the summary (as one JSON object on stdout with --json, every log on stderr)."""
    if args.json:
        with _stdout_to_stderr():
            summary = run()
        print(json.dumps(summary.as_dict()))
    else:
        summary = run()
        print(describe(summary))
    return 0 if summary.succeeded else 1


def _describe(summary) -> str:
    lines = ["", "=" * 72, f"run folder      {summary.run_folder}"]
    if not summary.succeeded:
        lines.append(f"stopped         {summary.error} Its message is above.")
    if summary.auc is not None:
        base = summary.baseline_version or "none"
        lines.append(f"eval AUC        {summary.auc:.4f} (production before this run: {base})")
    lines.append(f"blessed         {'yes' if summary.blessed else 'no'}")
    lines += [f"                - {reason}" for reason in summary.reasons]
    lines.append(f"pushed version  {summary.pushed_version or 'none (production unchanged)'}")
    if summary.push_message and not summary.pushed_version:
        lines.append(f"                - {summary.push_message}")
    lines += [f"{label:<15} {path}" for label, path in summary.reports.items()]
    return "\n".join(lines)


def cmd_features(args) -> int:
    from loopline.config import load_config
    from loopline.events import parse_date, read_events
    from loopline.features.store import locked, materialize, replay, streams, write_feature_tables, zones
    from loopline.local import ensure_source, run_features

    if args.action != "write" and not args.end:
        raise LooplineError(f"features {args.action} needs --end, e.g. --end 2013-07-01")
    if args.action == "load":
        return _report(args, partial(run_features, args.source, args.end, args.config, args.repo), _describe_load)
    ensure_source(args.source)
    config = load_config(args.config)
    events, places = read_events(config, args.source), zones(config, args.source)
    with locked(args.repo):
        if args.action == "write":
            for table, count in write_feature_tables(config, args.source, events, args.repo, places).items():
                print(f"{table:>15}: {count:>7,} rows written to {args.repo}/data/{table}.parquet")
            return 0
        end = parse_date(args.end, "--end")
        for name, pushed in replay(streams(config, events, places), args.repo, end).items():
            print(f"{name:>15}: {pushed:,} events pushed in time order up to {end.isoformat()}")
        for view, (start, stop) in materialize(args.repo, end).items():
            print(f"{view:>15}: online store holds values up to {stop} (this run from {start})")
    return 0


def _describe_load(summary) -> str:
    lines = ["", "=" * 72, f"run folder      {summary.run_folder}"]
    if not summary.succeeded:
        lines.append(f"stopped         {summary.error} Its message is above.")
    lines += [f"{name:<15} {int(count):,}" for name, count in summary.metrics.items()]
    return "\n".join(lines)


def cmd_serve(args) -> int:
    from loopline.serving.server import ServeOptions, serve

    if not 0 <= args.canary_percent <= 100:
        raise LooplineError(f"--canary-percent must be between 0 and 100, got {args.canary_percent}")
    options = ServeOptions(
        registry=args.registry,
        feature_repo=args.feature_repo,
        config=args.config,
        host=args.host,
        port=args.port,
        store_url=args.store_url,
        canary_percent=args.canary_percent,
        shadow=args.shadow,
        poll_seconds=args.poll_seconds,
        token=args.token,
        role=args.role,
        predictor_host=args.predictor_host,
        model_name=args.model_name,
    )
    serve(options)
    return 0


def cmd_ground_truth(args) -> int:
    import pandas as pd

    from loopline import home
    from loopline.config import load_config
    from loopline.errors import BadRequest
    from loopline.predictions.outcomes import parse_outcomes
    from loopline.predictions.store import PredictionStore, migrate

    if not args.file.is_file():
        raise LooplineError(f"{args.file} does not exist")
    try:
        if args.file.suffix == ".csv":
            frame = pd.read_csv(args.file)
            items = frame.astype(object).where(frame.notna(), None).to_dict("records")
        else:
            body = json.loads(args.file.read_text())
            items = body.get("outcomes") if isinstance(body, dict) else body
        records = parse_outcomes(items, load_config(args.config)).records
    except (ValueError, BadRequest) as error:
        raise LooplineError(f"{args.file}: {error}") from None
    url = args.store_url or home.store_url()
    migrate(url)
    written = PredictionStore(url).write_outcomes(records)
    new, disputed = len(written.new), len(written.disputed)
    print(
        f"{len(records):,} outcomes read from {args.file}: {new:,} new, {len(records) - new:,} already stored"
        + (f" ({disputed:,} of them disputed: a different value is stored)" if disputed else "")
    )
    return 0


def cmd_monitor(args) -> int:
    from loopline import home
    from loopline.config import load_config
    from loopline.monitoring.canary import judge_window
    from loopline.monitoring.monitor import monitor_window
    from loopline.predictions.store import PredictionStore

    config = load_config(args.config)
    store = PredictionStore(args.store_url or home.store_url())
    report = args.report or home.monitoring_dir() / "reports" / f"{args.start}_{args.end}.html"
    workspace = home.monitoring_dir() / "workspace"
    result = monitor_window(config, store, args.registry, args.start, args.end, args.as_of, report, workspace)
    judged = judge_window(config, store, args.registry, result) if args.judge else None
    if args.json:
        print(json.dumps(result.as_dict() | ({"canary": judged} if args.judge else {})))
        return 0
    print(f"departures {result.start} to {result.end}, outcomes known by {result.as_of}")
    for g in result.groups:
        quality = (
            "no outcomes known yet: quality not measured"
            if not g.labelled
            else (f"auc {g.auc:.4f}  log loss {g.log_loss:.4f}" if g.auc is not None else "one class only: no AUC")
        )
        drift = "no reference sample" if g.drift_share is None else f"drift share {g.drift_share:.2f}"
        counts = f"{g.predictions:>7,} flights  {g.coverage:6.1%} labelled"
        print(f"  {g.role:<10} {g.version}  {counts}  {quality}  {drift}")
    print(f"report          {result.report}")
    if args.judge and judged is None:
        print("canary          none to judge")
    elif judged:
        found = judged["verdict"]
        arms = f"{found['n_canary']:,} and {found['n_production']:,} labelled flights"
        kind = "paired" if found["paired"] else "unpaired"
        print(f"canary          {judged['version']}: {found['decision']} ({found['reason']}; {arms}, {kind})")
        if judged["decision"]:
            print(f"                recorded: {judged['decision']['action']} at {judged['decision']['at']}")
    return 0


def cmd_promote(args) -> int:
    from loopline import registry
    from loopline.config import load_config

    decided = registry.promote(args.registry, load_config(args.config).name, args.version)
    print(f"version {decided['version']} is in production (was {decided['production_before'] or 'none'})")
    return 0


def cmd_rollback(args) -> int:
    from loopline import registry
    from loopline.config import load_config

    decided = registry.roll_back(args.registry, load_config(args.config).name)
    print(f"canary {decided['version']} rolled back; production stays {decided['production_before']}")
    return 0


def cmd_decisions(args) -> int:
    from loopline import registry
    from loopline.config import load_config

    found = registry.decisions(args.registry, load_config(args.config).name)
    for decision in found:
        evidence = decision["evidence"]
        why = evidence.get("reason", "by hand") if isinstance(evidence, dict) else evidence
        print(
            f"{decision['at']}  {decision['action']:<8} {decision['version']}  (production was "
            f"{decision['production_before'] or 'none'})  {why}"
        )
    if not found:
        print(f"no decisions yet in {args.registry}")
    return 0


def cmd_dashboard(args) -> int:
    import shutil

    from loopline import home

    workspace = home.monitoring_dir() / "workspace"
    if not workspace.exists():
        raise LooplineError(f"no Evidently workspace at {workspace} yet: run `loopline monitor` first")
    evidently = shutil.which("evidently", path=str(Path(sys.executable).parent)) or "evidently"
    print(f"loopline: the Evidently dashboard on http://{args.host}:{args.port}", file=sys.stderr, flush=True)
    os.execv(evidently, [evidently, "ui", "--workspace", str(workspace), "--host", args.host, "--port", str(args.port)])


def cmd_compile(args) -> int:
    from kfp import compiler

    from loopline.pipelines.features import features_pipeline
    from loopline.pipelines.monitoring import monitoring_pipeline
    from loopline.pipelines.training import training_pipeline

    args.output.mkdir(parents=True, exist_ok=True)
    pipelines = (("training", training_pipeline), ("features", features_pipeline), ("monitoring", monitoring_pipeline))
    for name, pipeline in pipelines:
        path = args.output / f"{name}.yaml"
        compiler.Compiler().compile(pipeline, str(path))
        print(f"compiled {path}")
    print("upload them in the Kubeflow dashboard (Pipelines > Upload pipeline)")
    return 0


def cmd_models(args) -> int:
    from loopline import registry
    from loopline.config import load_config

    name = load_config(args.config).name
    pointed = {pointer: registry.pointed(args.registry, name, pointer) for pointer in registry.POINTERS}
    marks = {registry.PRODUCTION: "*", registry.CANARY: "c"}
    for version in registry.versions(args.registry, name):
        meta = registry.get(args.registry, name, version).metadata
        mark = "".join(marks[p] for p, at in pointed.items() if at and at.version == version) or " "
        print(
            f"{mark:<2} {version}  auc={meta.get('metrics', {}).get('auc', float('nan')):.4f}  "
            f"window={meta.get('data_window')}  pushed={meta.get('pushed_at')}"
        )
    if not pointed[registry.PRODUCTION]:
        print(f"no model '{name}' in production in {args.registry}")
    return 0


def parser() -> argparse.ArgumentParser:
    from loopline import home
    from loopline.serving.server import ROLES
    from loopline.steps.push import TARGETS

    top = argparse.ArgumentParser(prog="loopline", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="export the nycflights13 tables as a source folder")
    data.add_argument("--dest", default=str(home.data_dir()))
    data.set_defaults(func=cmd_data)

    train = sub.add_parser("train", help="run the training pipeline locally through kfp.local")
    train.add_argument("--start", required=True, help="first day of the data window, e.g. 2013-01-01")
    train.add_argument("--end", required=True, help="day after the window; its last days are the eval split")
    train.add_argument("--source", default=str(home.data_dir()), help="folder (local or gs://) of tables")
    train.add_argument("--config", default="flights", help="packaged config name or a YAML path")
    train.add_argument("--registry", default=None, help="model registry (local or gs://)")
    train.add_argument("--feature-repo", default=None, help="the Feast repository (default ./feature_repo)")
    train.add_argument("--epochs", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--learning-rate", type=float)
    train.add_argument("--hidden-units", type=int, nargs="+")
    train.add_argument("--ensemble", type=int, help="members averaged in the exported model")
    train.add_argument(
        "--push-to",
        choices=sorted(TARGETS),
        default="production",
        help="where a blessed model goes: production, or the canary (judged on live outcomes first)",
    )
    train.add_argument("--json", action="store_true", help="print the summary as one JSON object on stdout")
    train.set_defaults(func=cmd_train)

    features = sub.add_parser("features", help="fill the Feast repository's offline tables and online store")
    features.add_argument(
        "action",
        choices=["load", "write", "materialize"],
        help="load: run the feature pipeline (both of the others) through kfp.local up to --end; write: "
        "the offline tables from the source; materialize: push the outcome stream and load the online "
        "store up to --end",
    )
    features.add_argument(
        "--repo",
        default=str(home.feature_repo_dir()),
        help="the Feast repository (default ./feature_repo or LOOPLINE_FEATURE_REPO)",
    )
    features.add_argument("--source", default=str(home.data_dir()), help="folder (local or gs://) of tables")
    features.add_argument("--config", default="flights", help="packaged config name or a YAML path")
    features.add_argument("--end", help="push and materialize values stamped up to this date (inclusive)")
    features.add_argument("--json", action="store_true", help="load: print the summary as JSON on stdout")
    features.set_defaults(func=cmd_features)

    serve = sub.add_parser(
        "serve", help="serve the registry's production model (KServe, V1 and V2) with Feast features"
    )
    serve.add_argument("--registry", default=str(home.registry_dir()), help="model registry (local or gs://)")
    serve.add_argument("--feature-repo", default=str(home.feature_repo_dir()), help="the Feast repository")
    serve.add_argument("--config", default="flights", help="packaged config name or a YAML path")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback only)")
    serve.add_argument("--port", "--http_port", type=int, default=8080, help="HTTP port (KServe passes --http_port)")
    serve.add_argument(
        "--role",
        choices=ROLES,
        default="both",
        help="both in one process (default), or one half of a KServe transformer/predictor pair",
    )
    serve.add_argument(
        "--predictor-host", "--predictor_host", default="", help="the transformer's predictor, host:port (V2 REST)"
    )
    serve.add_argument("--model_name", default="", help="the name KServe passes a container: the config's model")
    serve.add_argument(
        "--store-url",
        default=os.environ.get("LOOPLINE_STORE_URL", ""),
        help="prediction store (SQLAlchemy URL; default sqlite under LOOPLINE_HOME, or LOOPLINE_STORE_URL)",
    )
    serve.add_argument("--canary-percent", type=float, default=0.0, help="share of requests the canary answers")
    serve.add_argument("--shadow", action="store_true", help="the canary scores every request; production answers")
    serve.add_argument("--poll-seconds", type=float, default=5.0, help="how often the registry's pointers are read")
    serve.add_argument(
        "--token",
        default=os.environ.get("LOOPLINE_SERVE_TOKEN", ""),
        help="bearer token for POST /v1/outcomes (default: one made at first start in LOOPLINE_HOME/serve-token)",
    )
    serve.set_defaults(func=cmd_serve)

    truth = sub.add_parser("ground-truth", help="load outcomes (ground truth) into the prediction store")
    truth.add_argument("action", choices=["load"])
    truth.add_argument("file", type=Path, help='JSON ({"outcomes": [...]} or a list) or CSV with the outcome fields')
    truth.add_argument("--store-url", default=os.environ.get("LOOPLINE_STORE_URL", ""), help="as for serve")
    truth.add_argument("--config", default="flights")
    truth.set_defaults(func=cmd_ground_truth)

    watch = sub.add_parser("monitor", help="judge a window of served predictions with Evidently (drift, quality)")
    watch.add_argument("--start", required=True, help="first day of scheduled departures (the config's time zone)")
    watch.add_argument("--end", required=True, help="the day after the last")
    watch.add_argument("--as-of", help="count the outcomes known by this time (ISO 8601; default: --end)")
    watch.add_argument("--store-url", default=os.environ.get("LOOPLINE_STORE_URL", ""), help="as for serve")
    watch.add_argument("--registry", default=str(home.registry_dir()))
    watch.add_argument("--config", default="flights")
    watch.add_argument("--report", type=Path, help="the HTML report (default under LOOPLINE_HOME/monitoring)")
    watch.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    watch.add_argument("--judge", action="store_true", help="judge the canary too: promote or roll back")
    watch.set_defaults(func=cmd_monitor)

    for name, func, text in (
        ("promote", cmd_promote, "make VERSION (default: the canary) production; recorded in the decisions log"),
        ("rollback", cmd_rollback, "clear the canary (its version stays); recorded in the decisions log"),
        ("decisions", cmd_decisions, "every promotion and rollback, with its evidence"),
    ):
        command = sub.add_parser(name, help=text)
        if name == "promote":
            command.add_argument("version", nargs="?", help="a registry version (default: the canary)")
        command.add_argument("--registry", default=str(home.registry_dir()))
        command.add_argument("--config", default="flights")
        command.set_defaults(func=func)

    board = sub.add_parser("dashboard", help="the Evidently UI on the monitoring workspace (loopback)")
    board.add_argument("--host", default="127.0.0.1")
    board.add_argument("--port", type=int, default=8000)
    board.set_defaults(func=cmd_dashboard)

    comp = sub.add_parser("compile", help="write the pipelines' YAML for the Kubeflow dashboard")
    comp.add_argument(
        "--output", type=Path, default=_pipelines_folder(), help="folder for training.yaml and features.yaml"
    )
    comp.set_defaults(func=cmd_compile)

    models = sub.add_parser("models", help="list the registry's versions; * marks production, c the canary")
    models.add_argument("--registry", default=str(home.registry_dir()))
    models.add_argument("--config", default="flights")
    models.set_defaults(func=cmd_models)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except LooplineError as error:
        print(f"loopline: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # one line for the user; LOOPLINE_DEBUG=1 shows the trace
        if os.environ.get("LOOPLINE_DEBUG"):
            raise
        print(f"loopline: unexpected {type(error).__name__}: {error} (LOOPLINE_DEBUG=1 shows where)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
