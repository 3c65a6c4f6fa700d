"""The server's edge: what every HTTP request passes before KServe sees it, and every answer after.

- A body is counted as it arrives (with a Content-Length or chunked): past MAX_BODY_BYTES it is
  a 413 before the rest is read.
- The prediction endpoints take JSON, with or without a Content-Type (the Open Inference
  Protocol sends none), and V2's binary tensor extension (`inference-header-content-length`);
  the write endpoints take application/json only, so that no browser page can send them a
  "simple" request. Anything else is a 415 naming what is taken.
- Every prediction answer is counted once in `loopline_requests_total`, by status whoever
  produced it, and by the version and role that answered.
- An exception that nothing handled is a 503 naming it (logged with its traceback), never a 500,
  after which uvicorn drops the keep-alive connection.
- KServe's handlers log every error with its traceback at ERROR: a refused request (4xx)
  becomes one INFO line naming the cause; a 5xx keeps its traceback.
"""

import contextvars
import json
import logging
import re
from dataclasses import dataclass

import orjson

from loopline.serving import metrics

MAX_BODY_BYTES = 1_000_000
BINARY_HEADER = "inference-header-content-length"
JSON_TYPES = ("application/json", "application/cloudevents+json", "application/ld+json")  # KServe's own
PREDICT = re.compile(r"^/v1/models/[^/]+:predict$|^/v2/models/[^/]+(/versions/[^/]+)?/infer$")
INFER_V2 = re.compile(r"^/v2/models/(?P<model>[^/]+)/infer$")
log = logging.getLogger("loopline.serving")


@dataclass
class Answer:
    """What the edge learns of one request's answer: its status, and who answered."""

    status: int = 0
    version: str = ""
    role: str = ""


ANSWER: contextvars.ContextVar[Answer | None] = contextvars.ContextVar("answer", default=None)


def answered(version: str, role: str) -> None:
    """Record who answered the request being served (for its count in the metrics)."""
    answer = ANSWER.get()
    if answer is not None:
        answer.version, answer.role = version, role


class Edge:
    """ASGI middleware doing the above; `json_only` are the write endpoints' paths."""

    def __init__(self, app, json_only: tuple[str, ...] = ()):
        self.app, self.json_only = app, json_only

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        predicting = bool(PREDICT.match(scope["path"]))
        answer = Answer()
        token = ANSWER.set(answer)

        async def watched(message):
            if message["type"] == "http.response.start":
                answer.status = message["status"]
            await send(message)

        try:
            if scope["method"] in ("POST", "PUT", "PATCH"):
                scope, refusal = self._content_type(scope, predicting)
                if refusal:
                    return await _error(watched, 415, refusal)
                body = await _read(receive)
                if body is None:
                    return await _error(watched, 413, f"the body is over {MAX_BODY_BYTES:,} bytes")
                refusal = _binary_refusal(scope, body) if self._binary(scope) else _json_refusal(body, predicting)
                if refusal:
                    return await _error(watched, 400, refusal)
                receive = _replay(body, receive)
            await self.app(scope, receive, watched)
        except Exception as error:  # nothing handled it: the server's fault, said plainly
            log.exception("unexpected %s on %s %s", type(error).__name__, scope["method"], scope["path"])
            if not answer.status:
                await _error(watched, 503, f"unexpected {type(error).__name__}: {error}")
        finally:
            ANSWER.reset(token)
            if predicting:
                metrics.REQUESTS.labels(str(answer.status or 499), answer.version, answer.role).inc()

    @staticmethod
    def _binary(scope) -> bool:
        """A V2 request in the binary tensor extension."""
        return bool(INFER_V2.match(scope["path"])) and BINARY_HEADER.encode() in dict(scope["headers"])

    def _content_type(self, scope, predicting: bool) -> tuple[dict, str]:
        """The scope a request goes on with (a JSON type where it sent none), or why it is refused."""
        headers = dict(scope["headers"])
        given = headers.get(b"content-type", b"").decode("latin-1")
        media = given.split(";")[0].strip().lower()
        charset = re.search(r"charset=\"?([\w-]+)", given.lower())
        if scope["path"] in self.json_only:
            if media != "application/json" or (charset and charset.group(1) != "utf-8"):
                return scope, f"this endpoint takes application/json only, got {given or 'no content type'}"
            return scope, ""
        if not predicting:
            return scope, ""
        if self._binary(scope):
            if media not in ("", "application/octet-stream"):
                return scope, f"a binary inference request is application/octet-stream or untyped, got {given}"
            return scope, ""
        if media and (media not in JSON_TYPES or (charset and charset.group(1) != "utf-8")):
            return scope, f"the body must be JSON (application/json, UTF-8) or V2 binary tensors, got {given}"
        rest = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
        return scope | {"headers": [*rest, (b"content-type", (media or JSON_TYPES[0]).encode())]}, ""


async def _read(receive) -> bytes | None:
    """The whole body, or None once it is past MAX_BODY_BYTES."""
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


def _replay(body: bytes, receive):
    """A receive that gives the body read already, then whatever the client sends next."""
    sent = False

    async def replayed():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def _json_refusal(body: bytes, predicting: bool) -> str:
    """Why a prediction's JSON body is not JSON, or ''. orjson (KServe's V1 parser) is strict
    where FastAPI's V2 parser is not: a lone surrogate, NaN. Both protocols refuse alike."""
    if not predicting:
        return ""
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError as error:
        return f"the body is not JSON: {error}"
    return ""


def _binary_refusal(scope, body: bytes) -> str:
    """Why a V2 binary request cannot be decoded (KServe's decoder fails on it with a 500), or ''."""
    from kserve import InferRequest

    headers = dict(scope["headers"])
    match = INFER_V2.match(scope["path"])

    length = headers[BINARY_HEADER.encode()].decode("latin-1")
    if not length.isdigit() or int(length) > len(body):
        return f"{BINARY_HEADER} must be the JSON header's length in bytes (at most {len(body)}), got {length!r}"
    try:
        InferRequest.from_bytes(body, int(length), match["model"])
    except Exception as error:
        return f"the binary inference request cannot be decoded: {type(error).__name__}: {error}"
    return ""


async def _error(send, status: int, message: str) -> None:
    if status < 500:
        log.info("refused (%d): %s", status, message)
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RefusalsInOneLine(logging.Filter):
    """On KServe's logger: an error record for a refused request (its exception a client error)
    becomes one INFO line with the message; every other record passes as it is."""

    def __init__(self, client_errors: tuple[type[Exception], ...]):
        super().__init__()
        self.client_errors = client_errors

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, self.client_errors):
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.msg, record.args, record.exc_info, record.exc_text = f"refused: {error}", (), None, None
        return True
