"""`loopline serve`: a KServe ModelServer (REST, V1 and V2) hosting the flights model, on
loopback unless told otherwise, following the registry in a background thread."""

import hashlib
import logging
import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from loopline.config import load_config
from loopline.errors import LooplineError

if TYPE_CHECKING:
    from loopline.serving.predictor import FlightDelayPredictor

log = logging.getLogger("loopline.serving")
MAX_BODY_BYTES = 1_000_000


ROLES = ("both", "transformer", "predictor")


@dataclass
class ServeOptions:
    registry: str
    feature_repo: str
    config: str = "flights"
    host: str = "127.0.0.1"
    port: int = 8080
    store_url: str = ""  # the prediction store; default SQLite under LOOPLINE_HOME
    canary_percent: float = 0.0
    shadow: bool = False
    poll_seconds: float = 5.0
    token: str = ""  # bearer token the outcome endpoint requires; none: open
    role: str = "both"  # both in one process, or one half of a KServe transformer/predictor pair
    predictor_host: str = ""  # the transformer's predictor (host:port), V2 over REST
    model_name: str = ""  # as KServe names the InferenceService's model: must be the config's


def _kserve():
    """The kserve modules; `kserve.model_server` parses sys.argv when imported, so it is imported
    with none of this command's arguments."""
    saved, sys.argv = sys.argv, sys.argv[:1]
    try:
        import kserve
        from kserve import model_server
    finally:
        sys.argv = saved
    return kserve, model_server


def model_server(host: str, port: int, predictor_host: str = ""):
    """A KServe ModelServer (REST only, one worker) that binds `host`: KServe binds 0.0.0.0 with
    no option, so the address is set on its uvicorn config before it binds. Its access and
    trace logs are turned down to warnings once it has configured logging: they halve
    throughput; errors still log. A transformer's predictor is reached over V2 at
    `predictor_host`."""
    kserve, _ = _kserve()

    class Server(kserve.ModelServer):
        async def _serve(self):
            if self._rest_server is not None:
                self._rest_server.config.host = host
            await super()._serve()

    predictor = kserve.PredictorConfig(predictor_host, "v2") if predictor_host else None
    server = Server(
        http_port=port, enable_grpc=False, workers=1, enable_latency_logging=False, predictor_config=predictor
    )
    for name in ("uvicorn.access", "kserve.trace"):  # after the server's own logging set-up
        logging.getLogger(name).setLevel(logging.WARNING)
    return server


@dataclass
class Served:
    """What one process serves: the KServe models it hosts, the predictor it follows the registry
    with (none in a transformer alone)."""

    models: list  # kserve.Model
    predictor: "FlightDelayPredictor | None"


def build(options: ServeOptions):
    """The model server and what it serves, loaded; raises LooplineError on a bad setting."""
    _, app_module = _kserve()
    from loopline.serving.models import RegistryModels
    from loopline.serving.predictor import FlightDelayPredictor

    if options.role not in ROLES:
        raise LooplineError(f"role must be one of {', '.join(ROLES)}, got {options.role!r}")
    if (options.role == "transformer") != bool(options.predictor_host):
        raise LooplineError("a predictor host is given with role transformer, and only then")
    config = load_config(options.config)
    if options.model_name not in ("", config.name):
        raise LooplineError(f"model name {options.model_name!r} is not the config's model, {config.name!r}")
    predictor = None
    if options.role != "transformer":
        models = RegistryModels(options.registry, config, options.canary_percent, options.shadow)
        predictor = FlightDelayPredictor(config, models)
        if not predictor.load():
            problem = models.problems.get("production", "run `loopline train` first")
            raise LooplineError(f"no model '{config.name}' to serve in {options.registry}: {problem}")
        _status_route(app_module.app, predictor)
    hosted = [predictor]
    if options.role != "predictor":
        from loopline.serving.online import OnlineFeatures
        from loopline.serving.transformer import FlightFeatures

        online = OnlineFeatures(config, options.config, options.feature_repo)
        log = prediction_log(options.store_url)
        transformer = FlightFeatures(config, online, log, predictor)
        transformer.load()
        hosted = [transformer]
        _outcomes_route(app_module.app, config, log.store, online, options.token)
    _limit_body(app_module.app)
    return model_server(options.host, options.port, options.predictor_host), Served(hosted, predictor)


