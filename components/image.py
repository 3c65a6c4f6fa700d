"""The container images, tagged with the package version (`make images` builds them from
docker/): the suite's, which every KFP component runs, and the serving one (`loopline serve`)."""

from importlib.metadata import PackageNotFoundError, version

REPOSITORY = "ghcr.io/loopline/loopline"

try:
    VERSION = version("loopline")
except PackageNotFoundError:  # running from a source tree that is not installed
    VERSION = "0.0.0"

IMAGE = f"{REPOSITORY}:{VERSION}"
SERVING_IMAGE = f"{REPOSITORY}-serving:{VERSION}"
