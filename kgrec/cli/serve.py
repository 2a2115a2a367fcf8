"""``kgrec serve``: an HTTP API and a web page over a saved recommender.

Example::

    kgrec serve --model models/sample                 # http://127.0.0.1:8000/
    kgrec serve --model models/ml100k --port 8080 --workers 2
    curl -s localhost:8000/v1/recommend -H 'Content-Type: application/json' \\
        -d '{"query": "a 90s crime film like Pulp Fiction", "k": 5}'

With one worker the model is loaded in this process before the server starts (a broken
folder is reported here); with ``--workers N`` uvicorn starts N processes, each loading
the model once through :func:`kgrec.web.app.app_from_env`. See :mod:`kgrec.web`.
"""

from __future__ import annotations

import argparse

NAME = "serve"
HELP = "Serve a saved recommender over HTTP: JSON API (docs at /docs) and a web page."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, metavar="DIR",
                        help="folder written by `kgrec train` / Recommender.save")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default %(default)s: this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="TCP port (default %(default)s)")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="server processes, each with its own copy of the model "
                             "(default %(default)s)")
    parser.add_argument("--threads", type=int, default=1, metavar="N",
                        help="torch threads per worker (default %(default)s)")
    parser.add_argument("--concurrency", type=int, default=None, metavar="N",
                        help="requests each worker computes at once (default 1: the work is "
                             "CPU-bound, so more threads per core only add contention; use "
                             "--workers for more cores)")
    parser.add_argument("--log-level", default="info",
                        choices=("critical", "error", "warning", "info", "debug"),
                        help="server log level; 'warning' and above hide the access log "
                             "(default %(default)s)")


def server_stack() -> str:
    """The event loop and HTTP parser uvicorn picks (``loop="auto"``, ``http="auto"``):
    uvloop and httptools when installed (C: less CPU per request), else asyncio's loop
    and the pure-Python h11."""
    from importlib.util import find_spec

    loop = "uvloop" if find_spec("uvloop") is not None else "asyncio"
    http = "httptools" if find_spec("httptools") is not None else "h11"
    return f"{loop} event loop, {http} HTTP parser"


def run(args: argparse.Namespace) -> int:
    import os
    import sys
    import time
    from pathlib import Path

    from kgrec.cli import CLIError

    if not 0 < args.port < 65536:
        raise CLIError(f"--port must be between 1 and 65535, got {args.port}")
    if args.workers < 1:
        raise CLIError(f"--workers must be at least 1, got {args.workers}")
    if args.threads < 1:
        raise CLIError(f"--threads must be at least 1, got {args.threads}")
    if args.concurrency is not None and args.concurrency < 1:
        raise CLIError(f"--concurrency must be at least 1, got {args.concurrency}")
    folder = Path(args.model)
    if not folder.is_dir():
        raise CLIError(f"model folder not found: {folder} (create one with `kgrec train "
                       f"--dataset NAME --out {folder}`)")
    if not (folder / "manifest.json").is_file():
        raise CLIError(f"{folder}: not a saved kgrec recommender (no manifest.json)")
    try:
        import uvicorn
    except ImportError:  # pragma: no cover - a dependency of the package
        raise CLIError("kgrec serve needs fastapi and uvicorn: pip install fastapi uvicorn "
                       "fastapi-offline") from None
    from kgrec.web.app import DEFAULT_CONCURRENCY, ENV_CONCURRENCY, ENV_MODEL, ENV_SUPERVISOR

    # the workers (spawned processes) read these when they import torch / build the app
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    os.environ[ENV_MODEL] = str(folder.resolve())
    concurrency = DEFAULT_CONCURRENCY if args.concurrency is None else args.concurrency
    os.environ[ENV_CONCURRENCY] = str(concurrency)
    options = {"host": args.host, "port": args.port, "log_level": args.log_level,
               "access_log": args.log_level in ("info", "debug")}
    if args.workers == 1:
        import torch

        from kgrec.web.app import create_app

        torch.set_num_threads(args.threads)
        start = time.perf_counter()
        app = create_app(folder, warm=True, concurrency=concurrency)
        print(f"kgrec serve: {folder} loaded in {time.perf_counter() - start:.1f} s "
              f"({server_stack()}); page at http://{args.host}:{args.port}/, API docs at "
              f"/docs", file=sys.stderr, flush=True)
        uvicorn.run(app, **options)
    else:
        from kgrec.config import KGRecConfig

        # fail here, once, on a config this version cannot read (a worker that fails
        # to load the model for another reason stops this process)
        KGRecConfig.load(folder / "config.toml")
        os.environ[ENV_SUPERVISOR] = str(os.getpid())
        print(f"kgrec serve: {args.workers} workers loading {folder} ({server_stack()}); "
              f"page at http://{args.host}:{args.port}/, API docs at /docs", file=sys.stderr,
              flush=True)
        uvicorn.run("kgrec.web.app:app_from_env", factory=True, workers=args.workers,
                    **options)
    return 0
