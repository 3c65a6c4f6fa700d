"""Errors a user can act on: each names the field, file or column at fault."""

import sys
from contextlib import contextmanager


class LooplineError(Exception):
    """Base of every error that is reported as a message, never a stack trace; the command
    exits with `exit_status` (2: the input was at fault)."""

    exit_status = 2


class ConfigError(LooplineError):
    """The configuration is missing, malformed or inconsistent."""


class DataError(LooplineError):
    """Input data is missing, or a column is absent or of the wrong type."""


class ValidationFailed(LooplineError):
    """TFDV found anomalies or drift; training must not go on."""


class RegistryError(LooplineError):
    """The model registry is unreadable or a push could not complete."""


class BadRequest(LooplineError):
    """A request (a prediction, an outcome) that cannot be taken; the message names the field."""


@contextmanager
def reported():
    """Inside a pipeline step: a LooplineError ends the process with `ERROR: <message>` and exit
    status 1, never a stack trace; anything else propagates as it is."""
    try:
        yield
    except LooplineError as error:
        print(f"ERROR: {error}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
