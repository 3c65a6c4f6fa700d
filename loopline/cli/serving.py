"""`loopline serve` and `loopline ground-truth`: the KServe server and the outcomes it is judged on."""

import json
import os
from dataclasses import fields
from pathlib import Path

from loopline.cli import options
from loopline.errors import LooplineError


def cmd_serve(args) -> int:
    from loopline.serving.server import ServeOptions, serve

    if not 0 <= args.canary_percent <= 100:
        raise LooplineError(f"--canary-percent must be between 0 and 100, got {args.canary_percent}")
    serve(ServeOptions(**{option.name: getattr(args, option.name) for option in fields(ServeOptions)}))
    return 0


def cmd_ground_truth(args) -> int:
    import pandas as pd

    from loopline import home
    from loopline.config import load_config
    from loopline.errors import BadRequest
    from loopline.predictions.outcomes import parse_outcomes
    from loopline.predictions.store import PredictionStore, migrate

    if not args.file.is_file():
        raise LooplineError(f"{args.file} does not exist")
    try:
        if args.file.suffix == ".csv":
            frame = pd.read_csv(args.file)
            items = frame.astype(object).where(frame.notna(), None).to_dict("records")
        else:
            body = json.loads(args.file.read_text())
            items = body.get("outcomes") if isinstance(body, dict) else body
        records = parse_outcomes(items, load_config(args.config)).records
    except (ValueError, BadRequest) as error:
        raise LooplineError(f"{args.file}: {error}") from None
    url = args.store_url or home.store_url()
    migrate(url)
    written = PredictionStore(url).write_outcomes(records)
    new, disputed = len(written.new), len(written.disputed)
    print(
        f"{len(records):,} outcomes read from {args.file}: {new:,} new, {len(records) - new:,} already stored"
        + (f" ({disputed:,} of them disputed: a different value is stored)" if disputed else "")
    )
    return 0


def add_commands(sub) -> None:
    from loopline.serving.server import ROLES

    serve = sub.add_parser(
        "serve", help="serve the registry's production model (KServe, V1 and V2) with Feast features"
    )
    for add in (options.registry, options.feature_repo, options.config, options.store_url):
        add(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback only)")
    serve.add_argument("--port", "--http_port", type=int, default=8080, help="HTTP port (KServe passes --http_port)")
    serve.add_argument(
        "--role",
        choices=ROLES,
        default="both",
        help="both in one process (default), or one half of a KServe transformer/predictor pair",
    )
    serve.add_argument(
        "--predictor-host", "--predictor_host", default="", help="the transformer's predictor, host:port (V2 REST)"
    )
    serve.add_argument("--model_name", default="", help="the name KServe passes a container: the config's model")
    serve.add_argument("--canary-percent", type=float, default=0.0, help="share of requests the canary answers")
    serve.add_argument("--shadow", action="store_true", help="the canary scores every request; production answers")
    serve.add_argument("--poll-seconds", type=float, default=5.0, help="how often the registry's pointers are read")
    serve.add_argument(
        "--token",
        default=os.environ.get("LOOPLINE_SERVE_TOKEN", ""),
        help="bearer token for POST /v1/outcomes (default: one made at first start in LOOPLINE_HOME/serve-token)",
    )
    serve.set_defaults(func=cmd_serve)

    truth = sub.add_parser("ground-truth", help="load outcomes (ground truth) into the prediction store")
    truth.add_argument("action", choices=["load"])
    truth.add_argument("file", type=Path, help='JSON ({"outcomes": [...]} or a list) or CSV with the outcome fields')
    options.store_url(truth)
    options.config(truth)
    truth.set_defaults(func=cmd_ground_truth)
