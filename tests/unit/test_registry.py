import json
import multiprocessing
import os

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
    first = push(reg, "flights", model_dir(tmp_path, "one"), True, {"metrics": {"auc": 0.7}}, None)
    second = push(reg, "flights", model_dir(tmp_path, "two"), True, {"metrics": {"auc": 0.71}}, "0001")
    assert (first.version, second.version) == ("0001", "0002")
    assert registry.versions(reg, "flights") == ["0001", "0002"]
    current = registry.production(reg, "flights")
    assert current.version == "0002" and current.metadata["metrics"] == {"auc": 0.71}
    assert production_content(reg, tmp_path) == "two"


def test_a_model_that_is_not_blessed_is_never_pushed(reg, tmp_path):
    with pytest.raises(RegistryError, match="not blessed"):
        push(reg, "flights", model_dir(tmp_path, "one"), False, {}, None)
    assert registry.production(reg, "flights") is None and registry.versions(reg, "flights") == []


@pytest.mark.parametrize("crash_at", ["copy", "marker", "pointer"])
def test_a_crash_mid_push_leaves_the_old_production(reg, tmp_path, monkeypatch, crash_at):
    push(reg, "flights", model_dir(tmp_path, "old"), True, {}, None)
    real_upload, real_write, real_swap = storage.upload_dir, storage.write_text, storage.compare_and_swap

    def upload_then_crash(local, uri):
        real_upload(local, uri)
        if crash_at == "copy":
            raise OSError("disk full")

    def write_or_crash(uri, text):
        if crash_at == "marker" and uri.endswith(registry.MARKER):
            raise OSError("killed")
        real_write(uri, text)

    def swap_or_crash(uri, expected, text):
        if crash_at == "pointer":
            raise OSError("killed")
        return real_swap(uri, expected, text)

    monkeypatch.setattr(storage, "upload_dir", upload_then_crash)
    monkeypatch.setattr(storage, "write_text", write_or_crash)
    monkeypatch.setattr(storage, "compare_and_swap", swap_or_crash)
    with pytest.raises(OSError):
        push(reg, "flights", model_dir(tmp_path, "new"), True, {}, "0001")
    monkeypatch.undo()
    assert registry.production(reg, "flights").version == "0001"
    assert production_content(reg, tmp_path) == "old"
    # the next push skips the number of the broken attempt rather than reusing its folder
    assert push(reg, "flights", model_dir(tmp_path, "next"), True, {}, "0001").version == "0003"
    assert production_content(reg, tmp_path) == "next"
    if crash_at != "pointer":
        assert registry.versions(reg, "flights") == ["0001", "0003"]


def test_a_corrupt_pointer_is_a_named_error(tmp_path):
    reg = str(tmp_path)
    storage.write_text(storage.join(reg, "flights", registry.POINTER), "{not json")
    with pytest.raises(RegistryError, match="production.json is not valid JSON naming a version"):
        registry.production(reg, "flights")
    storage.write_text(storage.join(reg, "flights", registry.POINTER), json.dumps({"version": "0042"}))
    with pytest.raises(RegistryError, match="version 0042 is missing or incomplete"):
        registry.production(reg, "flights")


def test_a_push_judged_against_a_stale_production_is_refused(reg, tmp_path):
    push(reg, "flights", model_dir(tmp_path, "one"), True, {}, None)
    push(reg, "flights", model_dir(tmp_path, "two"), True, {}, "0001")
    stale = "production changed from 0001 to 0002 during evaluation; version 0003 stays"
    with pytest.raises(registry.PointerMoved, match=stale):
        push(reg, "flights", model_dir(tmp_path, "judged-against-one"), True, {}, "0001")
    assert registry.production(reg, "flights").version == "0002"
    assert registry.versions(reg, "flights") == ["0001", "0002", "0003"]  # kept, complete, not in production


def test_the_pointer_moves_only_from_the_version_its_mover_saw(reg, tmp_path):
    push(reg, "flights", model_dir(tmp_path, "one"), True, {}, None)
    push(reg, "flights", model_dir(tmp_path, "two"), True, {}, "0001")
    with pytest.raises(registry.PointerMoved, match="changed from none to 0002"):
        registry.move(reg, "flights", registry.PRODUCTION, None, "0001")
    registry.move(reg, "flights", registry.PRODUCTION, "0002", "0001")
    assert registry.production(reg, "flights").version == "0001"
    with pytest.raises(RegistryError, match="version 0009 is missing or incomplete"):
        registry.move(reg, "flights", registry.PRODUCTION, "0001", "0009")


