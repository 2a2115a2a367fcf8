"""The FastAPI application: routes over one loaded :class:`kgrec.Recommender`.

:func:`create_app` builds the app around a recommender (or the folder of a saved one);
:func:`app_from_env` is the factory each uvicorn worker process calls, reading the model
folder from :data:`ENV_MODEL` (set by ``kgrec serve`` for its workers, like
:data:`ENV_SUPERVISOR`: the only environment variables kgrec reads besides the cache
root). The recommender is loaded once
per process, before the first request, and then shared by all requests: the event loop
parses requests and writes answers, and each request's computation (the library call and
the JSON of its answer) runs in a pool of ``concurrency`` threads of the app's own, so
several calls may run on that one instance at once (it keeps no per-call state;
``tests/web/test_live.py`` checks that a concurrent burst gives the serial answers).
Requests waiting for a thread wait in the event loop, not as threads competing for the
interpreter lock. ``--workers N`` gives N processes, each with its own copy of the model.

Answers are serialised once, straight from plain values, by pydantic's core
(:func:`json_response`): the response models of :mod:`kgrec.web.schemas` describe them in
the OpenAPI document, and ``tests/web/test_app.py`` checks that every answer is exactly
what validating it through its model would give, but they are not validated again on
every request.

Files: the model folder is read once, at start-up, and the page's three assets (package
data) are read into memory then too. The text encoder that free-text queries need (the
model config's, the packaged MiniLM by default) is read once, by the warm-up or the
first query; query embeddings are not cached on disk. No route opens, writes or lists a
file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgrec.web.errors import BodyLimit, ProblemError, install_handlers, library_error
from kgrec.web.schemas import (
    MAX_K,
    ExplainRequest,
    ExplainResponse,
    FeedbackRequest,
    FeedbackResponse,
    Health,
    ModelInfo,
    MoviesResponse,
    Problem,
    RecommendRequest,
    RecommendResponse,
)

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.responses import Response

    from kgrec.explain import Explanation
    from kgrec.recommender import Recommender
    from kgrec.web.catalog import Catalog

log = logging.getLogger("kgrec.web")
#: Environment variable holding the model folder for :func:`app_from_env`.
ENV_MODEL = "KGREC_SERVE_MODEL"
#: Environment variable holding the pid of the ``kgrec serve`` process supervising the
#: workers: a worker that cannot load the model stops it.
ENV_SUPERVISOR = "KGREC_SERVE_SUPERVISOR"
#: Environment variable giving each worker its ``concurrency`` (see :func:`create_app`).
ENV_CONCURRENCY = "KGREC_SERVE_CONCURRENCY"
#: Requests one process computes at once by default: one per process, one process per core.
DEFAULT_CONCURRENCY = 1
#: Default limit on request bodies (bytes): far above any valid request.
MAX_BODY_BYTES = 64 * 1024
#: Assets of the page, served from memory: name → media type.
ASSETS = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
          "style.css": "text/css; charset=utf-8"}
#: The page loads only its own assets, runs no inline script and sends data only here.
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
ERRORS = {404: {"model": Problem, "description": "unknown user, title, genre or movie"},
          413: {"model": Problem, "description": "request body too large"},
          422: {"model": Problem, "description": "invalid request (bad k, empty query...)"}}


def json_response(body: Any) -> Response:
    """A 200 ``application/json`` response of ``body``: plain JSON values (and pydantic
    models) laid out as its response model's fields, serialised by pydantic's core exactly
    as FastAPI would serialise them through that model, without validating them again."""
    from pydantic_core import to_json
    from starlette.responses import Response

    return Response(to_json(body), media_type="application/json")


def _explanations(expl: Sequence[Explanation], catalog: Catalog) -> list[dict[str, Any]]:
    """Explanations as :class:`~kgrec.web.schemas.ExplanationOut` dicts, with the label
    of every entity on each path."""
    out = []
    for e in expl:
        nodes = {n for s in e.steps for n in (s.head, s.tail)}
        out.append({"text": e.text, "kind": e.kind, "salience": round(float(e.salience), 6),
                    "anchor": e.anchor, "shared": e.shared,
                    "steps": [{"head": s.head, "relation": s.relation, "tail": s.tail,
                               "forward": bool(s.forward)} for s in e.steps],
                    "labels": {n: catalog.label(n) for n in sorted(nodes)}})
    return out


def _movie(catalog: Catalog, item_id: str, title: str | None = None,
           year: int | None = None) -> dict[str, Any]:
    movie = catalog.movies.get(item_id)
    if movie is not None:
        return movie.as_dict()
    return {"item_id": item_id, "title": title or item_id, "year": year, "genres": []}


def _model_info(rec: Recommender, folder: Path | None, catalog: Catalog) -> dict[str, Any]:
    from kgrec import __version__

    manifest: dict[str, Any] = {}
    if folder is not None and (folder / "manifest.json").is_file():
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    stats = rec.kg_.stats()
    users = rec.kg_.user_ids
    step = max(1, len(users) // 20)
    sizes = {"users": rec.kg_.num_users, "movies": rec.kg_.num_items,
             "edges": sum(stats.edges.values()),
             **{f"nodes.{kind}": n for kind, n in stats.nodes.items()}}
    # the saved-model format number: in the manifest's "meta" (kgrec.io artifact folders)
    meta = manifest.get("meta") if isinstance(manifest.get("meta"), dict) else manifest
    version = meta.get("format") if isinstance(meta.get("format"), int) else None
    return {"kgrec_version": __version__, "format": version,
            "dataset": rec.dataset_.name, "model": rec.config.model.name,
            "config": rec.config.to_dict(), "sizes": sizes,
            "example_users": users[::step][:20], "genres": catalog.genres}


def _read_assets() -> dict[str, bytes]:
    folder = resources.files("kgrec.web") / "static"
    return {name: (folder / name).read_bytes() for name in ASSETS}


def call_library(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` with the library's input errors turned into problems
    (:func:`~kgrec.web.errors.library_error`) and anything else into a logged 500."""
    try:
        return fn(*args, **kwargs)
    except (KeyError, ValueError, TypeError) as exc:
        raise library_error(exc) from None
    except Exception:
        log.exception("the recommender failed on %s", getattr(fn, "__name__", fn))
        raise ProblemError(500, "the recommender could not answer this request (the error "
                                "is logged on the server)") from None


