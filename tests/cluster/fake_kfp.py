"""A stand-in for the Kubeflow Pipelines API server (no cluster runs here): a local HTTP server
that speaks the v2beta1 REST paths kfp.Client calls, keeps experiments, runs and recurring runs
in memory, and records every request it received."""

import itertools
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

API = "/apis/v2beta1"


@dataclass
class Request:
    method: str
    path: str
    query: dict
    body: dict | None


@dataclass
class State:
    requests: list[Request] = field(default_factory=list)
    experiments: dict[str, dict] = field(default_factory=dict)
    runs: dict[str, dict] = field(default_factory=dict)
    recurring: dict[str, dict] = field(default_factory=dict)
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    healthz_status: int = 200

    def calls(self, *methods: str) -> list[tuple[str, str]]:
        """(method, path) of each request but the health checks, in order."""
        return [(r.method, r.path) for r in self.requests if not r.path.endswith("/healthz")]


def _matches(item: dict, query: dict) -> bool:
    """The `filter` query of kfp.Client: EQUALS predicates on a field."""
    if "filter" not in query:
        return True
    predicates = json.loads(query["filter"][0]).get("predicates", [])
    return all(item.get(p["key"]) == p.get("string_value", p.get("stringValue")) for p in predicates)


class Handler(BaseHTTPRequestHandler):
    state: State

    def log_message(self, *args) -> None:  # quiet
        pass

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        url = urlparse(self.path)
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw and "json" in (self.headers.get("content-type") or "") else None
        query = parse_qs(url.query)
        state = self.state
        state.requests.append(Request(method, url.path, query, body))
        path = url.path.removeprefix(API)
        new_id = f"id-{next(state.ids)}"
        if path == "/healthz":
            return self._answer(state.healthz_status, {"multi_user": False})
        if path == "/experiments" and method == "GET":
            found = [e for e in state.experiments.values() if _matches(e, query)]
            return self._answer(200, {"experiments": found, "total_size": len(found)})
        if path == "/experiments" and method == "POST":
            state.experiments[new_id] = body | {"experiment_id": new_id}
            return self._answer(200, state.experiments[new_id])
        if path == "/runs" and method == "POST":
            state.runs[new_id] = body | {"run_id": new_id, "state": "PENDING", "created_at": "2026-12-03T10:00:00Z"}
            return self._answer(200, state.runs[new_id])
        if path == "/runs" and method == "GET":
            found = [r for r in state.runs.values() if r.get("experiment_id") == query.get("experiment_id", [None])[0]]
            return self._answer(200, {"runs": found, "total_size": len(found)})
        if path == "/recurringruns" and method == "POST":
            status = "ENABLED" if body.get("mode", "ENABLE") == "ENABLE" else "DISABLED"
            state.recurring[new_id] = body | {"recurring_run_id": new_id, "status": status}
            return self._answer(200, state.recurring[new_id])
        if path == "/recurringruns" and method == "GET":
            experiment = query.get("experiment_id", [None])[0]
            found = [r for r in state.recurring.values() if r.get("experiment_id") == experiment]
            return self._answer(200, {"recurringRuns": found, "total_size": len(found)})  # the API's own key
        if path.startswith("/recurringruns/"):
            run_id, _, verb = path.removeprefix("/recurringruns/").partition(":")
            if run_id not in state.recurring:
                return self._answer(404, {"error": f"recurring run {run_id} not found", "code": 5})
            if method == "DELETE":
                del state.recurring[run_id]
            elif verb in ("enable", "disable"):
                state.recurring[run_id]["status"] = "ENABLED" if verb == "enable" else "DISABLED"
            return self._answer(200, {})
        return self._answer(404, {"error": f"no route {method} {url.path}", "code": 5})

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")


class FakeKfp:
    """`with FakeKfp() as kfp:` a server on loopback; `kfp.url`, `kfp.state`."""

    def __enter__(self) -> "FakeKfp":
        self.state = State()
        handler = type("BoundHandler", (Handler,), {"state": self.state})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
