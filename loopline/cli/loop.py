"""`loopline monitor`, `promote`, `rollback`, `decisions`, `models` and `dashboard`: the loop's
judgement of what the server answered, and the registry moves it makes."""

import contextlib
import json
import os
import shutil
import signal
import sys
from pathlib import Path

from loopline.cli import options
from loopline.errors import LooplineError


def cmd_monitor(args) -> int:
    from loopline import home
    from loopline.config import load_config
    from loopline.monitoring.canary import judge_window
    from loopline.monitoring.monitor import monitor_window
    from loopline.monitoring.policy import decide
    from loopline.predictions.store import PredictionStore

    config = load_config(args.config)
    repo = options.existing_repo(args.feature_repo) if args.retrain else ""
    store = PredictionStore(args.store_url or home.store_url())
    report = args.report or home.monitoring_dir() / "reports" / f"{args.start}_{args.end}.html"
    workspace = home.monitoring_dir() / "workspace"
    result = monitor_window(config, store, args.registry, args.start, args.end, args.as_of, report, workspace)
    judged = judge_window(config, store, args.registry, result) if args.judge else None
    policy = decide(config, args.registry, result, claim=args.retrain)
    trained = _retrain(args, config, policy, repo) if policy.retrain and args.retrain else None
    if args.json:
        extra = {"canary": judged} if args.judge else {}
        print(json.dumps(result.as_dict() | extra | {"policy": policy.as_dict(), "retrained": trained}))
        return 0
    print(f"departures {result.start} to {result.end}, outcomes known by {result.as_of}")
    print(f"quality on the departures from {result.quality_start} (monitoring.quality_days)")
    for g in result.groups:
        quality = (
            "no outcomes known yet: quality not measured"
            if not g.labelled
            else (f"auc {g.auc:.4f}  log loss {g.log_loss:.4f}" if g.auc is not None else "one class only: no AUC")
        )
        drift = "no reference sample" if g.drift_share is None else f"drift share {g.drift_share:.2f}"
        counts = f"{g.predictions:>7,} flights  {g.labelled:>7,} labelled ({g.coverage:.1%})"
        print(f"  {g.role:<10} {g.version}  {counts}  {quality}  {drift}")
    print(f"report          {result.report}")
    if args.judge:
        print(_describe_judged(judged))
    print(_describe_policy(policy, args.retrain, trained))
    return 0


def _describe_judged(judged: dict | None) -> str:
    if judged is None:
        return "canary          none to judge"
    found = judged["verdict"]
    arms = f"{found['n_canary']:,} and {found['n_production']:,} labelled flights"
    kind = "paired" if found["paired"] else "unpaired"
    line = f"canary          {judged['version']}: {found['decision']} ({found['reason']}; {arms}, {kind})"
    if judged["decision"]:
        line += f"\n                recorded: {judged['decision']['action']} at {judged['decision']['at']}"
    return line


def _describe_policy(policy, acted: bool, trained: str | None) -> str:
    if not policy.reasons:
        return "retraining      not called for: " + (policy.held or "no trigger fired")
    lines = [f"retraining      {'started' if trained else 'called for'}"]
    lines += [f"                - {reason}" for reason in policy.reasons]
    if policy.held:
        lines.append(f"                held: {policy.held}")
    elif trained:
        lines.append(f"                trained on [{policy.start}, {policy.end}): {trained}")
    elif not acted:
        lines.append(f"                on [{policy.start}, {policy.end}); --retrain starts it")
    return "\n".join(lines)


def _retrain(args, config, policy, repo: str) -> str:
    """Run the training pipeline the policy called for (the contender goes to --push-to), its
    reasons kept with the version; returns how it ended."""
    from loopline.local import run_training
    from loopline.monitoring.policy import retrain

    def run(decided) -> str:
        with options.stdout_to_stderr():
            summary = run_training(
                args.source,
                decided.start,
                decided.end,
                args.config,
                args.registry,
                repo,
                args.push_to,
                trigger=decided.reason,
            )
        if summary.pushed_version:
            return f"version {summary.pushed_version} pushed to {args.push_to}"
        return f"not pushed ({summary.error or summary.push_message or 'not blessed'}; log {summary.log})"

    return retrain(config, args.registry, policy, run)


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
            f"window={meta.get('data_window')}  pushed={meta.get('pushed_at')}  "
            f"trigger={meta.get('trigger', 'by hand')}"
        )
    if not pointed[registry.PRODUCTION]:
        print(f"no model '{name}' in production in {args.registry}")
    return 0


def cmd_dashboard(args) -> int:
    from loopline import home

    workspace = home.monitoring_dir() / "workspace"
    if not workspace.exists():
        raise LooplineError(f"no Evidently workspace at {workspace} yet: run `loopline monitor` first")
    evidently = shutil.which("evidently", path=str(Path(sys.executable).parent)) or "evidently"
    print(f"loopline: the Evidently dashboard on http://{args.host}:{args.port}", file=sys.stderr, flush=True)
    os.execv(evidently, [evidently, "ui", "--workspace", str(workspace), "--host", args.host, "--port", str(args.port)])


