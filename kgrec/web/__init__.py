"""``kgrec serve``: an HTTP API and a web page over one loaded :class:`kgrec.Recommender`.

Stack: **FastAPI** on **uvicorn**. FastAPI types every request and response with pydantic
models (already the project's validation library), turns them into an OpenAPI document
with browsable docs at ``/docs`` (served offline by ``fastapi-offline``, no CDN), and
comes with a test client; uvicorn is the reference ASGI server, whose ``workers`` option
starts real processes, each importing the app through a factory, and which runs on
``uvloop`` and ``httptools`` (C) when they are installed. The routes are ``async``: each
request's computation runs in the app's own small pool of threads (``concurrency``). Both are among the most used and most actively maintained Python
web packages. The alternatives weighed: Flask (WSGI, no typed schemas or OpenAPI without
plug-ins), Starlette alone (FastAPI's base, but the schemas and docs would be ours to
write), aiohttp (no schema layer), Django (far more than a JSON API and one page need).

Layout: :mod:`kgrec.web.app` (the app factory and routes), :mod:`kgrec.web.schemas`
(request / response models), :mod:`kgrec.web.errors` (problem+json errors, body-size
limit), :mod:`kgrec.web.catalog` (titles, genres, names for display and completion),
:mod:`kgrec.web.svg` (explanation subgraphs drawn on the server), ``static/`` (the page:
one HTML file, one script, one style sheet; no build step, no external resource).

Endpoints: ``GET /`` (page), ``GET /health``, ``GET /v1/model``, ``POST /v1/recommend``,
``POST /v1/explain``, ``POST /v1/feedback``, ``GET /v1/movies?search=``; see ``/docs``.
"""

from __future__ import annotations

__all__ = ["create_app"]


def create_app(*args, **kwargs):
    """:func:`kgrec.web.app.create_app` (imported on first use: FastAPI is heavy)."""
    from kgrec.web.app import create_app as factory

    return factory(*args, **kwargs)
