import json

import pytest

from loopline import registry, storage
from loopline.errors import RegistryError
from loopline.steps.push import push


@pytest.fixture(params=["local", "gcs"])
def reg(request, tmp_path):
    if request.param == "local":
        return str(tmp_path / "registry")
    return f"{request.getfixturevalue('gcs_bucket')}/registry-{tmp_path.name}"


def model_dir(tmp_path, content: str):
    folder = tmp_path / f"model-{content}"
    (folder / "variables").mkdir(parents=True)
    (folder / "saved_model.pb").write_text(content)
    (folder / "variables" / "variables.index").write_text(content)
    return str(folder)


def production_content(reg, tmp_path):
    current = registry.production(reg, "flights")
    return storage.read_text(storage.join(current.uri, "saved_model.pb"))


def test_pushes_make_numbered_versions_and_move_production(reg, tmp_path):
    assert registry.production(reg, "flights") is None
    first = push(reg, "flights", model_dir(tmp_path, "one"), True, {"metrics": {"auc": 0.7}})
    second = push(reg, "flights", model_dir(tmp_path, "two"), True, {"metrics": {"auc": 0.71}})
    assert (first.version, second.version) == ("0001", "0002")
    assert registry.versions(reg, "flights") == ["0001", "0002"]
    current = registry.production(reg, "flights")
    assert current.version == "0002" and current.metadata["metrics"] == {"auc": 0.71}
    assert production_content(reg, tmp_path) == "two"


def test_a_model_that_is_not_blessed_is_never_pushed(reg, tmp_path):
    with pytest.raises(RegistryError, match="not blessed"):
        push(reg, "flights", model_dir(tmp_path, "one"), False, {})
    assert registry.production(reg, "flights") is None and registry.versions(reg, "flights") == []


@pytest.mark.parametrize("crash_at", ["copy", "marker", "pointer"])
def test_a_crash_mid_push_leaves_the_old_production(reg, tmp_path, monkeypatch, crash_at):
    push(reg, "flights", model_dir(tmp_path, "old"), True, {})
    real_upload, real_write = storage.upload_dir, storage.write_text

    def upload_then_crash(local, uri):
        real_upload(local, uri)
        if crash_at == "copy":
            raise OSError("disk full")

    def write_or_crash(uri, text):
        if uri.endswith(registry.MARKER if crash_at == "marker" else registry.POINTER):
            raise OSError("killed")
        real_write(uri, text)

    monkeypatch.setattr(storage, "upload_dir", upload_then_crash)
    monkeypatch.setattr(storage, "write_text", write_or_crash)
    with pytest.raises(OSError):
        push(reg, "flights", model_dir(tmp_path, "new"), True, {})
    monkeypatch.undo()
    assert registry.production(reg, "flights").version == "0001"
    assert production_content(reg, tmp_path) == "old"
    # the next push skips the number of the broken attempt rather than reusing its folder
    assert push(reg, "flights", model_dir(tmp_path, "next"), True, {}).version == "0003"
    assert production_content(reg, tmp_path) == "next"
    if crash_at != "pointer":
        assert registry.versions(reg, "flights") == ["0001", "0003"]


def test_a_corrupt_pointer_is_a_named_error(tmp_path):
    reg = str(tmp_path)
    storage.write_text(storage.join(reg, "flights", registry.POINTER), "{not json")
    with pytest.raises(RegistryError, match="production.json is not valid JSON"):
        registry.production(reg, "flights")
    storage.write_text(storage.join(reg, "flights", registry.POINTER), json.dumps({"version": "0042"}))
    with pytest.raises(RegistryError, match="version 0042 is missing or incomplete"):
        registry.production(reg, "flights")
