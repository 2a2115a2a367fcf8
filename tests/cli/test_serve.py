"""``kgrec serve``'s one-line errors before any server starts (the server itself is
tested in ``tests/web/``)."""

from __future__ import annotations

import pytest

from kgrec.cli import main


@pytest.mark.parametrize("argv, message", [
    (["--model", "{tmp}/missing"], "model folder not found"),
    (["--model", "{tmp}"], "not a saved kgrec recommender (no manifest.json)"),
    (["--model", "{tmp}", "--workers", "0"], "--workers must be at least 1, got 0"),
    (["--model", "{tmp}", "--port", "70000"], "--port must be between 1 and 65535"),
    (["--model", "{tmp}", "--threads", "0"], "--threads must be at least 1"),
    (["--model", "{tmp}", "--concurrency", "0"], "--concurrency must be at least 1, got 0"),
])
def test_serve_refuses_bad_arguments(tmp_path, capsys, argv, message):
    code = main(["serve", *(a.format(tmp=tmp_path) for a in argv)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("kgrec serve: error: ") and message in err
    assert err.count("\n") == 1


def test_server_stack_names_the_loop_and_parser_uvicorn_picks(monkeypatch):
    """uvloop and httptools when importable, else asyncio and h11 (uvicorn's fallback)."""
    import importlib.util

    from kgrec.cli import serve

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object())
    assert serve.server_stack() == "uvloop event loop, httptools HTTP parser"
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert serve.server_stack() == "asyncio event loop, h11 HTTP parser"
