"""`loopline serve`: a KServe ModelServer (REST, V1 and V2) hosting the flights model, on
loopback unless told otherwise, following the registry in a background thread."""

import hashlib
import logging
import sys
import threading
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

from loopline import home
from loopline.config import DEFAULT_CONFIG, load_config
from loopline.errors import LooplineError
from loopline.serving.edge import Edge, RefusalsInOneLine

if TYPE_CHECKING:
    from loopline.predictions.log import PredictionLog
    from loopline.serving.predictor import FlightDelayPredictor

log = logging.getLogger("loopline.serving")
OUTCOMES_PATH = "/v1/outcomes"

ROLES = ("both", "transformer", "predictor")


@dataclass
class ServeOptions:
    registry: str
    feature_repo: str
    config: str = DEFAULT_CONFIG
    host: str = "127.0.0.1"
    port: int = 8080
    store_url: str = ""  # the prediction store; default SQLite under LOOPLINE_HOME
    canary_percent: float = 0.0
    shadow: bool = False
    poll_seconds: float = 5.0
    token: str = ""  # bearer token the outcome endpoint requires; default: LOOPLINE_HOME/serve-token
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
    logging.getLogger("loopline").setLevel(logging.INFO)  # refusals, registry moves, the store's state
    logging.getLogger("kserve").addFilter(RefusalsInOneLine((kserve.errors.InvalidInput, kserve.errors.ModelNotFound)))
    # KServe answers V1 with FastAPI's ORJSONResponse, which warns on every request that it is deprecated
    warnings.filterwarnings("ignore", message=".*ORJSONResponse.*")
    return server


@dataclass
class Served:
    """What one process serves: the KServe models it hosts, the predictor it follows the registry
    with (none in a transformer alone)."""

    models: list  # kserve.Model
    predictor: "FlightDelayPredictor | None"
    log: "PredictionLog | None" = None  # the transformer's prediction log


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
    predictor, predictions = None, None
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
        predictions = prediction_log(options.store_url)
        transformer = FlightFeatures(config, online, predictions, predictor)
        transformer.load()
        hosted = [transformer]
        _outcomes_route(app_module.app, config, predictions.store, online, options.token or home.serve_token())
    app_module.app.add_middleware(Edge, json_only=(OUTCOMES_PATH,))
    return model_server(options.host, options.port, options.predictor_host), Served(hosted, predictor, predictions)


def prediction_log(url: str):
    """The prediction log over the store at `url` (migrated first, or once it answers when it is
    away at start), spooling under LOOPLINE_HOME in a file of that store's own."""
    from loopline import home
    from loopline.predictions.log import PredictionLog, Spool
    from loopline.predictions.store import PredictionStore, is_outage

    url = url or home.store_url()
    home.home().mkdir(parents=True, exist_ok=True)
    try:
        store = PredictionStore(url)
        store.migrate()
    except Exception as error:
        if not is_outage(error):
            raise LooplineError(
                f"the prediction store at {url} cannot be migrated: {type(error).__name__}: {error}"
            ) from None
        log.warning("the prediction store at %s is away (%s): answers are spooled until it answers", url, error)
    spool = home.spool_dir() / f"{hashlib.sha256(url.encode()).hexdigest()[:16]}.jsonl"  # one per store
    return PredictionLog(store, Spool(spool))


def _outcomes_route(app, config, store, online, token: str) -> None:
    """`POST /v1/outcomes` with {"outcomes": [...]} (application/json, `Authorization: Bearer
    <token>`): ground truth as it arrives, in any order. A flight already known keeps its first
    outcome; a later one that disagrees is kept as a dispute and the outcome flagged. A new
    outcome that names the aircraft is pushed to Feast's outcome stream, at its own arrival
    time, so that the aircraft's next departure sees this leg online."""
    import hmac
    import json

    from starlette.responses import JSONResponse

    from loopline.errors import BadRequest
    from loopline.features.store import OUTCOMES
    from loopline.predictions.outcomes import parse_outcomes

    expected = f"Bearer {token}".encode()

    async def post_outcomes(request):
        given = request.headers.get("authorization", "").encode("latin-1", "replace")
        if not hmac.compare_digest(given, expected):
            return JSONResponse(
                {"error": "a valid bearer token is required (Authorization: Bearer ...)"},
                status_code=401,
                headers={"www-authenticate": "Bearer"},
            )
        try:
            body = json.loads(await request.body())
            parsed = parse_outcomes(body.get("outcomes") if isinstance(body, dict) else None, config)
        except (ValueError, BadRequest) as error:  # not JSON (nor UTF-8), or a field named
            return JSONResponse({"error": str(error)}, status_code=400)
        try:
            written = store.write_outcomes(parsed.records)
        except Exception as error:  # the store is away: the sender retries; nothing half-written
            return JSONResponse({"error": f"the store is unavailable ({type(error).__name__})"}, status_code=503)
        answer = {"received": len(parsed.records), "new": len(written.new), "disputed": written.disputed}
        new = set(written.new)
        arrivals = parsed.arrivals[[key in new for key in parsed.arrival_keys]]
        try:
            online.push(OUTCOMES, arrivals)
        except Exception as error:  # stored all the same; the next feature load brings it offline
            log.error("outcomes stored but not pushed to the online store: %s", error)
            answer["feature_store"] = f"not pushed: {type(error).__name__}: {error}"
        return JSONResponse(answer)

    app.add_route(OUTCOMES_PATH, post_outcomes, methods=["POST"])


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
        loaded = served.predictor.models.loaded
        answering = f"version {loaded['production'].version}"
        if loaded["canary"] is not None:
            answering += f", canary {loaded['canary'].version}" + (" in the shadow" if options.shadow else "")
        elif options.shadow or options.canary_percent:
            mode = "--shadow" if options.shadow else f"--canary-percent {options.canary_percent:g}"
            print(f"loopline: {mode} has no canary to route to yet: production answers all", file=sys.stderr)
    else:
        answering = f"through the predictor at {options.predictor_host}"
    print(
        f"loopline: serving {name} ({options.role}) {answering} on http://{options.host}:{options.port} "
        f"(V1 /v1/models/{name}:predict, V2 /v2/models/{name}/infer)",
        file=sys.stderr,
        flush=True,
    )
    if served.log is not None and not options.token:
        print(f"loopline: {OUTCOMES_PATH} takes `Authorization: Bearer $(cat {home.token_file()})`", file=sys.stderr)
    try:
        server.start(served.models)
    finally:  # stopped (SIGTERM, as Kubernetes stops a pod): what the log holds is stored or spooled
        if served.log is not None:
            served.log.close()
