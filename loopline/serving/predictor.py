"""The `flights` model of the KServe server: preprocess (parse, Feast lookup), predict (the model
contract, the routed registry version), postprocess (the answer in the request's protocol)."""

import time
import uuid
from datetime import UTC, datetime

import numpy as np
from kserve import InferOutput, InferRequest, InferResponse, Model
from kserve.errors import InferenceError, InvalidInput

from loopline.config import Config
from loopline.events import event_keys
from loopline.model_io import make_features
from loopline.predictions.log import PredictionLog
from loopline.serving import metrics
from loopline.serving.models import RegistryModels
from loopline.serving.online import OnlineFeatures
from loopline.serving.request import V2_TYPES, BadRequest, fields, from_v1, from_v2


class FlightDelayModel(Model):
    """Answers whether each flight will arrive late: probability, label, version, request id."""

    def __init__(
        self, config: Config, online: OnlineFeatures, models: RegistryModels, log: PredictionLog | None = None
    ):
        super().__init__(config.name)
        self.config, self.online, self.models, self.log = config, online, models, log
        self.evidence = unknown_evidence(config)

    def load(self) -> bool:
        self.models.refresh()
        self.ready = self.models.loaded["production"] is not None
        return self.ready

    async def preprocess(self, payload, headers: dict | None = None) -> dict:
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
        return {"request_id": request_id, "rows": rows, "v2": v2, "started": started}

    def predict(self, payload: dict, headers: dict | None = None) -> dict:
        try:
            route = self.models.route(payload["request_id"])
        except LookupError as error:
            raise InferenceError(str(error)) from None
        features = make_features(payload["rows"], self.config)
        with metrics.MODEL_SECONDS.time():
            scores = route.answer.score(features, self.config)
        if not np.isfinite(scores).all():
            metrics.REQUESTS.labels("500", route.answer.version, route.role).inc()
            raise InferenceError(f"model version {route.answer.version} gave a score that is not a number")
        if route.shadow is not None:
            payload["shadow"] = (route.shadow.version, route.shadow.score(features, self.config))
        return payload | {"features": features, "scores": scores, "version": route.answer.version, "role": route.role}

    def postprocess(self, result: dict, headers: dict | None = None):
        scores = result["scores"].astype(float)
        late = scores >= self.config.serving.threshold
        missing = {name: result["rows"][columns].isna().all(axis=1).tolist() for name, columns in self.evidence.items()}
        unknown = [[name for name, flags in missing.items() if flags[i]] for i in range(len(scores))]
        metrics.REQUESTS.labels("200", result["version"], result["role"]).inc()
        if self.log is not None:
            self.log.submit(self._records(result))
        metrics.REQUEST_SECONDS.observe(time.perf_counter() - result["started"])
        if not result["v2"]:
            return {
                "predictions": [
                    {
                        "probability": float(p),
                        self.config.label.name: bool(flag),
                        "model_version": result["version"],
                        "request_id": result["request_id"],
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
            InferOutput("model_version", [n], "BYTES", [result["version"]] * n),
        ]
        return InferResponse(
            response_id=result["request_id"],
            model_name=self.name,
            infer_outputs=outputs,
            model_version=result["version"],
        )

    def _records(self, result: dict) -> list[dict]:
        """One prediction record per instance and model that scored it (the answer, and the shadow)."""
        now = datetime.now(UTC)
        keys = event_keys(result["rows"], self.config)
        inputs = result["features"].astype(object).where(result["features"].notna(), None).to_dict("records")
        scored = [(result["role"], result["version"], result["scores"])]
        if "shadow" in result:
            scored.append(("shadow", *result["shadow"]))
        return [
            {
                "request_id": result["request_id"],
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

    def get_input_types(self) -> list[dict]:
        return [{"name": name, "datatype": V2_TYPES[kind], "shape": [-1]} for name, kind in fields(self.config).items()]

    def get_output_types(self) -> list[dict]:
        return [
            {"name": "probability", "datatype": "FP64", "shape": [-1]},
            {"name": self.config.label.name, "datatype": "BOOL", "shape": [-1]},
            {"name": "unknown", "datatype": "BYTES", "shape": [-1]},
            {"name": "model_version", "datatype": "BYTES", "shape": [-1]},
        ]


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
