"""The saved-recommender folder: what is in it, how it is written and verified.

Layout (every path relative to the folder, every file listed with its size and sha256 in
``manifest.json``)::

    manifest.json          kgrec.io's manifest (kind "recommender"); meta: format, kgrec
                           version, model and dataset names
    config.toml            the KGRecConfig
    model.safetensors      the model's state_dict
    features.safetensors   text features per node type
    graph/                 the training graph (kgrec.graph.artifacts)
    data/items.parquet, triples.parquet, labels.parquet, seen.parquet
                           typed columnar tables (kgrec.io.write_table: read back without
                           per-row Python; any title loads back, a blank one stays blank)

Format 1 folders (the same, with the tables as escaped TSV, ``data/*.tsv``) still load;
saving always writes the current format (``Recommender.load(old).save(new)`` converts).
Nothing is pickled; tensors are read with safetensors, tables with pyarrow (no code
runs). The folder mechanics
are :func:`kgrec.io.write_artifact_dir` / :func:`kgrec.io.read_artifact_dir`: crash-safe
replacement (the path is a link to a complete version folder, swapped in one rename), only
listed files read, no paths outside the folder, no symbolic links, every file hashed, every
failure an :class:`ArtifactError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from kgrec.config import KGRecConfig
from kgrec.io import MANIFEST, ArtifactError, read_artifact_dir, write_artifact_dir

if TYPE_CHECKING:
    import torch

    from kgrec.data.dataset import MovieDataset
    from kgrec.graph.knowledge_graph import KnowledgeGraph
    from kgrec.train import ModelContext

FORMAT_VERSION = 2
#: Older formats :func:`load_artifact` still reads (1: the tables as escaped TSV).
READABLE_FORMATS = (1, 2)
KIND = "recommender"
__all__ = ["MANIFEST", "Artifact", "ArtifactError", "load_artifact", "load_fitted",
           "save_artifact", "verified_files", "write_folder"]


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
    """Write the recommender folder ``path`` crash-safely: ``fill(tmp)`` writes the files,
    ``meta`` goes into the manifest (:func:`kgrec.io.write_artifact_dir`)."""
    return write_artifact_dir(path, fill, kind=KIND, meta=meta)


def verified_files(path: str | Path) -> dict[str, Any]:
    """The manifest's ``meta`` plus ``"files"`` (name → verified path) of folder ``path``.

    Raises:
        ArtifactError: anything :func:`kgrec.io.read_artifact_dir` refuses, or a format
            other than :data:`FORMAT_VERSION`.
    """
    files = read_artifact_dir(path, kind=KIND)
    if files.meta.get("format") not in READABLE_FORMATS:
        raise ArtifactError(f"{path}: format {files.meta.get('format')!r} is not supported "
                            f"(this kgrec reads formats {list(READABLE_FORMATS)}; save the "
                            "model again with a kgrec that reads it)")
    return {**files.meta, "files": files}


# -- the recommender's files -------------------------------------------------------------
def save_artifact(path: str | Path, artifact: Artifact) -> Path:
    """Write ``artifact`` to folder ``path`` (see the module docstring for the layout)."""
    from safetensors.torch import save_file

    from kgrec import __version__
    from kgrec.graph.artifacts import write_graph_files
    from kgrec.io import write_table

    def fill(tmp: Path) -> None:
        artifact.config.save(tmp / "config.toml")
        save_file({k: v.detach().cpu().contiguous().clone() for k, v in artifact.state.items()},
                  str(tmp / "model.safetensors"))
        save_file({k: v.detach().cpu().contiguous() for k, v in artifact.features.items()},
                  str(tmp / "features.safetensors"))
        write_graph_files(artifact.kg, tmp / "graph", turtle=False)
        data = tmp / "data"
        data.mkdir()
        ds = artifact.dataset
        labels = pd.DataFrame(sorted(ds.labels.items()), columns=list(LABEL_SCHEMA))
        for name, frame in (("items", ds.items), ("triples", ds.triples), ("labels", labels),
                            ("seen", artifact.seen)):
            write_table(data / f"{name}.parquet", frame, TABLES[name])

    meta = {"format": FORMAT_VERSION, "kgrec": __version__,
            "model": artifact.config.model.name, "dataset": artifact.dataset.name}
    return write_folder(path, fill, meta)


ITEM_SCHEMA = {"item_id": "str", "title": "str", "year": "Int64", "text": "str"}
TRIPLE_SCHEMA = {"head": "str", "relation": "str", "tail": "str"}
LABEL_SCHEMA = {"entity": "str", "label": "str"}
RATING_SCHEMA = {"user_id": "str", "item_id": "str", "rating": "float64", "timestamp": "int64"}
#: The tables of ``data/`` and their column types (:data:`kgrec.io.TABLE_TYPES`).
TABLES = {"items": ITEM_SCHEMA, "triples": TRIPLE_SCHEMA, "labels": LABEL_SCHEMA,
          "seen": RATING_SCHEMA}


def _read_tables(files: Any, format_version: int) -> dict[str, pd.DataFrame]:
    """The four tables of ``data/``: Parquet (format 2) or escaped TSV (format 1)."""
    from kgrec.io import read_frame, read_table

    if format_version >= 2:
        return {name: read_table(files[f"data/{name}.parquet"], schema)
                for name, schema in TABLES.items()}
    return {name: read_frame(files[f"data/{name}.tsv"], list(schema),
                             {c: t for c, t in schema.items() if t != "str"})
            for name, schema in TABLES.items()}


def load_artifact(path: str | Path) -> Artifact:
    """Read a folder written by :func:`save_artifact`, every file verified first; every
    failure is an :class:`ArtifactError` naming the file."""
    from safetensors.torch import load

    from kgrec.data.dataset import MovieDataset
    from kgrec.graph.artifacts import read_graph_files

    manifest = verified_files(path)
    files = manifest["files"]
    try:
        config = KGRecConfig.load(files["config.toml"])
    except (ValueError, TypeError, KeyError) as exc:
        if isinstance(exc, ArtifactError):
            raise
        raise ArtifactError(f"{files['config.toml']}: {exc}") from None
    tensors = {}
    for name in ("model.safetensors", "features.safetensors"):
        try:
            tensors[name] = load(files[name].read_bytes())
        except ArtifactError:
            raise
        except Exception as exc:  # safetensors' errors have no common base class
            raise ArtifactError(f"{files[name]}: cannot read tensors "
                                f"({type(exc).__name__}: {exc})") from None
    tables = _read_tables(files, manifest["format"])
    items, triples, seen = tables["items"], tables["triples"], tables["seen"]
    labels = dict(zip(tables["labels"]["entity"].tolist(),
                      tables["labels"]["label"].fillna("").tolist()))
    kg = read_graph_files(files, "graph/")
    try:
        dataset = MovieDataset(str(manifest.get("dataset", "saved")), items, seen, triples,
                               labels)
    except ValueError as exc:
        raise ArtifactError(f"{path}: the saved tables do not fit together ({exc})") from None
    return Artifact(config, dataset, kg, tensors["features.safetensors"],
                    tensors["model.safetensors"], seen)


def load_fitted(path: str | Path) -> tuple[Artifact, ModelContext, torch.nn.Module]:
    """:func:`load_artifact`, then the model context and the model rebuilt from the saved
    config and weights (strict: every saved tensor must fit the model, or
    :class:`ArtifactError`)."""
    from kgrec.models.registry import build_model
    from kgrec.train import ModelContext, item_years

    saved = load_artifact(path)
    try:
        ctx = ModelContext.from_graph(saved.kg, None, saved.features,
                                      item_years(saved.dataset, saved.kg))
        model = build_model(saved.config.model.name, ctx, saved.config)
        model.load_state_dict(saved.state, strict=True)
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(f"{path}: the saved config.toml, model.safetensors and "
                            f"features do not fit the {saved.config.model.name!r} model "
                            f"({exc})") from None
    return saved, ctx, model
