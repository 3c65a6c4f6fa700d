"""The models a server holds: each version warmed up when it loads, a promoted canary kept as it
is (neither pays its first call's cost on a request, where the judge would count it)."""

import logging

import pytest

from loopline import registry
from loopline.config import load_config
from loopline.serving.models import RegistryModels

pytestmark = pytest.mark.slow
CONFIG = load_config("flights")


def test_a_version_is_warmed_up_at_load_and_a_promoted_canary_kept(fresh_registry, trained_model, caplog):
    registry.push(fresh_registry, "flights", trained_model, {}, None, registry.CANARY)
    models = RegistryModels(fresh_registry, CONFIG, shadow=True)
    with caplog.at_level(logging.WARNING, logger="loopline.serving"):
        models.refresh()
    warmed = [r.getMessage().split()[1] for r in caplog.records if "its first call, at load" in r.getMessage()]
    assert warmed == ["0001", "0002"]
    canary = models.loaded["canary"]
    registry.promote(fresh_registry, "flights", "0002", {})
    caplog.clear()
    models.refresh()
    assert models.loaded["production"] is canary and models.loaded["canary"] is None
    assert not [r for r in caplog.records if "loaded" in r.getMessage()]
