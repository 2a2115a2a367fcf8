"""The saved-recommender folder: what is in it, how it is written and verified.

Layout (every path relative to the folder, every file listed with its sha256 in
``manifest.json``)::

    manifest.json          format, kgrec version, model and dataset names, files
    config.toml            the KGRecConfig
    model.safetensors      the model's state_dict
    features.safetensors   text features per node type
    graph/                 the training graph (kgrec.graph.artifacts)
    data/items.tsv, triples.tsv, labels.tsv, seen.tsv

Nothing is pickled; tensors are read with safetensors (no code runs). The file mechanics
(temporary folder, hashing, replacement, verification) are :func:`write_folder` and
:func:`verified_files`, over :mod:`kgrec.io` helpers.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from kgrec.config import KGRecConfig

if TYPE_CHECKING:
    import torch

    from kgrec.data.dataset import MovieDataset
    from kgrec.graph.knowledge_graph import KnowledgeGraph

FORMAT_VERSION = 1
MANIFEST = "manifest.json"


class ArtifactError(ValueError):
    """A saved recommender that cannot be loaded (missing, truncated or modified file)."""


@dataclass
class Artifact:
    """The contents of a saved recommender folder."""

    config: KGRecConfig
    dataset: MovieDataset
    kg: KnowledgeGraph
    features: dict[str, torch.Tensor]
    state: dict[str, torch.Tensor]
    seen: pd.DataFrame


# -- folder mechanics --------------------------------------------------------------------
def write_folder(path: str | Path, fill: Callable[[Path], None], meta: dict[str, Any]) -> Path:
    """Write folder ``path`` atomically: ``fill(tmp)`` writes the files into a temporary
    folder beside it, a manifest (``meta`` plus every file's sha256) is added, and the
    folder then replaces ``path``; an existing ``path`` is replaced only once the new
    folder is complete."""
    from kgrec.io import sha256_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        fill(tmp)
        files = sorted(p for p in tmp.rglob("*") if p.is_file())
        manifest = {**meta, "files": {p.relative_to(tmp).as_posix(): sha256_file(p)
                                      for p in files}}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        if path.exists():
            old = path.parent / f".{path.name}.old"
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def verified_files(path: str | Path) -> dict[str, Any]:
    """The manifest of folder ``path`` after checking every listed file's sha256.

    Raises:
        ArtifactError: no or unreadable manifest, wrong format, or a listed file missing
            or not matching its hash (naming the file).
    """
    from kgrec.io import sha256_file

    path = Path(path)
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise ArtifactError(f"{path}: not a saved kgrec recommender (no {MANIFEST})")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        files = dict(manifest["files"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(f"{manifest_path}: unreadable manifest ({exc})") from None
    if manifest.get("format") != FORMAT_VERSION:
        raise ArtifactError(f"{manifest_path}: format {manifest.get('format')!r} is not "
                            f"supported (expected {FORMAT_VERSION})")
    for name, digest in files.items():
        file = path / name
        if not file.is_file():
            raise ArtifactError(f"{file}: missing from the saved recommender")
        if sha256_file(file) != digest:
            raise ArtifactError(f"{file}: content does not match the manifest (sha256 "
                                "mismatch): the file was truncated or modified")
    return manifest


# -- the recommender's files -------------------------------------------------------------
def save_artifact(path: str | Path, artifact: Artifact) -> Path:
    """Write ``artifact`` to folder ``path`` (see the module docstring for the layout)."""
    from safetensors.torch import save_file

    from kgrec import __version__
    from kgrec.graph.artifacts import save_graph

    def fill(tmp: Path) -> None:
        artifact.config.save(tmp / "config.toml")
        save_file({k: v.detach().cpu().contiguous().clone() for k, v in artifact.state.items()},
                  str(tmp / "model.safetensors"))
        save_file({k: v.detach().cpu().contiguous() for k, v in artifact.features.items()},
                  str(tmp / "features.safetensors"))
        save_graph(artifact.kg, tmp / "graph", turtle=False)
        data = tmp / "data"
        data.mkdir()
        ds = artifact.dataset
        ds.items.to_csv(data / "items.tsv", sep="\t", index=False)
        ds.triples.to_csv(data / "triples.tsv", sep="\t", index=False)
        pd.DataFrame(sorted(ds.labels.items()), columns=["entity", "label"]).to_csv(
            data / "labels.tsv", sep="\t", index=False)
        artifact.seen.to_csv(data / "seen.tsv", sep="\t", index=False)

    meta = {"format": FORMAT_VERSION, "kgrec": __version__,
            "model": artifact.config.model.name, "dataset": artifact.dataset.name}
    return write_folder(path, fill, meta)


def load_artifact(path: str | Path) -> Artifact:
    """Read a folder written by :func:`save_artifact`, every file verified first."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from kgrec.data.dataset import MovieDataset
    from kgrec.graph.artifacts import load_graph

    path = Path(path)
    manifest = verified_files(path)
    config = KGRecConfig.load(path / "config.toml")
    try:
        state = load_file(str(path / "model.safetensors"))
        features = load_file(str(path / "features.safetensors"))
    except (SafetensorError, OSError) as exc:
        raise ArtifactError(f"{path}: cannot read tensors ({exc})") from None
    data = path / "data"

    def read(name: str, **kwargs: Any) -> pd.DataFrame:
        return pd.read_csv(data / name, sep="\t", keep_default_na=False, na_values=[""],
                           **kwargs)

    items = read("items.tsv", dtype={"item_id": str, "title": str, "text": str})
    triples = read("triples.tsv", dtype=str)
    labels_df = read("labels.tsv", dtype=str)
    seen = read("seen.tsv", dtype={"user_id": str, "item_id": str})
    labels = dict(zip(labels_df["entity"], labels_df["label"].fillna("")))
    dataset = MovieDataset(manifest.get("dataset", "saved"), items, seen, triples, labels)
    return Artifact(config, dataset, load_graph(path / "graph"), features, state, seen)
