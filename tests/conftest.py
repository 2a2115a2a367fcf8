"""Shared fixtures: seeded RNGs and the real datasets folder (skipped when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _shared_datasets() -> Path | None:
    candidates = [os.environ.get("KGREC_SHARED_DATASETS"), REPO.parent / "shared" / "datasets"]
    for c in candidates:
        if c and Path(c).is_dir():
            return Path(c)
    return None


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """Folder holding ml-100k/, ml-1m/, hetrec2011-movielens-2k-v2/, kg-links/."""
    folder = _shared_datasets()
    if folder is None:
        pytest.skip("real datasets folder (../shared/datasets) not present")
    return folder


@pytest.fixture(scope="session")
def shared_benchmarks() -> Path:
    folder = REPO.parent / "shared" / "benchmarks"
    if not folder.is_dir():
        pytest.skip("benchmark splits (../shared/benchmarks) not present")
    return folder


@pytest.fixture(scope="session", autouse=True)
def _offline_text_cache(tmp_path_factory):
    """No hub access in tests, and one text-embedding cache shared by the whole session
    (the first embedding of the sample's ~2k node texts is the slow part)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    import torch

    # One intra-op thread: the graphs here are small, and on a busy 2-core machine
    # OpenMP's spinning threads make sparse training 10-50x slower.
    torch.set_num_threads(1)
    shared = os.environ.get("KGREC_TEST_CACHE")
    folder = Path(shared) if shared else tmp_path_factory.mktemp("kgrec-cache")
    os.environ["KGREC_DATA_DIR"] = str(folder)
    yield folder


@pytest.fixture(scope="session")
def sample_dataset():
    from kgrec.data import load_dataset

    return load_dataset("sample")


def rehash_manifest(target) -> None:
    """Rewrite the manifest of artifact folder ``target`` so that it matches the files now
    there (what an attacker who edits files and manifest together would do); entries of
    files that no longer exist are dropped."""
    import json

    from kgrec.io import MANIFEST, sha256_file

    root = Path(os.path.realpath(target))
    document = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    files = {}
    for name in document["files"]:
        path = root / name
        if os.path.lexists(path) and not os.path.isdir(path):
            files[name] = {"sha256": sha256_file(path), "size": os.path.getsize(path)}
    document["files"] = files
    (root / MANIFEST).write_text(json.dumps(document), encoding="utf-8")


@pytest.fixture
def rehash():
    """:func:`rehash_manifest`, for tests that tamper with saved artifacts."""
    return rehash_manifest


HOSTILE_TITLES = ["", "nan", "\\N", "x" * 200_000, "Red \x1b[31mAlert\x1b[0m\x07",
                  "tab\tand\nnewline\r", 'quote " and , comma', "\u202eevil\u2066"]


@pytest.fixture(scope="session")
def hostile_recommender(tmp_path_factory):
    """A recommender (closed-form popularity model) fitted on a tiny dataset whose titles,
    texts and labels are hostile (:data:`HOSTILE_TITLES`), and the folder it was saved to."""
    import pandas as pd

    from kgrec.config import KGRecConfig
    from kgrec.data.dataset import MovieDataset
    from kgrec.recommender import Recommender

    n = len(HOSTILE_TITLES)
    items = pd.DataFrame({"item_id": [str(i + 1) for i in range(n)], "title": HOSTILE_TITLES,
                          "year": pd.array([1990 + i if i % 3 else None for i in range(n)],
                                           dtype="Int64"),
                          "text": [f"text {i}\t\\ {t[:50]}" for i, t in enumerate(HOSTILE_TITLES)]})
    users = [f"u{i}" for i in range(6)]
    rows = [(u, str(1 + (j * 3 + k) % n), float(1 + (j + k) % 5), 1_000_000 + 7 * j + k)
            for j, u in enumerate(users) for k in range(4)]
    ratings = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    ratings = ratings.drop_duplicates(["user_id", "item_id"], ignore_index=True)
    triples = pd.DataFrame({"head": [f"movie:{i + 1}" for i in range(n)], "relation": "has_genre",
                            "tail": ["genre:Crime\tDrama" if i % 2 else "genre:\x1b[2J"
                                     for i in range(n)]})
    labels = {"genre:Crime\tDrama": "Crime\tDrama", "genre:\x1b[2J": "\x1b[2JClear"}
    dataset = MovieDataset("hostile", items, ratings, triples, labels)
    config = KGRecConfig().replace(model={"name": "pop"}, train={"show_progress": False},
                                   text={"show_progress": False})
    rec = Recommender(config).fit(dataset)
    path = rec.save(tmp_path_factory.mktemp("hostile") / "model")
    return rec, path


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def launch():
    """``launch(target, ranks=None, timeout=180) -> CompletedProcess``: run ``target``
    (``["-m", "kgrec", ...]`` or ``[script, args...]``) as one plain process
    (``ranks=None``) or under ``torchrun --nproc-per-node ranks`` on a free port of
    127.0.0.1, with this worktree's kgrec, one thread, offline; asserts exit status 0.
    Skips when torch.distributed with gloo is unavailable and ``ranks`` is given."""
    import subprocess
    import sys

    def run(target: list[str], ranks: int | None = None, timeout: float = 180):
        import torch.distributed as dist

        if ranks is not None and not (dist.is_available() and dist.is_gloo_available()):
            pytest.skip("torch.distributed with the gloo backend is not available")
        launcher = ([] if ranks is None else
                    ["-m", "torch.distributed.run", "--nproc-per-node", str(ranks),
                     "--master-addr", "127.0.0.1", "--master-port", str(_free_port())])
        env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1",
               "OMP_WAIT_POLICY": "PASSIVE", "HF_HUB_OFFLINE": "1"}
        done = subprocess.run([sys.executable, *launcher, *target], env=env, check=False,
                              capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, done.stderr[:4000] + " ... " + done.stderr[-1500:]
        return done

    return run
