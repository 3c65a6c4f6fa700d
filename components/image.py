"""The one container image of the suite, tagged with the package version."""

from importlib.metadata import PackageNotFoundError, version

REPOSITORY = "ghcr.io/loopline/loopline"

try:
    VERSION = version("loopline")
except PackageNotFoundError:  # running from a source tree that is not installed
    VERSION = "0.0.0"

IMAGE = f"{REPOSITORY}:{VERSION}"
