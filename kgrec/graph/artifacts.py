"""Graph artifacts on disk: what ``kgrec build-graph`` writes and :func:`load_graph` reads.

Layout of the artifact folder (a crash-safe, manifest-verified folder of
:func:`kgrec.io.write_artifact_dir`, kind ``"kgrec-graph"``)::

    manifest.json              every file's relative path, size and sha256 (kgrec.io)
    stats.json                 format/version, node counts per type (in index order),
                               edge types with counts, caller's metadata
    hetero_data.safetensors    one int64 tensor [2, E] per edge type, key
                               "<src>__<relation>__<dst>", and "ratings" (float32 [E_rated]);
                               loadable with safetensors.torch.load_file (no pickle)
    nodes/<type>.parquet       entity_id, label (one row per node in index order, label
                               missing = no label; :func:`kgrec.io.write_table`, read back
                               without per-row parsing; any label loads back)
    graph.ttl                  Turtle of the RDF view (kgrec.graph.rdf), unless turtle=False

Version 2 folders (the node tables as ``nodes/<type>.tsv``: index, entity_id, label,
TAB-separated, fields escaped as in :func:`kgrec.io.escape_field`, ``\\N`` = no label)
still load. Saving replaces the whole folder at once, so it never mixes two builds' files
and a crash leaves the previous graph loadable. :func:`write_graph_files` /
:func:`read_graph_files` are the same format inside a larger artifact (a saved recommender
keeps its graph under ``graph/``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from kgrec.graph.knowledge_graph import EdgeType, KnowledgeGraph
from kgrec.io import (ArtifactError, read_artifact_dir, read_table, read_tsv,
                      write_artifact_dir, write_table)

FORMAT = "kgrec-graph"
KIND = "graph"  # the artifact kind in the manifest
VERSION = 3
#: Versions :func:`read_graph_files` reads (2: node tables as escaped TSV).
READABLE_VERSIONS = (2, 3)
STATS_FILE = "stats.json"
TENSORS_FILE = "hetero_data.safetensors"
TURTLE_FILE = "graph.ttl"
NODES_DIR = "nodes"
RATINGS_KEY = "ratings"
NODE_COLUMNS = ("index", "entity_id", "label")  # version 2 (TSV)
NODE_SCHEMA = {"entity_id": "str", "label": "str"}  # version 3 (Parquet)


def edge_key(edge_type: EdgeType) -> str:
    """Tensor name of an edge type: ``("movie", "directed_by", "person")`` →
    ``"movie__directed_by__person"``."""
    return "__".join(edge_type)


def write_graph_files(kg: KnowledgeGraph, folder: str | Path, *, turtle: bool = True,
                      meta: Mapping[str, Any] | None = None) -> Path:
    """Write the files of ``kg`` into the existing folder ``folder`` (not atomic: the
    ``fill`` of an artifact folder); see the module docstring. Returns ``folder``."""
    import pandas as pd
    from safetensors.numpy import save_file

    out = Path(folder)
    (out / NODES_DIR).mkdir(parents=True, exist_ok=True)
    labels = kg.labels
    for kind in kg.nodes:
        if not kind or "/" in kind or "\\" in kind or kind.startswith(".") or "\0" in kind:
            raise ValueError(f"node type {kind!r} cannot name a file in {out / NODES_DIR}")
        ids = kg.nodes[kind]
        frame = pd.DataFrame({"entity_id": pd.Series(ids, dtype=object),
                              "label": pd.Series([labels.get(e) for e in ids], dtype=object)})
        write_table(out / NODES_DIR / f"{kind}.parquet", frame, NODE_SCHEMA)

    tensors = {edge_key(k): np.ascontiguousarray(v, dtype=np.int64) for k, v in kg.edges.items()}
    tensors[RATINGS_KEY] = np.ascontiguousarray(kg.ratings, dtype=np.float32)
    if len(tensors) != len(kg.edges) + 1:
        raise ValueError(f"edge types {list(kg.edges)} do not give distinct tensor names")
    save_file(tensors, str(out / TENSORS_FILE), metadata={"format": FORMAT})
    if turtle:
        from kgrec.graph.rdf import save_turtle, to_rdf

        save_turtle(to_rdf(kg), out / TURTLE_FILE)

    stats = kg.stats()
    document = {
        "format": FORMAT,
        "version": VERSION,
        "nodes": stats.nodes,
        "edges": [{"src": s, "relation": r, "dst": d, "count": n, "key": edge_key((s, r, d))}
                  for (s, r, d), n in stats.edges.items()],
        "ratings": int(len(kg.ratings)),
        "labels": sum(1 for ids in kg.nodes.values() for e in ids if e in kg.labels),
        "files": sorted([TENSORS_FILE, *(f"{NODES_DIR}/{k}.parquet" for k in kg.nodes)]
                        + ([TURTLE_FILE] if turtle else [])),
        "meta": dict(meta or {}),
    }
    (out / STATS_FILE).write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n",
                                  encoding="utf-8")
    return out


def save_graph(kg: KnowledgeGraph, out_dir: str | Path, *, turtle: bool = True,
               meta: Mapping[str, Any] | None = None) -> Path:
    """Write ``kg`` as the artifact folder ``out_dir``, replacing any previous one
    crash-safely (:func:`kgrec.io.write_artifact_dir`); see the module docstring.

    Args:
        kg: the graph.
        out_dir: destination (its parent is created if needed).
        turtle: also write ``graph.ttl`` (the slowest part on large graphs).
        meta: JSON-serialisable extra information stored under ``"meta"`` in
            ``stats.json`` (e.g. the dataset name and counts).

    Returns:
        ``out_dir`` as a ``Path``.
    """
    return write_artifact_dir(out_dir, lambda tmp: write_graph_files(kg, tmp, turtle=turtle,
                                                                       meta=meta),
                              kind=KIND, meta={"format": FORMAT, "version": VERSION})


def _read_node_parquet(path: Path, kind: str, expected: int, labels: dict[str, str]
                       ) -> list[str]:
    frame = read_table(path, NODE_SCHEMA)
    entity, label = frame["entity_id"], frame["label"]
    wrong = ~(entity.notna() & entity.str.startswith(kind + ":", na=False)).to_numpy(dtype=bool)
    if wrong.any():
        row = int(np.flatnonzero(wrong)[0])
        raise ArtifactError(f"{path}, row {row}: entity id {entity.iloc[row]!r} is not of type "
                            f"{kind!r}")
    if len(frame) != expected:
        raise ArtifactError(f"{path}: {len(frame)} nodes, but {STATS_FILE} says {expected}")
    ids = entity.tolist()
    named = label.notna().to_numpy(dtype=bool)
    labels.update(zip(entity[named].tolist(), label[named].tolist()))
    return ids


def _read_node_table(path: Path, kind: str, expected: int, labels: dict[str, str]) -> list[str]:
    ids: list[str] = []
    for line, (index, entity, label) in enumerate(read_tsv(path, NODE_COLUMNS), start=2):
        if index != str(len(ids)):
            raise ArtifactError(f"{path}, line {line}: index {index!r} out of order (expected "
                                f"{len(ids)})")
        if entity is None or not entity.startswith(kind + ":"):
            raise ArtifactError(f"{path}, line {line}: entity id {entity!r} is not of type "
                                f"{kind!r}")
        ids.append(entity)
        if label is not None:
            labels[entity] = label
    if len(ids) != expected:
        raise ArtifactError(f"{path}: {len(ids)} nodes, but {STATS_FILE} says {expected}")
    return ids


def load_graph(out_dir: str | Path) -> KnowledgeGraph:
    """Read a graph written by :func:`save_graph` (node tables and safetensors; no pickle,
    Turtle not needed). Every file is verified against the manifest first.

    Raises:
        ArtifactError: a missing, foreign, modified or malformed file (named).
    """
    return read_graph_files(read_artifact_dir(out_dir, kind=KIND))


def read_graph_files(files: Mapping[str, Path], prefix: str = "") -> KnowledgeGraph:
    """Read the graph whose verified files ``files`` (manifest name → path, as returned by
    :func:`kgrec.io.read_artifact_dir`) holds under ``prefix`` (``""`` or ``"graph/"``).

    Raises:
        ArtifactError: a file is missing from ``files`` or malformed.
    """
    def file(name: str) -> Path:
        if prefix + name not in files:
            raise ArtifactError(f"the artifact's manifest lists no {prefix + name}")
        return files[prefix + name]

    stats_path = file(STATS_FILE)
    try:
        document = json.loads(stats_path.read_text(encoding="utf-8"))
        if not isinstance(document, dict):
            raise TypeError("not an object")
    except (ValueError, TypeError, RecursionError) as exc:
        raise ArtifactError(f"{stats_path}: invalid JSON ({exc})") from None
    if document.get("format") != FORMAT or document.get("version") not in READABLE_VERSIONS:
        raise ArtifactError(f"{stats_path}: not a {FORMAT} file of version "
                            f"{' or '.join(map(str, READABLE_VERSIONS))} (format "
                            f"{document.get('format')!r}, version {document.get('version')!r})")
    try:
        return _read_graph(document, file, stats_path)
    except ArtifactError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ArtifactError(f"{stats_path}: malformed graph description ({exc!r})") from None


def _read_graph(document: dict[str, Any], file: Any, stats_path: Path) -> KnowledgeGraph:
    from safetensors.numpy import load

    labels: dict[str, str] = {}
    nodes: dict[str, list[str]] = {}
    for kind, count in dict(document["nodes"]).items():
        if not isinstance(kind, str) or type(count) is not int:
            raise ArtifactError(f"{stats_path}: node count {kind!r}: {count!r} is not a count")
        if document["version"] >= 3:
            nodes[kind] = _read_node_parquet(file(f"{NODES_DIR}/{kind}.parquet"), kind, count,
                                             labels)
        else:
            nodes[kind] = _read_node_table(file(f"{NODES_DIR}/{kind}.tsv"), kind, count, labels)

    tensors_path = file(TENSORS_FILE)
    try:
        tensors = load(tensors_path.read_bytes())
    except Exception as exc:  # safetensors raises its own error types, with no common base
        raise ArtifactError(f"{tensors_path}: not a safetensors file of numeric tensors "
                            f"({type(exc).__name__}: {exc})") from None
    edges: dict[EdgeType, np.ndarray] = {}
    for entry in document["edges"]:
        edge_type = (str(entry["src"]), str(entry["relation"]), str(entry["dst"]))
        key = edge_key(edge_type)
        if key not in tensors:
            raise ArtifactError(f"{tensors_path}: no tensor {key!r} for edge type {edge_type}")
        index = tensors[key]
        if index.dtype != np.int64 or index.ndim != 2 or index.shape[0] != 2 \
                or index.shape[1] != int(entry["count"]):
            raise ArtifactError(f"{tensors_path}: tensor {key!r} has dtype {index.dtype} and "
                                f"shape {list(index.shape)}, expected int64 "
                                f"[2, {entry['count']}]")
        edges[edge_type] = index
    ratings = tensors.get(RATINGS_KEY)
    if ratings is None or ratings.dtype != np.float32 or ratings.ndim != 1:
        raise ArtifactError(f"{tensors_path}: no float32 vector {RATINGS_KEY!r}")
    try:
        return KnowledgeGraph(nodes, edges, labels, ratings)
    except ValueError as exc:
        raise ArtifactError(f"{stats_path.parent}: {exc}") from None