class Terminated(BaseException):
    """SIGTERM arrived: not an Exception, so that no library's handler of errors takes it for one."""


def _terminate_children(signum, frame) -> None:
    """On SIGTERM (`kill`, or Kubernetes stopping a pod): the same signal to every process this
    one started (the replay's server, a pipeline step), then Terminated, so that the replay's
    own clean-up runs as it unwinds (the server drains its prediction log)."""
    import psutil

    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            child.terminate()
    raise Terminated


def cmd_replay(args) -> int:
    from loopline.replay.report import time_spent
    from loopline.replay.run import Replay, ReplayOptions

    names = ("train_start", "train_end", "end", "sample", "seed", "config", "source", "feature_repo")
    options.existing_repo(args.feature_repo)
    replay = Replay(ReplayOptions(**{name: getattr(args, name) for name in names}))
    print(f"replay {replay.id}: serving {args.train_end} to {args.end}, logs in {replay.folder}", file=sys.stderr)
    signal.signal(signal.SIGTERM, _terminate_children)
    try:
        report = replay.run()
    except Terminated:
        print(f"loopline: replay {replay.id} stopped (SIGTERM); what it did is in {replay.folder}", file=sys.stderr)
        return 128 + signal.SIGTERM
    head = report["headline"]
    if head.get("difference") is None:
        print(f"too few labelled flights for a headline ({head['labelled']:,})")
    else:
        print(
            f"the loop minus the frozen model: {head['difference']:+.4f} AUC (95% interval {head['low']:+.4f} to "
            f"{head['high']:+.4f}) on {head['labelled']:,} flights"
        )
    for event in report["timeline"]:
        print(f"  {event['clock'][:16]}  {event['action']:<8} {event['version']:<5} {event['reason']}")
    print(time_spent(report))
    print(f"report          {report['files']['html']}")
    print(f"figures         {report['files']['json']}")
    return 0


def add_commands(sub) -> None:
    from loopline.steps.push import TARGETS

    watch = sub.add_parser("monitor", help="judge a window of served predictions with Evidently (drift, quality)")
    watch.add_argument("--start", required=True, help="first day of scheduled departures (the config's time zone)")
    watch.add_argument("--end", required=True, help="the day after the last")
    watch.add_argument("--as-of", help="count the outcomes known by this time (ISO 8601; default: --end)")
    for add in (options.store_url, options.registry, options.config):
        add(watch)
    watch.add_argument("--report", type=Path, help="the HTML report (default under LOOPLINE_HOME/monitoring)")
    options.as_json(watch, "the figures")
    watch.add_argument("--judge", action="store_true", help="judge the canary too: promote or roll back")
    watch.add_argument(
        "--retrain", action="store_true", help="start the retraining the policy calls for (training pipeline)"
    )
    for add in (options.source, options.feature_repo):
        add(watch)
    watch.add_argument("--push-to", choices=sorted(TARGETS), default="canary", help="where a retrained contender goes")
    watch.set_defaults(func=cmd_monitor)

    for name, func, text in (
        ("promote", cmd_promote, "make VERSION (default: the canary) production; recorded in the decisions log"),
        ("rollback", cmd_rollback, "clear the canary (its version stays); recorded in the decisions log"),
        ("decisions", cmd_decisions, "every promotion, rollback and retraining, with its evidence"),
        ("models", cmd_models, "list the registry's versions; * marks production, c the canary"),
    ):
        command = sub.add_parser(name, help=text)
        if name == "promote":
            command.add_argument("version", nargs="?", help="a registry version (default: the canary)")
        options.registry(command)
        options.config(command)
        command.set_defaults(func=func)

    replay = sub.add_parser("replay", help="the whole loop on 2013's clock against a live server, with a report")
    replay.add_argument("--train-start", default="2013-01-01", help="the first model's first day")
    replay.add_argument("--train-end", required=True, help="the first model's data ends here; serving starts")
    replay.add_argument("--end", required=True, help="the day after the last one served")
    replay.add_argument("--sample", type=float, default=0.1, help="share of the scheduled flights sent")
    replay.add_argument("--seed", type=int, default=0, help="which flights are sampled, and the bootstrap's")
    for add in (options.config, options.source, options.feature_repo):
        add(replay)
    replay.set_defaults(func=cmd_replay)

    board = sub.add_parser("dashboard", help="the Evidently UI on the monitoring workspace (loopback)")
    board.add_argument("--host", default="127.0.0.1")
    board.add_argument("--port", type=int, default=8000)
    board.set_defaults(func=cmd_dashboard)
