"""Graph artifacts on disk: what ``kgrec build-graph`` writes and :func:`load_graph` reads.

Layout of ``out_dir``::

    stats.json                 format/version, node counts per type (in index order),
                               edge types with counts, caller's metadata; written last
    hetero_data.safetensors    one int64 tensor [2, E] per edge type, key
                               "<src>__<relation>__<dst>", and "ratings" (float32 [E_rated]);
                               loadable with safetensors.torch.load_file (no pickle)
    nodes/<type>.tsv           index, entity_id, label (TAB-separated, "\\N" = no label)
    graph.ttl                  Turtle of the RDF view (kgrec.graph.rdf), unless turtle=False

Every file is written atomically (temporary file + rename, :mod:`kgrec.io`) and
``stats.json`` last, so a reader never sees a half-written file; files a previous build
left that this one does not produce (``graph.ttl`` with ``turtle=False``, node tables of
types no longer present) are removed so the folder never mixes two builds' files.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from kgrec.data.dataset import DataError
from kgrec.graph.knowledge_graph import EdgeType, KnowledgeGraph
from kgrec.io import atomic_write, atomic_write_text

FORMAT = "kgrec-graph"
VERSION = 1
STATS_FILE = "stats.json"
TENSORS_FILE = "hetero_data.safetensors"
TURTLE_FILE = "graph.ttl"
NODES_DIR = "nodes"
RATINGS_KEY = "ratings"
NO_LABEL = "\\N"
NODE_COLUMNS = ("index", "entity_id", "label")


def edge_key(edge_type: EdgeType) -> str:
    """Tensor name of an edge type: ``("movie", "directed_by", "person")`` →
    ``"movie__directed_by__person"``."""
    return "__".join(edge_type)


def _node_table(kg: KnowledgeGraph, kind: str) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(NODE_COLUMNS)
    labels = kg.labels
    for i, entity in enumerate(kg.nodes[kind]):
        label = labels.get(entity)
        writer.writerow((i, entity, NO_LABEL if label is None else label))
    return buffer.getvalue()


def save_graph(kg: KnowledgeGraph, out_dir: str | Path, *, turtle: bool = True,
               meta: Mapping[str, Any] | None = None) -> Path:
    """Write ``kg`` to ``out_dir`` (created if needed); see the module docstring.

    Args:
        kg: the graph.
        out_dir: destination folder.
        turtle: also write ``graph.ttl`` (the slowest part on large graphs).
        meta: JSON-serialisable extra information stored under ``"meta"`` in
            ``stats.json`` (e.g. the dataset name and counts).

    Returns:
        ``out_dir`` as a ``Path``.
    """
    from safetensors.numpy import save_file

    out = Path(out_dir)
    (out / NODES_DIR).mkdir(parents=True, exist_ok=True)
    for kind in kg.nodes:
        if not kind or "/" in kind or "\\" in kind or kind.startswith("."):
            raise ValueError(f"node type {kind!r} cannot name a file in {out / NODES_DIR}")
        atomic_write_text(out / NODES_DIR / f"{kind}.tsv", _node_table(kg, kind))
    for stale in (out / NODES_DIR).glob("*.tsv"):
        if stale.stem not in kg.nodes:
            stale.unlink()

    tensors = {edge_key(k): np.ascontiguousarray(v, dtype=np.int64) for k, v in kg.edges.items()}
    tensors[RATINGS_KEY] = np.ascontiguousarray(kg.ratings, dtype=np.float32)
    if len(tensors) != len(kg.edges) + 1:
        raise ValueError(f"edge types {list(kg.edges)} do not give distinct tensor names")
    atomic_write(out / TENSORS_FILE,
                 lambda tmp: save_file(tensors, str(tmp), metadata={"format": FORMAT}))

    if turtle:
        from kgrec.graph.rdf import save_turtle, to_rdf

        save_turtle(to_rdf(kg), out / TURTLE_FILE)
    else:
        (out / TURTLE_FILE).unlink(missing_ok=True)

    stats = kg.stats()
    document = {
        "format": FORMAT,
        "version": VERSION,
        "nodes": stats.nodes,
        "edges": [{"src": s, "relation": r, "dst": d, "count": n, "key": edge_key((s, r, d))}
                  for (s, r, d), n in stats.edges.items()],
        "ratings": int(len(kg.ratings)),
        "labels": sum(1 for ids in kg.nodes.values() for e in ids if e in kg.labels),
        "files": sorted([TENSORS_FILE, *(f"{NODES_DIR}/{k}.tsv" for k in kg.nodes)]
                        + ([TURTLE_FILE] if turtle else [])),
        "meta": dict(meta or {}),
    }
    atomic_write_text(out / STATS_FILE, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return out


def _read_node_table(path: Path, kind: str, expected: int, labels: dict[str, str]) -> list[str]:
    if not path.is_file():
        raise DataError(f"node table of type {kind!r} not found", path=path)
    ids: list[str] = []
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t")
        header = next(reader, None)
        if header is None or tuple(header) != NODE_COLUMNS:
            raise DataError(f"header must be {' '.join(NODE_COLUMNS)!r} (TAB-separated)",
                            path=path, line=1)
        for row in reader:
            line = reader.line_num
            if len(row) != 3:
                raise DataError(f"expected 3 fields, got {len(row)}", path=path, line=line)
            index, entity, label = row
            if index != str(len(ids)):
                raise DataError(f"index {index!r} out of order (expected {len(ids)})",
                                path=path, line=line)
            if not entity.startswith(kind + ":"):
                raise DataError(f"entity id {entity!r} is not of type {kind!r}", path=path,
                                line=line)
            ids.append(entity)
            if label != NO_LABEL:
                labels[entity] = label
    if len(ids) != expected:
        raise DataError(f"{len(ids)} nodes, but {STATS_FILE} says {expected}", path=path)
    return ids


def load_graph(out_dir: str | Path) -> KnowledgeGraph:
    """Read a graph written by :func:`save_graph` (node tables and safetensors; no pickle,
    Turtle not needed). Errors name the file at fault."""
    from safetensors.numpy import load_file

    out = Path(out_dir)
    stats_path = out / STATS_FILE
    if not stats_path.is_file():
        raise FileNotFoundError(f"{stats_path}: not found (is {out} a graph folder written by "
                                f"'kgrec build-graph'?)")
    try:
        document = json.loads(stats_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"invalid JSON: {exc.msg}", path=stats_path, line=exc.lineno) from exc
    if document.get("format") != FORMAT or document.get("version") != VERSION:
        raise DataError(f"not a {FORMAT} version {VERSION} file (format "
                        f"{document.get('format')!r}, version {document.get('version')!r})",
                        path=stats_path)

    labels: dict[str, str] = {}
    nodes = {kind: _read_node_table(out / NODES_DIR / f"{kind}.tsv", kind, int(count), labels)
             for kind, count in document["nodes"].items()}

    tensors_path = out / TENSORS_FILE
    if not tensors_path.is_file():
        raise DataError("edge tensors not found", path=tensors_path)
    tensors = load_file(str(tensors_path))
    edges: dict[EdgeType, np.ndarray] = {}
    for entry in document["edges"]:
        edge_type = (entry["src"], entry["relation"], entry["dst"])
        key = edge_key(edge_type)
        if key not in tensors:
            raise DataError(f"no tensor {key!r} for edge type {edge_type}", path=tensors_path)
        index = tensors[key]
        if index.dtype != np.int64 or index.ndim != 2 or index.shape[0] != 2 \
                or index.shape[1] != int(entry["count"]):
            raise DataError(f"tensor {key!r} has dtype {index.dtype} and shape "
                            f"{list(index.shape)}, expected int64 [2, {entry['count']}]",
                            path=tensors_path)
        edges[edge_type] = index
    ratings = tensors.get(RATINGS_KEY)
    if ratings is None:
        raise DataError(f"no tensor {RATINGS_KEY!r}", path=tensors_path)
    try:
        return KnowledgeGraph(nodes, edges, labels, ratings)
    except ValueError as exc:
        raise DataError(str(exc), path=out) from exc
