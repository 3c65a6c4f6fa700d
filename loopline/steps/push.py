"""Push: a blessed model into the registry as a new version, made production atomically."""

from loopline import registry
from loopline.errors import RegistryError


def push(
    registry_uri: str, model_name: str, model_dir: str, blessed: bool, metadata: dict, baseline: str | None
) -> registry.ModelVersion:
    """Register the model and move the production pointer from `baseline`, the version it was
    judged against; refuses a model that is not blessed, and raises registry.PointerMoved when
    production is no longer `baseline`."""
    if not blessed:
        raise RegistryError(f"model {model_dir} is not blessed: it is never pushed")
    return registry.push(registry_uri, model_name, model_dir, metadata, baseline)