def test_a_canary_is_pushed_promoted_and_rolled_back_by_the_same_moves(reg, tmp_path):
    push(reg, "flights", model_dir(tmp_path, "one"), True, {}, None)
    canary = registry.push(reg, "flights", model_dir(tmp_path, "two"), {}, None, registry.CANARY)
    assert registry.production(reg, "flights").version == "0001"  # untouched until judged
    assert registry.pointed(reg, "flights", registry.CANARY).version == canary.version == "0002"
    registry.move(reg, "flights", registry.PRODUCTION, "0001", "0002")  # promote ...
    registry.clear(reg, "flights", registry.CANARY, "0002")  # ... and clear the canary
    assert production_content(reg, tmp_path) == "two" and registry.pointed(reg, "flights", registry.CANARY) is None
    registry.push(reg, "flights", model_dir(tmp_path, "three"), {}, None, registry.CANARY)
    with pytest.raises(registry.PointerMoved, match="canary changed from 0002 to 0003"):
        registry.clear(reg, "flights", registry.CANARY, "0002")
    registry.clear(reg, "flights", registry.CANARY, "0003")  # rolled back: the version stays
    assert registry.pointed(reg, "flights", registry.CANARY) is None and "0003" in registry.versions(reg, "flights")
    with pytest.raises(RegistryError, match="no pointer 'staging'"):
        registry.move(reg, "flights", "staging", None, "0001")


def test_promote_and_roll_back_move_the_pointers_and_record_each_decision_once(reg, tmp_path):
    push(reg, "flights", model_dir(tmp_path, "one"), True, {}, None)
    with pytest.raises(RegistryError, match="no canary to promote"):
        registry.promote(reg, "flights")
    registry.push(reg, "flights", model_dir(tmp_path, "two"), {}, None, registry.CANARY)
    promoted = registry.promote(reg, "flights", evidence={"reason": "better"})
    assert promoted["version"] == "0002" and promoted["production_before"] == "0001"
    assert registry.production(reg, "flights").version == "0002"
    assert registry.pointed(reg, "flights", registry.CANARY) is None
    registry.push(reg, "flights", model_dir(tmp_path, "three"), {}, None, registry.CANARY)
    with pytest.raises(registry.PointerMoved):
        registry.roll_back(reg, "flights", "0002")  # judged on another canary: nothing moves
    registry.roll_back(reg, "flights", "0003")
    with pytest.raises(RegistryError, match="no canary to roll back"):
        registry.roll_back(reg, "flights")
    registry.promote(reg, "flights", "0001")  # by hand, back to an older version
    decisions = registry.decisions(reg, "flights")
    assert [(d["action"], d["version"], d["production_before"]) for d in decisions] == [
        ("promote", "0002", "0001"),
        ("rollback", "0003", "0002"),
        ("promote", "0001", "0002"),
    ]
    assert decisions[0]["evidence"] == {"reason": "better"} and decisions[2]["evidence"] == {"by": "hand"}


def test_models_marks_production_and_the_canary(tmp_path, capsys):
    from loopline.cli import main

    reg = str(tmp_path / "registry")
    push(reg, "flights", model_dir(tmp_path, "one"), True, {}, None)
    registry.push(reg, "flights", model_dir(tmp_path, "two"), {}, None, registry.CANARY)
    assert main(["models", "--registry", reg]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line[:7] for line in lines] == ["*  0001", "c  0002"]


def _racing_push(args: tuple[str, str, str]) -> str:
    """One process's push, against no production; the version it pushed or why it was refused."""
    reg, folder, emulator = args
    if emulator:
        os.environ["STORAGE_EMULATOR_HOST"] = emulator
    try:
        return push(reg, "flights", folder, True, {"from": folder}, None).version
    except registry.PointerMoved as moved:
        return f"refused: {moved}"


def test_eight_racing_pushes_leave_eight_versions_and_one_pointer_move(reg, tmp_path):
    folders = [model_dir(tmp_path, f"m{i}") for i in range(8)]
    emulator = os.environ.get("STORAGE_EMULATOR_HOST", "") if storage.is_gcs(reg) else ""
    with multiprocessing.get_context("spawn").Pool(8) as pool:
        outcomes = pool.map(_racing_push, [(reg, folder, emulator) for folder in folders])
    pushed = [o for o in outcomes if not o.startswith("refused")]
    refused = [o for o in outcomes if o.startswith("refused")]
    assert len(pushed) == 1 and len(refused) == 7, outcomes
    assert all("production changed from none to" in o for o in refused)
    assert registry.versions(reg, "flights") == [f"{n:04d}" for n in range(1, 9)]
    contents = {
        storage.read_text(storage.join(registry.get(reg, "flights", v).uri, "saved_model.pb"))
        for v in registry.versions(reg, "flights")
    }
    assert contents == {f"m{i}" for i in range(8)}  # eight complete, distinct copies
    assert registry.production(reg, "flights").version == pushed[0]
