"""Kubeflow Pipelines from the command line (KFP v2 API, through kfp.Client): submit a pipeline,
schedule it, list runs and schedules.

A recurring run cannot be updated in place, so `schedule` replaces one: it creates the new
schedule disabled, disables the old ones, enables the new one and deletes the old ones: no moment
with two schedules of one name enabled, and the switch takes two calls. Every schedule runs one
run at a time (`max_concurrency=1`) and never backfills (`no_catchup`): a retraining, a feature
load or a monitor that missed its time runs once, on the newest data.
"""

import contextlib
import io
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import yaml

from loopline.errors import LooplineError

PIPELINES = ("training", "features", "monitoring")
EXPERIMENT = "loopline"
SERVICE_ACCOUNT = "loopline-pipeline"  # manifests/base: may read and write the buckets, nothing else
KINDS = {"STRING": str, "NUMBER_INTEGER": int, "NUMBER_DOUBLE": float, "BOOLEAN": bool, "LIST": list, "STRUCT": dict}


class Unreachable(LooplineError):
    """Kubeflow Pipelines does not answer, or refuses a call; the message says which and why."""

    exit_status = 1  # not the input's fault


@dataclass
class Package:
    """A compiled pipeline: its file, name and parameters (name: KFP parameter type)."""

    path: Path
    name: str
    parameters: dict[str, str]


def package(pipeline: str, folder: str | Path) -> Package:
    """`pipeline` compiled into `folder` (one of PIPELINES, from this installation's definitions)
    or, given a path, a compiled YAML as it is."""
    if pipeline in PIPELINES:
        from kfp import compiler

        from loopline.pipelines import features, monitoring, training

        functions = {
            "training": training.training_pipeline,
            "features": features.features_pipeline,
            "monitoring": monitoring.monitoring_pipeline,
        }
        path = Path(folder, f"{pipeline}.yaml")
        compiler.Compiler().compile(functions[pipeline], str(path))
    else:
        path = Path(pipeline)
        if not path.is_file():
            known = ", ".join(PIPELINES)
            raise LooplineError(f"pipeline {pipeline!r} is neither one of {known} nor a compiled YAML file")
    try:
        spec = next(yaml.safe_load_all(path.read_text()))  # the pipeline; then its platform spec
        parameters = spec["root"].get("inputDefinitions", {}).get("parameters", {})
        return Package(path, spec["pipelineInfo"]["name"], {k: v["parameterType"] for k, v in parameters.items()})
    except (yaml.YAMLError, KeyError, TypeError, AttributeError):
        raise LooplineError(f"{path} is not a compiled KFP pipeline (no pipelineInfo or root)") from None


def arguments(package: Package, given: list[str]) -> dict:
    """`name=value` pairs as the pipeline's typed parameters; a value is JSON where its type is
    not a string (`epochs=3`, `hidden_units=[64,32]`)."""
    out = {}
    for item in given:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise LooplineError(f"--param {item!r} must be NAME=VALUE")
        if name not in package.parameters:
            raise LooplineError(
                f"--param {name}: {package.name} has no such parameter; it has {', '.join(package.parameters)}"
            )
        kind = KINDS.get(package.parameters[name], str)
        if kind is str:
            out[name] = text
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = None
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise LooplineError(f"--param {name}: {text!r} is not {package.parameters[name]}")
        out[name] = value
    return out


def cron(expression: str) -> str:
    """A KFP cron expression: 6 fields, seconds first ('0 0 3 * * *': 03:00 every day)."""
    fields = expression.split()
    if len(fields) != 6:
        raise LooplineError(
            f"--cron {expression!r} has {len(fields)} fields; KFP takes 6, seconds first, e.g. '0 0 3 * * *'"
        )
    return " ".join(fields)


