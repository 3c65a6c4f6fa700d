"""Commands for Kubeflow Pipelines: submit, schedule, runs."""

import argparse
import tempfile

from loopline.cluster import EXPERIMENT, PIPELINES, SERVICE_ACCOUNT


def _host(command: argparse.ArgumentParser) -> None:
    command.add_argument("--host", required=True, help="the KFP API, e.g. http://localhost:8080 (port-forwarded)")
    command.add_argument("--namespace", default=None, help="the Kubeflow profile's namespace (multi-user)")
    command.add_argument("--experiment", default=EXPERIMENT, help=f"the KFP experiment (default {EXPERIMENT})")


def _pipeline(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "pipeline", nargs="?", default="training", help=f"{', '.join(PIPELINES)} (default training), or a compiled YAML"
    )
    command.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE", help="a pipeline parameter (repeat)"
    )
    command.add_argument(
        "--service-account",
        default=SERVICE_ACCOUNT,
        help=f"the runs' Kubernetes service account (default {SERVICE_ACCOUNT}, from manifests/)",
    )


def cmd_submit(args) -> int:
    from loopline.cluster import Pipelines, arguments, package, run_link

    pipelines = Pipelines(args.host, args.namespace)  # the host first: its problem is the one to tell
    with tempfile.TemporaryDirectory(prefix="loopline-") as folder:
        found = package(args.pipeline, folder)
        run_id = pipelines.submit(
            found, arguments(found, args.param), args.experiment, args.run_name, args.service_account
        )
    print(f"run {run_id} of {found.name} started in experiment {args.experiment}: {run_link(pipelines.host, run_id)}")
    return 0


def cmd_schedule(args) -> int:
    from loopline.cluster import Pipelines, arguments, cron, package

    cron(args.cron)
    pipelines = Pipelines(args.host, args.namespace)
    with tempfile.TemporaryDirectory(prefix="loopline-") as folder:
        found = package(args.pipeline, folder)
        params = arguments(found, args.param)
        created, replaced = pipelines.schedule(
            args.name, args.cron, found, params, args.experiment, args.service_account
        )
    print(f"recurring run {args.name} ({created}): {found.name} at '{args.cron}', one at a time, no catch-up")
    if replaced:
        print(f"replaced {', '.join(replaced)} (disabled, then deleted)")
    return 0


def cmd_runs(args) -> int:
    from loopline.cluster import Pipelines

    pipelines = Pipelines(args.host, args.namespace)
    schedules, runs = pipelines.schedules(args.experiment), pipelines.runs(args.experiment, args.count)
    print(f"recurring runs in {args.experiment}: {len(schedules)}")
    for s in schedules:
        when = s.trigger.cron_schedule.cron if s.trigger and s.trigger.cron_schedule else "-"
        print(f"  {s.display_name:<24} {s.status or '-':<9} '{when}'  {s.recurring_run_id}")
    print(f"latest runs in {args.experiment}: {len(runs)}")
    for r in runs:
        print(f"  {str(r.created_at or '-')[:19]:<19}  {r.state or '-':<10} {r.display_name}  {r.run_id}")
    return 0


def add_commands(sub) -> None:
    submit = sub.add_parser("submit", help="run a pipeline on Kubeflow Pipelines")
    _host(submit)
    _pipeline(submit)
    submit.add_argument("--run-name", default=None, help="the run's name (default: the pipeline's)")
    submit.set_defaults(func=cmd_submit)

    schedule = sub.add_parser("schedule", help="schedule a pipeline on Kubeflow Pipelines (replaces one of that name)")
    _host(schedule)
    _pipeline(schedule)
    schedule.add_argument("--name", required=True, help="the recurring run's name; an existing one is replaced")
    schedule.add_argument("--cron", required=True, help="6 fields, seconds first: '0 0 3 * * *' is 03:00 daily")
    schedule.set_defaults(func=cmd_schedule)

    runs = sub.add_parser("runs", help="list the recurring runs and the latest runs on Kubeflow Pipelines")
    _host(runs)
    runs.add_argument("--count", type=int, default=20, help="how many of the latest runs")
    runs.set_defaults(func=cmd_runs)
