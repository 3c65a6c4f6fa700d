"""What `pip install .` puts into site-packages: one import name and the console script."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_only_loopline_lands_at_the_top_level(tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    top = {p.name for p in target.iterdir() if not p.name.endswith(".dist-info")}
    assert top == {"loopline", "bin"}
    assert (target / "bin" / "loopline").exists()
    package = target / "loopline"
    for module in (
        "components/ingest.py",
        "pipelines/training.yaml",
        "pipelines/features.yaml",
        "configs/flights.yaml",
    ):
        assert (package / module).is_file(), module
    assert (package / "schemas" / "flights.pbtxt").is_file()
