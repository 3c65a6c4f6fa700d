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
from kserve.errors import InvalidInput, ModelNotReady

from loopline.config import Config
from loopline.errors import BadRequest
from loopline.events import EARLIEST, event_keys
from loopline.model_io import make_features
from loopline.predictions.log import PredictionLog
from loopline.serving import metrics
from loopline.serving.edge import answered
from loopline.serving.online import OnlineFeatures, OnlineStoreUnavailable
from loopline.serving.predictor import model_request
from loopline.serving.request import V2_TYPES, fields, from_v1, from_v2, request_id


@dataclass
class Prepared:
    """A parsed request on its way through: the predictor's request and what the answer needs."""

    model_request: InferRequest
    rows: pd.DataFrame
    features: pd.DataFrame
    v2: bool
    started: float


class FlightFeatures(Model):
    """Answers whether each flight will arrive late: probability, label, version, request id,
    and what the store did not know (`unknown`) or knew only at another time (`freshness`)."""

    def __init__(self, config: Config, online: OnlineFeatures, log: PredictionLog | None, predictor: Model | None):
        super().__init__(config.name)
        self.config, self.online, self.log, self.predictor = config, online, log, predictor
        self.evidence = unknown_evidence(config)
        self.probe = probe_rows(config)
        self.stale_after = pd.Timedelta(hours=config.serving.stale_after_hours)

    def load(self) -> bool:
        """Ready once the predictor is (in this process); the online store is checked too, and a
        problem with it makes `healthy` say so."""
        self.online.check(self.probe)
        self.ready = self.predictor.ready if self.predictor is not None else True
        return self.ready

    async def healthy(self) -> bool:
        """Readiness, and the check before every request: an online store that cannot answer is a
        503 that names it."""
        if self.online.problem:
            raise ModelNotReady(self.name, self.online.problem)
        return self.ready

    async def preprocess(self, payload, headers: dict | None = None) -> Prepared:
        started = time.perf_counter()
        v2 = isinstance(payload, InferRequest)
        try:
            requests = from_v2(payload.inputs, self.config) if v2 else from_v1(payload, self.config)
            request = _request_id(payload.id if v2 else None, headers or {})
        except BadRequest as error:
            raise InvalidInput(str(error)) from None
        try:
            with metrics.LOOKUP_SECONDS.time():
                rows = self.online.rows(requests)
        except OnlineStoreUnavailable as error:
            raise ModelNotReady(self.name, str(error)) from None
        features = make_features(rows, self.config)
        return Prepared(model_request(features, request, self.config), rows, features, v2, started)

    def validate(self, payload: Prepared) -> Prepared:
        """`preprocess` has checked every field; KServe's own check knows only dict payloads."""
        return payload

    async def predict(self, payload: Prepared, headers: dict | None = None) -> tuple[InferResponse, Prepared]:
        """The predictor's answer: in this process, or over V2 from KServe's predictor host (a
        predictor that does not answer, is not ready or fails is a 503 that says so)."""
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
            state = "is not ready" if status == 503 else f"answered {status}"
            raise ModelNotReady(self.name, f"Its predictor {state}: {detail}") from None
        return response, payload

    def postprocess(self, result: tuple[InferResponse, Prepared], headers: dict | None = None):
        response, prepared = result
        answer = {output.name: output.as_numpy().reshape(-1) for output in response.outputs}
        scores = answer["probability"].astype(float)
        version, role = _text(answer["model_version"][0]), _text(answer["role"][0])
        late = scores >= self.config.serving.threshold
        departs = departures(prepared.rows, self.config)
        unknown, freshness = self._unknown(prepared.rows), self._freshness(departs)
        answered(version, role)
        if self.log is not None:
            self.log.submit(records(prepared, departs, scorings(answer), self.config))
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
                        "freshness": fresh,
                    }
                    for p, flag, names, fresh in zip(scores, late, unknown, freshness, strict=True)
                ]
            }
        n = len(scores)
        outputs = [
            InferOutput("probability", [n], "FP64", scores.tolist()),
            InferOutput(self.config.label.name, [n], "BOOL", late.tolist()),
            InferOutput("unknown", [n], "BYTES", [",".join(names) for names in unknown]),
            InferOutput("freshness", [n], "BYTES", freshness),
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

    def _freshness(self, departs: np.ndarray) -> list[str]:
        """Per instance, how the store's values stand to its departure (ns since the epoch):
        `current`; `stale` when the store is loaded only up to more than
        `serving.stale_after_hours` before it; `ahead` when the store holds values from after it
        (a departure in the store's past)."""
        horizon = self.online.horizon
        if horizon is None:
            return ["stale"] * len(departs)
        stale_after = horizon.value + self.stale_after.value
        return ["ahead" if d < horizon.value else "stale" if d > stale_after else "current" for d in departs.tolist()]

    def get_input_types(self) -> list[dict]:
        return [{"name": name, "datatype": V2_TYPES[kind], "shape": [-1]} for name, kind in fields(self.config).items()]

    def get_output_types(self) -> list[dict]:
        outputs = {
            "probability": "FP64",
            self.config.label.name: "BOOL",
            "unknown": "BYTES",
            "freshness": "BYTES",
            "model_version": "BYTES",
        }
        return [{"name": name, "datatype": datatype, "shape": [-1]} for name, datatype in outputs.items()]


def _request_id(v2_id: str | None, headers: dict) -> str:
    """The request's id: V2's `id`, else the `x-request-id` header, else a new one."""
    if v2_id:
        return request_id(v2_id, "id")
    if headers.get("x-request-id"):
        return request_id(headers["x-request-id"], "x-request-id")
    return uuid.uuid4().hex


def probe_rows(config: Config) -> pd.DataFrame:
    """One request's rows that look the store up without matching anything: is the store there?"""
    placeholders = {"string": "?", "int": 0, "float": 0.0}
    instance = {name: placeholders[kind] for name, kind in config.request_fields.items()}
    return from_v1({"instances": [instance | {config.serving.time_field: EARLIEST.isoformat()}]}, config)


def departures(rows: pd.DataFrame, config: Config) -> np.ndarray:
    """Each instance's scheduled departure in nanoseconds since the epoch (UTC): its hour plus its
    minute, in numpy (`events.event_time` is the same in pandas, ten times slower for one row)."""
    hours = pd.DatetimeIndex(rows[config.source.timestamp]).as_unit("ns").asi8
    if not config.source.minute:
        return hours
    return hours + rows[config.source.minute].to_numpy(dtype="int64") * 60_000_000_000


@dataclass(frozen=True)
class Scoring:
    """One model's part in an answer: its role and version, and its scores and the time its
    call took, or the error it failed with (scores None)."""

    role: str
    version: str
    scores: np.ndarray | None
    latency_ms: float | None = None
    error: str | None = None


def scorings(answer: dict[str, np.ndarray]) -> list[Scoring]:
    """The predictor's outputs as the models that answered, scored in the shadow or failed."""
    first = {name: values[0] for name, values in answer.items() if len(values)}
    scored = [
        Scoring(
            _text(first["role"]),
            _text(first["model_version"]),
            answer["probability"].astype(float),
            float(first["latency_ms"]),
        )
    ]
    if "shadow_probability" in answer:
        shadow = answer["shadow_probability"].astype(float)
        scored.append(Scoring("shadow", _text(first["shadow_version"]), shadow, float(first["shadow_latency_ms"])))
    if "failure" in answer:
        scored.append(
            Scoring(_text(first["failed_role"]), _text(first["failed_version"]), None, None, _text(first["failure"]))
        )
    return scored


def records(prepared: Prepared, departs: np.ndarray, scored: list[Scoring], config: Config) -> list[dict]:
    """One prediction record per instance and model that scored it (the answer, the shadow, a
    canary or shadow that failed), under an answer id of its own: a request id a client reuses
    never hides an answer."""
    now, answer = datetime.now(UTC), uuid.uuid4().hex
    keys = event_keys(prepared.rows, config)
    departed = [datetime.fromtimestamp(ns / 1e9, UTC) for ns in departs.tolist()]
    columns = {name: [None if pd.isna(v) else v for v in values.tolist()] for name, values in prepared.features.items()}
    inputs = [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]
    return [
        {
            "answer_id": answer,
            "request_id": prepared.model_request.id,
            "position": i,
            "role": scoring.role,
            "predicted_at": now,
            "departs_at": departed[i],
            "flight_key": keys[i],
            "model_version": scoring.version,
            "inputs": inputs[i],
            "score": None if scoring.scores is None else float(scoring.scores[i]),
            "latency_ms": scoring.latency_ms,
            "error": scoring.error,
        }
        for scoring in scored
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