def prediction_log(url: str):
    """The prediction log over the store at `url` (migrated first), spooling under LOOPLINE_HOME
    in a file of that store's own."""
    from loopline import local
    from loopline.predictions.log import PredictionLog, Spool
    from loopline.predictions.store import PredictionStore, migrate

    url = url or local.store_url()
    local.home().mkdir(parents=True, exist_ok=True)
    try:
        migrate(url)
    except Exception as error:
        raise LooplineError(
            f"the prediction store at {url} cannot be migrated: {type(error).__name__}: {error}"
        ) from None
    spool = local.home() / "spool" / f"{hashlib.sha256(url.encode()).hexdigest()[:16]}.jsonl"  # one per store
    return PredictionLog(PredictionStore(url), Spool(spool))


def _outcomes_route(app, config, store, online, token: str) -> None:
    """`POST /v1/outcomes` with {"outcomes": [...]}: ground truth as it arrives, in any order; a
    flight already known keeps its first outcome. An outcome that names the aircraft is pushed
    to Feast's outcome stream too, so its next departure sees this leg online. Requires
    `Authorization: Bearer <token>` when a token is set."""
    import pandas as pd
    from starlette.responses import JSONResponse

    from loopline.features.store import OUTCOMES
    from loopline.predictions.outcomes import arrivals, outcome_records
    from loopline.serving.request import BadRequest

    async def post_outcomes(request):
        if token and request.headers.get("authorization") != f"Bearer {token}":
            return JSONResponse({"error": "a bearer token is required (Authorization: Bearer ...)"}, status_code=401)
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": "the body is not valid JSON"}, status_code=400)
        try:
            records = outcome_records(body.get("outcomes") if isinstance(body, dict) else None, config)
        except BadRequest as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        try:
            pushes = arrivals(body["outcomes"], config, pd.Timestamp.now(tz="UTC")) if config.history.previous else None
        except BadRequest as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        try:
            new = store.write_outcomes(records)
        except Exception as error:  # the store is away: the sender retries; nothing half-written
            return JSONResponse({"error": f"the store is unavailable ({type(error).__name__})"}, status_code=503)
        if pushes is not None:
            online.push(OUTCOMES, pushes)
        return JSONResponse({"received": len(records), "new": new})

    app.add_route("/v1/outcomes", post_outcomes, methods=["POST"])


def _limit_body(app) -> None:
    """Refuse bodies over MAX_BODY_BYTES with a 413 naming the limit, before they are read."""
    from starlette.responses import JSONResponse

    @app.middleware("http")
    async def limit(request, call_next):
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
            return JSONResponse({"error": f"the body is over {MAX_BODY_BYTES:,} bytes"}, status_code=413)
        return await call_next(request)


def _status_route(app, predictor) -> None:
    """`GET /v1/models/<name>/status`: the versions serving and why any pointer's version is not
    (a failed load leaves the old one serving); 503 while no production model serves."""
    from starlette.responses import JSONResponse

    models = predictor.models

    async def status(request):
        versions = {pointer: loaded and loaded.version for pointer, loaded in models.loaded.items()}
        body = {"ready": predictor.ready, **versions, "problems": dict(models.problems)}
        return JSONResponse(body, status_code=200 if predictor.ready else 503)

    app.add_route(f"/v1/models/{predictor.name}/status", status, methods=["GET"])


def follow(served: Served, poll_seconds: float) -> threading.Thread | None:
    """Poll the registry's pointers every `poll_seconds`, swapping models in as they move."""
    if served.predictor is None:
        return None
    stop = threading.Event()

    def loop():
        while not stop.wait(poll_seconds):
            for model in dict.fromkeys([served.predictor, *served.models]):  # the predictor first
                model.load()

    thread = threading.Thread(target=loop, name="registry-follower", daemon=True)
    thread.start()
    return thread


def serve(options: ServeOptions) -> None:
    """Start serving; returns when the server is stopped (SIGINT / SIGTERM)."""
    server, served = build(options)
    follow(served, options.poll_seconds)
    name = served.models[0].name
    if served.predictor is not None:
        production = served.predictor.models.loaded["production"]
        answering = f"version {production.version}"
    else:
        answering = f"through the predictor at {options.predictor_host}"
    print(
        f"loopline: serving {name} ({options.role}) {answering} on http://{options.host}:{options.port} "
        f"(V1 /v1/models/{name}:predict, V2 /v2/models/{name}/infer)",
        file=sys.stderr,
        flush=True,
    )
    server.start(served.models)
