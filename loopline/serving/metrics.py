"""Prometheus metrics of the prediction path, beside KServe's own on /metrics."""

from prometheus_client import Counter, Histogram

BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

REQUESTS = Counter(
    "loopline_requests",
    "Prediction requests answered, by outcome, model version and role",
    ["status", "version", "role"],
)
LOOKUP_SECONDS = Histogram("loopline_feature_lookup_seconds", "Feast online lookup per request", buckets=BUCKETS)
MODEL_SECONDS = Histogram("loopline_model_seconds", "Model call per request", buckets=BUCKETS)
REQUEST_SECONDS = Histogram("loopline_request_seconds", "Whole request, parse to answer", buckets=BUCKETS)
