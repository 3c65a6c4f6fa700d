"""`loopline`: export the reference data, run the pipelines locally, serve, monitor and judge,
compile the pipelines for Kubeflow. One module per command group; each only parses and calls."""

import argparse
import os
import sys

from loopline.errors import LooplineError


def parser() -> argparse.ArgumentParser:
    from loopline.cli import cluster, loop, serving, training

    top = argparse.ArgumentParser(prog="loopline", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)
    for group in (training, serving, loop, cluster):
        group.add_commands(sub)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except LooplineError as error:
        print(f"loopline: {error}", file=sys.stderr)
        return error.exit_status
    except Exception as error:  # one line for the user; LOOPLINE_DEBUG=1 shows the trace
        if os.environ.get("LOOPLINE_DEBUG"):
            raise
        print(f"loopline: unexpected {type(error).__name__}: {error} (LOOPLINE_DEBUG=1 shows where)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