def _warm_up(rec: Recommender) -> None:
    """Load the query text encoder and build the indexes made on first use (the cold
    movies' content statistics, the title parser; :mod:`kgrec.lazy`), which the first
    request of each kind would otherwise wait for, by answering one query, one known
    user's explained request and one liked-title request."""
    users, titles = rec.kg_.user_ids[:1], [t for t in rec.catalog_.titles[:50] if t][:1]
    for what, kwargs in (("the query encoder", {"query": "movies"}),
                         ("a known user's request", {"user": users[0]} if users else None),
                         ("the title parser", {"liked": titles} if titles else None)):
        if kwargs is None:
            continue
        try:
            rec.recommend(k=1, explain="user" in kwargs, **kwargs)
        except Exception:  # the service still answers everything else
            log.exception("warming up %s failed", what)


def create_app(model: str | Path | Recommender, *, max_body_bytes: int = MAX_BODY_BYTES,
               warm: bool = False, concurrency: int = DEFAULT_CONCURRENCY) -> FastAPI:
    """The HTTP service over one recommender.

    Args:
        model: a fitted :class:`kgrec.Recommender`, or the folder of a saved one (loaded
            here, with its manifest checks).
        max_body_bytes: larger request bodies are refused with 413.
        warm: when the server starts, load the query text encoder in a background thread
            (requests are answered meanwhile; a query waits for the encoder).
        concurrency: how many requests this process computes at once (the size of its
            pool of computing threads; the others wait their turn in the event loop). The
            recommender is safe to call from
            any number of threads, but its work is CPU-bound Python and numpy/torch calls
            that take and release the interpreter lock thousands of times a request: more
            than one computing thread per core only adds lock hand-offs (measured on
            ML-100K: 14 ms of server CPU per recommendation with explanations at one,
            31 ms at eight). Use processes (``--workers``) for more cores.

    Returns:
        A FastAPI app: ``GET /`` (the page), ``GET /health``, ``GET /v1/model``,
        ``POST /v1/recommend``, ``POST /v1/explain``, ``POST /v1/feedback``,
        ``GET /v1/movies``, ``/docs``.
    """
    from fastapi import Query
    from fastapi.responses import Response
    from fastapi_offline import FastAPIOffline

    from kgrec import __version__
    from kgrec.recommender import Recommender
    from kgrec.web.catalog import Catalog
    from kgrec.web.svg import explanation_svg

    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be a positive integer, got {concurrency!r}")
    pool = ThreadPoolExecutor(concurrency, thread_name_prefix="kgrec-request")

    async def compute(answer: Callable[[], Response]) -> Response:
        """``answer()`` in one of the ``concurrency`` computing threads."""
        return await asyncio.get_running_loop().run_in_executor(pool, answer)

    folder = None
    if isinstance(model, (str, Path)):
        folder = Path(model)
        rec = Recommender.load(folder)
    else:
        rec = model
    catalog = Catalog(rec)
    info = _model_info(rec, folder, catalog)
    info_json = ModelInfo.model_validate(info).model_dump_json().encode()
    assets = _read_assets()
    pid = os.getpid()

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        if warm:
            threading.Thread(target=_warm_up, args=(rec,), name="kgrec-warm-up",
                             daemon=True).start()
        yield
        pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPIOffline(
        lifespan=lifespan, title="kgrec", version=__version__,
        description="Explainable knowledge-graph movie recommendations: top-K for a known "
                    "user, liked titles or a request in words, each with the graph paths "
                    "that explain it. Errors are application/problem+json.")
    install_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.state.recommender, app.state.catalog = rec, catalog

    def page_asset(name: str) -> Response:
        return Response(assets[name], media_type=ASSETS[name],
                        headers={"Content-Security-Policy": PAGE_CSP,
                                 "X-Content-Type-Options": "nosniff",
                                 "Cache-Control": "no-cache"})

    @app.get("/", include_in_schema=False)
    async def page() -> Response:
        return page_asset("index.html")

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        if name not in ASSETS or name == "index.html":
            raise ProblemError(404, f"no such asset: {name}")
        return page_asset(name)

    @app.get("/health", response_model=Health, tags=["service"])
    async def health() -> Response:
        """Liveness: answers once the model is loaded."""
        return json_response({"status": "ok", "model": info["model"], "pid": pid})

    @app.get("/v1/model", response_model=ModelInfo, tags=["service"])
    async def model_info() -> Response:
        """The loaded model: dataset, model name, configuration, sizes, versions."""
        return Response(info_json, media_type="application/json")

    def answer_recommend(request: RecommendRequest) -> Response:
        if request.k > MAX_K:
            raise ProblemError(422, f"k must be at most {MAX_K}, got {request.k}")
        kwargs: dict[str, Any] = {}
        if not request.exclude_seen:
            kwargs["exclude_seen"] = False
        if request.session is not None:
            kwargs["session"] = request.session
        recs = call_library(rec.recommend, user=request.user, k=request.k,
                            query=request.query, liked=request.liked,
                            filters=request.library_filters(), explain=request.explain,
                            **kwargs)
        out = []
        for r in recs:
            expl = _explanations(r.explanations, catalog)
            item = {**_movie(catalog, r.item_id, r.title, r.year),
                    "score": round(float(r.score), 6), "explanation": r.explanation,
                    "explanations": expl, "graph_svg": None}
            if request.graph:
                item["graph_svg"] = explanation_svg(expl, f"movie:{r.item_id}", catalog.label)
            out.append(item)
        return json_response({"recommendations": out, "request": request})

    @app.post("/v1/recommend", response_model=RecommendResponse, responses=ERRORS,
              tags=["recommend"])
    async def recommend(request: RecommendRequest) -> Response:
        """Top-``k`` movies for a known user, liked titles, a request in words, or a mix,
        each with its explanation paths (and, with ``graph=true``, their subgraph as
        SVG)."""
        return await compute(lambda: answer_recommend(request))

    def answer_explain(request: ExplainRequest) -> Response:
        paths = call_library(rec.explain, request.user, request.movie, request.k)
        item = (paths[0].item.partition(":")[2] if paths
                else catalog.find(request.movie))
        expl = _explanations(paths, catalog)
        svg = explanation_svg(expl, f"movie:{item}", catalog.label) if request.graph else None
        return json_response({"user": request.user, "movie": _movie(catalog, item),
                              "explanations": expl, "graph_svg": svg})

    @app.post("/v1/explain", response_model=ExplainResponse, responses=ERRORS,
              tags=["recommend"])
    async def explain(request: ExplainRequest) -> Response:
        """Explanation paths from a known user to a movie (item id, ``movie:ID`` or
        title), most salient first."""
        return await compute(lambda: answer_explain(request))

    def answer_feedback(request: FeedbackRequest) -> Response:
        session = call_library(rec.feedback, request.who, request.item, request.signal)
        return json_response({"session": session.key,
                              "events": [e.to_dict() for e in session.events]})

    @app.post("/v1/feedback", response_model=FeedbackResponse, responses=ERRORS,
              tags=["recommend"])
    async def feedback(request: FeedbackRequest) -> Response:
        """Record a like, dislike, more_like_this, not_interested (or undo the latest) for
        a known user or a session; the next ``/v1/recommend`` of that user (or with that
        ``session``) reflects it. Sessions live in this worker's memory: with several
        workers a session's requests must reach the same worker."""
        return await compute(lambda: answer_feedback(request))

    @app.get("/v1/movies", response_model=MoviesResponse, tags=["catalogue"])
    async def movies(search: str = Query("", max_length=200,
                                         description="part of a title (empty: most rated)"),
                     limit: int = Query(10, ge=1, le=50)) -> Response:
        """Title completion: movies whose title contains ``search``, titles starting with
        it first, then the most rated."""
        return json_response({"search": search,
                              "movies": [m.as_dict() for m in catalog.search(search, limit)]})

    return app


def app_from_env() -> FastAPI:
    """App factory for uvicorn workers (``uvicorn --factory kgrec.web.app:app_from_env``):
    the model folder comes from :data:`ENV_MODEL`."""
    folder = os.environ.get(ENV_MODEL)
    if not folder:
        raise RuntimeError(f"set {ENV_MODEL} to the folder of a saved recommender "
                           "(kgrec serve --model DIR does this for its workers)")
    raw = os.environ.get(ENV_CONCURRENCY, str(DEFAULT_CONCURRENCY))
    if not raw.isdigit() or int(raw) < 1:
        raise RuntimeError(f"{ENV_CONCURRENCY} must be a positive integer, got {raw!r}")
    try:
        return create_app(folder, warm=True, concurrency=int(raw))
    except Exception:
        # uvicorn's supervisor would start a new worker, which fails the same way, for
        # ever: stop it (only the ``kgrec serve`` process that started this worker)
        supervisor = os.environ.get(ENV_SUPERVISOR, "")
        if supervisor.isdigit() and int(supervisor) == os.getppid():
            log.critical("cannot load the model %s: stopping the server", folder)
            os.kill(int(supervisor), signal.SIGTERM)
        raise
