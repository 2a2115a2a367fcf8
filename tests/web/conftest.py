"""Fixtures of the HTTP tests: one small recommender fitted on the bundled sample per
session (5 epochs) and saved, the app over it (FastAPI's test client), and a live
``kgrec serve`` process on a free port of 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def web_model(tmp_path_factory, sample_dataset) -> Path:
    """Folder of a recommender fitted on the sample (seeded, 5 epochs)."""
    import torch

    from kgrec.config import KGRecConfig
    from kgrec.recommender import Recommender

    torch.manual_seed(0)
    config = KGRecConfig().replace(train={"epochs": 5, "show_progress": False},
                                   text={"show_progress": False})
    rec = Recommender(config).fit(sample_dataset)
    return rec.save(tmp_path_factory.mktemp("web-model") / "sample")


@pytest.fixture(scope="session")
def web_rec(web_model):
    """The saved recommender loaded back, as the service loads it."""
    from kgrec.recommender import Recommender

    return Recommender.load(web_model)


@pytest.fixture(scope="session")
def client(web_model):
    """FastAPI's test client over the app loading the saved folder (server errors
    answered, not raised)."""
    from fastapi.testclient import TestClient

    from kgrec.web.app import create_app

    with TestClient(create_app(web_model), raise_server_exceptions=False) as test_client:
        yield test_client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    """A ``kgrec serve`` process: its URL, process, and the empty folders it was given as
    home, working directory and kgrec cache (to check it writes nothing there)."""

    url: str
    process: subprocess.Popen
    home: Path
    cwd: Path
    cache: Path


def start_server(model: Path, root: Path, *extra: str, timeout: float = 180.0) -> LiveServer:
    """Start ``python -m kgrec serve --model model`` with empty home, cwd and cache
    folders under ``root``; wait until ``/health`` answers."""
    import httpx

    home, cwd, cache = (root / "home", root / "cwd", root / "cache")
    for folder in (home, cwd, cache):
        folder.mkdir(parents=True)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "HOME": str(home),
           "KGREC_DATA_DIR": str(cache), "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "kgrec", "serve", "--model", str(model), "--port", str(port),
         "--log-level", "warning", *extra], cwd=cwd, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"kgrec serve exited with status {process.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            process.terminate()
            raise RuntimeError(f"kgrec serve did not answer within {timeout:.0f} s")
        time.sleep(0.1)
    return LiveServer(url, process, home, cwd, cache)


def stop_server(server: LiveServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="session")
def serve(web_model, tmp_path_factory) -> Iterator:
    """``serve(*options)`` starts ``kgrec serve`` over the session's model with extra
    command-line options; every server started is stopped at the end of the session."""
    started: list[LiveServer] = []

    def start(*options: str) -> LiveServer:
        started.append(start_server(web_model, tmp_path_factory.mktemp("serve"), *options))
        return started[-1]

    yield start
    for server in started:
        stop_server(server)


@pytest.fixture(scope="session")
def live_server(serve) -> LiveServer:
    """One-worker ``kgrec serve`` over the session's model, computing up to eight requests
    at once (so that the concurrency tests run the recommender from several threads)."""
    return serve("--concurrency", "8")
