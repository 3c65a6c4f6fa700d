"""The predictor: model inputs (V2 tensors, one per feature) in, the routed registry version's
scores out. In one process the transformer calls it directly; on a cluster it is the
InferenceService's predictor and the transformer reaches it over the Open Inference Protocol."""

import logging
import math
import time

import numpy as np
import pandas as pd
from kserve import InferInput, InferOutput, InferRequest, InferResponse, Model
from kserve.errors import InvalidInput, ModelNotReady

from loopline.config import Config
from loopline.model_io import families
from loopline.serving import metrics
from loopline.serving.edge import answered
from loopline.serving.models import Loaded, RegistryModels

log = logging.getLogger("loopline.serving")

# Each feature family's tensor type on the wire.
DATATYPES = {"categorical": "BYTES", "numeric": "FP32", "time": "INT64"}
OUTPUTS = {
    "probability": "FP64",
    "model_version": "BYTES",
    "role": "BYTES",
    "latency_ms": "FP64",  # the answering model's call, for the whole request
    "shadow_probability": "FP64",  # shadow mode only, with shadow_version and shadow_latency_ms
    "shadow_version": "BYTES",
    "shadow_latency_ms": "FP64",
    "failed_role": "BYTES",  # a canary or shadow that failed (production answered): role, version, error
    "failed_version": "BYTES",
    "failure": "BYTES",
}


class FlightDelayPredictor(Model):
    """Scores model inputs with the model the registry routes the request id to."""

    def __init__(self, config: Config, models: RegistryModels):
        super().__init__(config.name)
        self.config, self.models = config, models

    def load(self) -> bool:
        self.models.refresh()
        self.ready = self.models.loaded["production"] is not None
        return self.ready

    def predict(self, payload, headers: dict | None = None) -> InferResponse:
        if not isinstance(payload, InferRequest):
            raise InvalidInput("the predictor takes model inputs as V2 tensors (/v2/models/{name}/infer)")
        inputs = model_inputs(payload, self.config)
        try:
            route = self.models.route(payload.id or "")
        except LookupError as error:
            raise ModelNotReady(self.name, str(error)) from None
        n, outputs = len(next(iter(inputs.values()))), {}
        answer, role = route.answer, route.role
        try:
            scores, took = _timed(answer, inputs)
        except Exception as error:  # a failing canary: production answers, the failure is kept
            if role == "production":
                raise ModelNotReady(self.name, f"Version {answer.version} failed: {error}") from None
            outputs |= _failed(role, answer.version, error, n)
            answer, role = self.models.loaded["production"], "production"
            scores, took = _timed(answer, inputs)
        answered(answer.version, role)
        outputs |= {"probability": scores.tolist(), "model_version": [answer.version] * n, "role": [role] * n}
        outputs["latency_ms"] = [took] * n
        if route.shadow is not None:
            try:
                shadow, took = _timed(route.shadow, inputs)
                outputs |= {"shadow_probability": shadow.tolist(), "shadow_version": [route.shadow.version] * n}
                outputs["shadow_latency_ms"] = [took] * n
            except Exception as error:  # the shadow never changes an answer
                outputs |= _failed("shadow", route.shadow.version, error, n)
        return InferResponse(
            response_id=payload.id,
            model_name=self.name,
            infer_outputs=[InferOutput(name, [n], OUTPUTS[name], data) for name, data in outputs.items()],
            model_version=answer.version,
        )

    def get_input_types(self) -> list[dict]:
        return [
            {"name": name, "datatype": DATATYPES[family], "shape": [-1]}
            for family, names in families(self.config).items()
            for name in names
        ]

    def get_output_types(self) -> list[dict]:
        return [{"name": name, "datatype": datatype, "shape": [-1]} for name, datatype in OUTPUTS.items()]


def _timed(model: Loaded, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, float]:
    """`model`'s scores of `inputs` and the milliseconds it took; a score that is no probability
    is an error."""
    started = time.perf_counter()
    with metrics.MODEL_SECONDS.time():
        scores = model.score(inputs).astype(float)
    if not np.isfinite(scores).all():
        raise ValueError(f"version {model.version} gave a score that is not a number")
    return scores, (time.perf_counter() - started) * 1000


def _failed(role: str, version: str, error: Exception, n: int) -> dict[str, list]:
    log.error("%s version %s failed, production answered: %s", role, version, error)
    message = f"{type(error).__name__}: {error}"[:200]
    return {"failed_role": [role] * n, "failed_version": [version] * n, "failure": [message] * n}


def model_request(features: pd.DataFrame, request_id: str, config: Config) -> InferRequest:
    """The model inputs of `features` as the predictor's V2 request (a missing number is null)."""
    n = len(features)
    inputs = []
    for family, names in families(config).items():
        for name in names:
            data = features[name].tolist()
            if family == "numeric":
                data = [None if math.isnan(v) else v for v in data]
            inputs.append(InferInput(name, [n], DATATYPES[family], data))
    return InferRequest(config.name, inputs, request_id=request_id)


def model_inputs(request: InferRequest, config: Config) -> dict[str, np.ndarray]:
    """The model inputs a V2 request carries, in the model contract's dtypes (a null number is NaN)."""
    given = {tensor.name: tensor for tensor in request.inputs}
    inputs = {}
    for family, names in families(config).items():
        for name in names:
            if name not in given:
                raise InvalidInput(f"model input {name} is missing")
            if given[name].datatype != DATATYPES[family]:
                raise InvalidInput(f"model input {name} must have datatype {DATATYPES[family]}")
            try:
                values = given[name].as_numpy().reshape(-1)
            except (ValueError, TypeError) as error:
                raise InvalidInput(f"model input {name}: {error}") from None
            if len(values) != len(next(iter(inputs.values()), values)):
                raise InvalidInput(f"model input {name} holds {len(values)} values, not as many as the others")
            if family == "categorical":
                values = np.array([v.decode() if isinstance(v, bytes) else str(v) for v in values])
            inputs[name] = values
    return inputs
