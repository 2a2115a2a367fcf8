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
