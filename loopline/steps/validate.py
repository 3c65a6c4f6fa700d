"""Validate: TFDV statistics, schema check and train/eval drift; anomalies stop the pipeline.

TFDV runs in its own interpreter (see README: its wheels need a newer glibc than TensorFlow's
environment here, so locally it has `.venv-tfdv`, on a cluster its own image). The interpreter
is LOOPLINE_TFDV_PYTHON, else the sibling environment `<this venv>-tfdv`, else this one.
"""

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from loopline import report, storage
from loopline.config import Config
from loopline.errors import ConfigError, LooplineError, ValidationFailed

JOB = Path(__file__).with_name("tfdv_job.py")


def tfdv_python() -> str:
    if os.environ.get("LOOPLINE_TFDV_PYTHON"):
        return os.environ["LOOPLINE_TFDV_PYTHON"]
    sibling = Path(f"{sys.prefix}-tfdv", "bin", "python")
    return str(sibling) if sibling.exists() else sys.executable


def schema_path(config: Config, workdir: str) -> str | None:
    """The curated schema as a local file: a path, a gs:// URI or a packaged name; None if absent."""
    name = config.validation.schema_file
    if "/" not in name:
        packaged = resources.files("loopline") / "schemas" / name
        return str(packaged) if packaged.is_file() else None
    if not storage.exists(name):
        raise ConfigError(f"validation.schema_file: {name} does not exist")
    return str(storage.local_copy(name, workdir))


@dataclass
class ValidationResult:
    summary: dict
    html: str

    @property
    def anomalies(self) -> list[dict]:
        return self.summary["anomalies"]

    def describe(self) -> str:
        lines = [f"  {a['split']:<5} {a['feature']}: {a['short']}. {a['description']}" for a in self.anomalies]
        return f"data validation found {len(lines)} anomal{'y' if len(lines) == 1 else 'ies'}:\n" + "\n".join(lines)


def run_tfdv(train_path: str, eval_path: str, out_dir: str, schema: str | None, drift: dict[str, float]) -> dict:
    """Run the TFDV job; returns its summary.json. Its output is shown only when it fails."""
    command = [
        tfdv_python(),
        str(JOB),
        "--train",
        train_path,
        "--eval",
        eval_path,
        "--out",
        out_dir,
        "--drift",
        json.dumps(drift),
    ]
    if schema:
        command += ["--schema", schema]
    env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise LooplineError(f"TFDV ({command[0]}) failed:\n{tail}")
    return json.loads(Path(out_dir, "summary.json").read_text())


def validate(config: Config, train_path: str, eval_path: str, out_dir: str) -> ValidationResult:
    """Statistics, schema, anomalies and an HTML view into `out_dir`; raises on anomalies."""
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    schema = schema_path(config, out_dir)
    summary = run_tfdv(train_path, eval_path, out_dir, schema, config.validation.drift)
    result = ValidationResult(summary, render(summary, schema or "(inferred from train)"))
    Path(out_dir, "report.html").write_text(result.html)
    if result.anomalies:
        raise ValidationFailed(result.describe() + f"\nreport: {Path(out_dir, 'report.html')}")
    return result


def render(summary: dict, schema: str) -> str:
    anomalies = summary["anomalies"]
    head = report.verdict(not anomalies, f"{len(anomalies)} anomalies" if anomalies else "no anomalies")
    if summary["schema_inferred"]:
        head += "<p>No curated schema: this one was inferred from train. Review it and check it in.</p>"
    numeric = [
        [name, s["count"], s["missing"], s["mean"], summary["eval"].get(name, {}).get("mean"), s["min"], s["max"]]
        for name, s in summary["train"].items()
        if s["kind"] == "numeric"
    ]
    categorical = [
        [name, s["count"], s["missing"], s["unique"], ", ".join(str(v) for v, _ in s["top"])]
        for name, s in summary["train"].items()
        if s["kind"] == "categorical"
    ]
    return report.page(
        "Data validation (TFDV)",
        head,
        f"<p>Schema: {schema}</p>",
        "<h2>Anomalies</h2>",
        report.table(
            ["split", "feature", "anomaly", "detail"],
            [[a["split"], a["feature"], a["short"], a["description"]] for a in anomalies],
        ),
        "<h2>Drift, train vs eval</h2>",
        report.table(
            ["feature", "distance", "threshold"], [[k, v["value"], v["threshold"]] for k, v in summary["drift"].items()]
        ),
        "<h2>Numeric features (train)</h2>",
        report.table(["feature", "count", "missing", "mean", "eval mean", "min", "max"], numeric),
        "<h2>Categorical features (train)</h2>",
        report.table(["feature", "count", "missing", "unique", "top values"], categorical),
    )
