"""The flags several commands share, one name and one default each, and the run summary's printing."""

import argparse
import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path

from loopline import home
from loopline.config import DEFAULT_CONFIG
from loopline.errors import LooplineError


def config(command: argparse.ArgumentParser) -> None:
    command.add_argument("--config", default=DEFAULT_CONFIG, help="packaged config name or a YAML path")


def registry(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--registry", default=str(home.registry_dir()), help="model registry (local or gs://; default LOOPLINE_HOME)"
    )


def source(command: argparse.ArgumentParser) -> None:
    command.add_argument("--source", default=str(home.data_dir()), help="folder (local or gs://) of tables")


def feature_repo(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--feature-repo",
        default=str(home.feature_repo_dir()),
        help="the Feast repository (default ./feature_repo or LOOPLINE_FEATURE_REPO)",
    )


def store_url(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--store-url",
        default="",
        help="prediction store (SQLAlchemy URL; default LOOPLINE_STORE_URL, else sqlite under LOOPLINE_HOME)",
    )


def as_json(command: argparse.ArgumentParser, what: str = "the summary") -> None:
    command.add_argument("--json", action="store_true", help=f"print {what} as one JSON object on stdout")


def existing_repo(path: str) -> str:
    """The Feast repository `path`, checked before any run starts."""
    folder = Path(path)
    if not (folder / "feature_store.yaml").is_file():
        raise LooplineError(f"--feature-repo {folder} is not a Feast repository (no feature_store.yaml)")
    return str(folder.resolve())


@contextmanager
def stdout_to_stderr():
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


def report(args, run, describe) -> int:
    """Run; print the summary (as one JSON object on stdout with --json, progress on stderr)."""
    if args.json:
        with stdout_to_stderr():
            summary = run()
        print(json.dumps(summary.as_dict()))
    else:
        summary = run()
        print(describe(summary))
    return 0 if summary.succeeded else 1


def describe_run(summary, *lines: str) -> str:
    """A pipeline run's summary: its folder, why it stopped (the step's own words), `lines`, its log."""
    out = ["", "=" * 72, f"run folder      {summary.run_folder}"]
    if not summary.succeeded:
        out.append(f"stopped         {summary.error}")
        out += [f"                - {message}" for message in summary.messages]
    out += lines
    out.append(f"pipeline log    {summary.log}")
    return "\n".join(out)
