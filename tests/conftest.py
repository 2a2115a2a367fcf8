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
