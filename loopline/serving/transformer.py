"""The transformer of the `flights` InferenceService: preprocess (parse the request, Feast lookup,
the model contract), predict (the predictor: in this process, or over V2 at KServe's
predictor host), postprocess (the answer in the request's protocol, and the prediction log)."""

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import numpy as np
import pandas as pd
from kserve import InferOutput, InferRequest, InferResponse, Model
from kserve.errors import InferenceError, InvalidInput, ModelNotReady

from loopline.config import Config
from loopline.events import event_keys
from loopline.model_io import make_features
from loopline.predictions.log import PredictionLog
from loopline.serving import metrics
from loopline.serving.online import OnlineFeatures
from loopline.serving.predictor import model_request
from loopline.serving.request import V2_TYPES, BadRequest, fields, from_v1, from_v2


@dataclass
class Prepared:
    """A parsed request on its way through: the predictor's request and what the answer needs."""

    model_request: InferRequest
    rows: pd.DataFrame
    features: pd.DataFrame
    v2: bool
    started: float


class FlightFeatures(Model):
    """Answers whether each flight will arrive late: probability, label, version, request id."""

    def __init__(self, config: Config, online: OnlineFeatures, log: PredictionLog | None, predictor: Model | None):
        super().__init__(config.name)
        self.config, self.online, self.log, self.predictor = config, online, log, predictor
        self.evidence = unknown_evidence(config)

    def load(self) -> bool:
        self.ready = self.predictor.ready if self.predictor is not None else True
        return self.ready

    async def preprocess(self, payload, headers: dict | None = None) -> Prepared:
        started = time.perf_counter()
        v2 = isinstance(payload, InferRequest)
        try:
            requests = from_v2(payload.inputs, self.config) if v2 else from_v1(payload, self.config)
        except BadRequest as error:
            metrics.REQUESTS.labels("400", "", "").inc()
            raise InvalidInput(str(error)) from None
        request_id = (payload.id if v2 else None) or (headers or {}).get("x-request-id") or uuid.uuid4().hex
        with metrics.LOOKUP_SECONDS.time():
            rows = self.online.rows(requests)
        features = make_features(rows, self.config)
        return Prepared(model_request(features, request_id, self.config), rows, features, v2, started)

    def validate(self, payload: Prepared) -> Prepared:
        """`preprocess` has checked every field; KServe's own check knows only dict payloads."""
        return payload

    async def predict(self, payload: Prepared, headers: dict | None = None) -> tuple[InferResponse, Prepared]:
        """The predictor's answer: in this process, or over V2 from KServe's predictor host (a
        predictor that does not answer or is not ready is a 503 that says so)."""
        if self.predictor is not None:
            return self.predictor.predict(payload.model_request, headers), payload
        try:
            response = await super().predict(payload.model_request, headers)
        except httpx.TransportError as error:
            host = self.predictor_config.predictor_host
            raise ModelNotReady(
                self.name, f"Its predictor at {host} does not answer ({type(error).__name__})."
            ) from None
        except httpx.HTTPStatusError as error:
            status, detail = error.response.status_code, error.response.text
            if status == 503:
                raise ModelNotReady(self.name, f"Its predictor is not ready: {detail}") from None
            raise InferenceError(f"the predictor answered {status}: {detail}") from None
        return response, payload

    def postprocess(self, result: tuple[InferResponse, Prepared], headers: dict | None = None):
        response, prepared = result
        answer = {output.name: output.as_numpy().reshape(-1) for output in response.outputs}
        scores = answer["probability"].astype(float)
        version, role = _text(answer["model_version"][0]), _text(answer["role"][0])
        late = scores >= self.config.serving.threshold
        unknown = self._unknown(prepared.rows)
        metrics.REQUESTS.labels("200", version, role).inc()
        if self.log is not None:
            scored = [(role, version, scores)]
            if "shadow_probability" in answer:
                scored.append(("shadow", _text(answer["shadow_version"][0]), answer["shadow_probability"]))
            self.log.submit(records(prepared, scored, self.config))
        metrics.REQUEST_SECONDS.observe(time.perf_counter() - prepared.started)
        request_id = prepared.model_request.id
        if not prepared.v2:
            return {
                "predictions": [
                    {
                        "probability": float(p),
                        self.config.label.name: bool(flag),
                        "model_version": version,
                        "request_id": request_id,
                        "unknown": names,
                    }
                    for p, flag, names in zip(scores, late, unknown, strict=True)
                ]
            }
        n = len(scores)
        outputs = [
            InferOutput("probability", [n], "FP64", scores.tolist()),
            InferOutput(self.config.label.name, [n], "BOOL", late.tolist()),
            InferOutput("unknown", [n], "BYTES", [",".join(names) for names in unknown]),
            InferOutput("model_version", [n], "BYTES", [version] * n),
        ]
        return InferResponse(request_id, self.name, outputs, model_version=version)

    def _unknown(self, rows: pd.DataFrame) -> list[list[str]]:
        """Per instance, the request fields the store knows nothing of."""
        na = rows.isna().to_numpy()
        missing = {
            name: na[:, rows.columns.get_indexer(columns)].all(axis=1) for name, columns in self.evidence.items()
        }
        return [[name for name, flags in missing.items() if flags[i]] for i in range(len(rows))]

    def get_input_types(self) -> list[dict]:
        return [{"name": name, "datatype": V2_TYPES[kind], "shape": [-1]} for name, kind in fields(self.config).items()]

    def get_output_types(self) -> list[dict]:
        outputs = {"probability": "FP64", self.config.label.name: "BOOL", "unknown": "BYTES", "model_version": "BYTES"}
        return [{"name": name, "datatype": datatype, "shape": [-1]} for name, datatype in outputs.items()]


def records(prepared: Prepared, scored: list[tuple[str, str, np.ndarray]], config: Config) -> list[dict]:
    """One prediction record per instance and model that scored it (the answer, and the shadow)."""
    now = datetime.now(UTC)
    keys = event_keys(prepared.rows, config)
    columns = {name: [None if pd.isna(v) else v for v in values.tolist()] for name, values in prepared.features.items()}
    inputs = [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]
    return [
        {
            "request_id": prepared.model_request.id,
            "position": i,
            "role": role,
            "predicted_at": now,
            "flight_key": keys[i],
            "model_version": version,
            "inputs": inputs[i],
            "score": float(scores[i]),
        }
        for role, version, scores in scored
        for i in range(len(keys))
    ]


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def unknown_evidence(config: Config) -> dict[str, list[str]]:
    """Per request field, the served features that say the store knows its value: when all of
    them come back missing, the value is unknown to the store (the model answers with its
    out-of-vocabulary and missing-number inputs)."""
    evidence: dict[str, list[str]] = {}
    for name in config.request_fields:
        columns = [lu.output_name(c) for lu in config.source.lookups if name in lu.keys for c in lu.columns]
        columns += [c for spec in config.features.attributes.values() if name in spec.keys for c in spec.columns]
        columns += [config.trailing_columns(g)[1] for g, keys in config.history.trailing.items() if keys == [name]]
        if columns:
            evidence[name] = columns
    return evidence
