"""loopline components: plain, typed step functions, each with a thin KFP component wrapper."""

import sys

from components.errors import LooplineError

_default_hook = sys.excepthook


def _report(kind, error, tb):
    """A LooplineError ends a step with its message alone, never a stack trace."""
    if issubclass(kind, LooplineError):
        print(f"ERROR: {error}", file=sys.stderr)
    else:
        _default_hook(kind, error, tb)


sys.excepthook = _report
