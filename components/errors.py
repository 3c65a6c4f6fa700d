"""Errors a user can act on: each names the field, file or column at fault."""


class LooplineError(Exception):
    """Base of every error that is reported as a message, never a stack trace."""


class ConfigError(LooplineError):
    """The configuration is missing, malformed or inconsistent."""


class DataError(LooplineError):
    """Input data is missing, or a column is absent or of the wrong type."""


class ValidationFailed(LooplineError):
    """TFDV found anomalies or drift; training must not go on."""


class RegistryError(LooplineError):
    """The model registry is unreadable or a push could not complete."""