class Pipelines:
    """One Kubeflow Pipelines host."""

    def __init__(self, host: str, namespace: str | None = None):
        self.host = host.rstrip("/")
        self._healthz()  # kfp.Client retries a refusing host for 25 s, logging tracebacks
        self.client = self._call("connect", lambda: _client(self.host, namespace))

    def _healthz(self) -> None:
        import httpx

        try:
            answer = httpx.get(f"{self.host}/apis/v2beta1/healthz", timeout=10)
        except httpx.HTTPError as error:
            raise Unreachable(f"Kubeflow Pipelines at {self.host} does not answer: {error}") from None
        if answer.status_code != 200:
            reason = answer.text.strip().replace("\n", " ")[:200]
            raise Unreachable(f"Kubeflow Pipelines at {self.host} refused: {answer.status_code} {reason}")

    def _call(self, what: str, call):
        """`call()`, any failure to reach or be answered by the host as Unreachable."""
        from kfp_server_api.exceptions import ApiException

        try:
            with contextlib.redirect_stdout(io.StringIO()):  # the client prints links of its own
                return call()
        except ApiException as error:
            reason = (error.body or error.reason or "").strip().replace("\n", " ")[:300]
            raise Unreachable(f"Kubeflow Pipelines at {self.host} refused to {what}: {error.status} {reason}") from None
        except LooplineError:
            raise
        except Exception as error:  # connection refused, DNS, TLS, timeouts: urllib3's own errors
            reason = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
            raise Unreachable(f"Kubeflow Pipelines at {self.host} does not answer ({what}): {reason}") from None

    def experiment(self, name: str) -> str:
        return self._call("find or create the experiment", lambda: self.client.create_experiment(name).experiment_id)

    def submit(
        self,
        package: Package,
        params: dict,
        experiment: str = EXPERIMENT,
        run_name: str | None = None,
        service_account: str = SERVICE_ACCOUNT,
    ) -> str:
        """Start one run of `package` as `service_account`; its run id."""
        experiment_id = self.experiment(experiment)
        run = self._call(
            "create the run",
            lambda: self.client.run_pipeline(
                experiment_id=experiment_id,
                job_name=run_name or package.name,
                pipeline_package_path=str(package.path),
                params=params,
                service_account=service_account,
            ),
        )
        return run.run_id

    def schedules(self, experiment: str = EXPERIMENT) -> list:
        experiment_id = self.experiment(experiment)
        found = self._call(
            "list the recurring runs",
            lambda: self.client.list_recurring_runs(experiment_id=experiment_id, page_size=200),
        )
        return found.recurring_runs or []

    def schedule(
        self,
        name: str,
        expression: str,
        package: Package,
        params: dict,
        experiment: str = EXPERIMENT,
        service_account: str = SERVICE_ACCOUNT,
    ) -> tuple[str, list[str]]:
        """Schedule `package` as the recurring run `name`, replacing any of that name (see the
        module's doc). Returns the new id and the replaced ones."""
        expression = cron(expression)
        experiment_id = self.experiment(experiment)
        old = [s.recurring_run_id for s in self.schedules(experiment) if s.display_name == name]
        created = self._call(
            "create the recurring run",
            lambda: self.client.create_recurring_run(
                experiment_id=experiment_id,
                job_name=name,
                cron_expression=expression,
                max_concurrency=1,
                no_catchup=True,
                pipeline_package_path=str(package.path),
                params=params,
                enabled=not old,
                service_account=service_account,
            ),
        ).recurring_run_id
        for run_id in old:
            self._call("disable the old recurring run", lambda run_id=run_id: self.client.disable_recurring_run(run_id))
        if old:
            self._call("enable the new recurring run", lambda: self.client.enable_recurring_run(created))
        for run_id in old:
            self._call("delete the old recurring run", lambda run_id=run_id: self.client.delete_recurring_run(run_id))
        return created, old

    def runs(self, experiment: str = EXPERIMENT, count: int = 20) -> list:
        experiment_id = self.experiment(experiment)
        found = self._call(
            "list the runs",
            lambda: self.client.list_runs(experiment_id=experiment_id, page_size=count, sort_by="created_at desc"),
        )
        return found.runs or []


def _client(host: str, namespace: str | None):
    import kfp

    with warnings.catch_warnings():  # "This client only works with Kubeflow Pipeline v2.0.0-beta.2 and later"
        warnings.simplefilter("ignore", FutureWarning)
        return kfp.Client(host=host, **({"namespace": namespace} if namespace else {}))


def run_link(host: str, run_id: str) -> str:
    """The run's page in the Kubeflow Pipelines UI (served beside the API)."""
    return f"{host}/#/runs/details/{run_id}"
