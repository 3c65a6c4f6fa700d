import json

import pytest

from loopline import storage


@pytest.fixture(params=["local", "gcs"])
def root(request, tmp_path):
    if request.param == "local":
        return str(tmp_path)
    return f"{request.getfixturevalue('gcs_bucket')}/storage-{tmp_path.name}"


def test_write_read_replace_and_list(root):
    uri = storage.join(root, "a", "b.txt")
    assert not storage.exists(uri)
    storage.write_text(uri, "one")
    storage.write_text(uri, "two")
    assert storage.read_text(uri) == "two"
    assert storage.exists(uri) and storage.exists(storage.join(root, "a"))
    storage.write_text(storage.join(root, "a", "c.txt"), "x")
    assert storage.list_dir(storage.join(root, "a")) == ["b.txt", "c.txt"]
    assert storage.list_dir(storage.join(root, "nothing")) == []
    with pytest.raises(FileNotFoundError):
        storage.read_bytes(storage.join(root, "missing"))


def test_folders_round_trip(root, tmp_path):
    src = tmp_path / "src"
    (src / "variables").mkdir(parents=True)
    (src / "saved_model.pb").write_bytes(b"\x00\x01")
    (src / "variables" / "v.data").write_text("weights")
    storage.upload_dir(src, storage.join(root, "model"))
    back = storage.download_dir(storage.join(root, "model"), tmp_path / "back")
    assert (back / "saved_model.pb").read_bytes() == b"\x00\x01"
    assert (back / "variables" / "v.data").read_text() == "weights"
    usable = storage.local_folder(storage.join(root, "model"), tmp_path / "work")
    assert (usable / "saved_model.pb").read_bytes() == b"\x00\x01"
    assert (str(usable) == storage.join(root, "model")) == (not storage.is_gcs(root))  # local: no copy


def test_local_writes_leave_no_temporary_files(tmp_path):
    storage.write_text(str(tmp_path / "p.json"), "{}")
    assert [p.name for p in tmp_path.iterdir()] == ["p.json"]


def test_a_reader_listing_a_folder_while_it_is_written_reads_only_whole_files(tmp_path):
    """What the policy does while another process records windows and decisions: list the folder,
    read every file. A write in progress is never listed, and an exclusive create is never seen
    empty (the race a two-process test caught as an empty JSON file)."""
    import threading

    folder, done = str(tmp_path / "windows"), threading.Event()

    def write() -> None:
        for i in range(300):
            storage.write_text(storage.join(folder, f"{i % 7}.json"), json.dumps({"n": i}))
            storage.create_exclusive(storage.join(folder, f"x{i}.json"), json.dumps({"n": i}))
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    reads = 0
    while not done.is_set():
        for name in storage.list_dir(folder):
            assert storage.read_text(storage.join(folder, name)).startswith('{"n": ')
            reads += 1
    writer.join()
    assert reads > 0 and len(storage.list_dir(folder)) == 307
