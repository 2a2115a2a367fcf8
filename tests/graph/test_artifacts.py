"""Graph artifact folders: round trips of hostile labels, and every malformed or foreign
file (tensors that are not numeric arrays, wrong shapes, broken tables) refused with an
``ArtifactError`` naming it."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from kgrec.graph import RATED, KnowledgeGraph
from kgrec.graph.artifacts import TENSORS_FILE, load_graph, save_graph
from kgrec.io import MANIFEST, ArtifactError


def small_graph(label: str = "Heat") -> KnowledgeGraph:
    nodes = {"user": ["user:a", "user:b"], "movie": ["movie:1", "movie:2"],
             "genre": ["genre:Crime"]}
    edges = {RATED: np.array([[0, 1, 1], [0, 0, 1]]),
             ("movie", "has_genre", "genre"): np.array([[0, 1], [0, 0]])}
    return KnowledgeGraph(nodes, edges, {"movie:1": label, "genre:Crime": "Crime"},
                          np.array([5.0, 3.5, 1.0]))


def same(a: KnowledgeGraph, b: KnowledgeGraph) -> bool:
    return (a.nodes == b.nodes and a.labels == b.labels and set(a.edges) == set(b.edges)
            and all(np.array_equal(a.edges[k], b.edges[k]) for k in a.edges)
            and np.array_equal(a.ratings, b.ratings))


def root(target: Path) -> Path:
    return Path(os.path.realpath(target))


@pytest.mark.parametrize("label", ["x" * 200_000, "", "\\N", "tab\there\nnew\rline\0nul",
                                   "\x1b[31mred\x1b[0m", "back\\slash\\t", "\u2028\ufeff"])
def test_hostile_labels_round_trip(tmp_path, label):
    kg = small_graph(label)
    assert same(kg, load_graph(save_graph(kg, tmp_path / "g", turtle=False)))


def safetensors_bytes(header: dict, data: bytes = b"") -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


@pytest.mark.parametrize("content", [
    b"not a safetensors file at all",
    safetensors_bytes({"ratings": {"dtype": "OBJECT", "shape": [1], "data_offsets": [0, 8]}},
                      b"\0" * 8),
    safetensors_bytes({"ratings": {"dtype": "F32", "shape": [1000], "data_offsets": [0, 4000]}}),
    safetensors_bytes({"ratings": "a string, not a tensor"}),
    struct.pack("<Q", 1 << 60),
], ids=["garbage", "object-dtype", "short-data", "string-payload", "huge-header"])
def test_non_tensor_payload_is_an_artifact_error(tmp_path, rehash, content):
    target = save_graph(small_graph(), tmp_path / "g", turtle=False)
    (root(target) / TENSORS_FILE).write_bytes(content)
    rehash(target)
    with pytest.raises(ArtifactError, match="hetero_data.safetensors: not a safetensors file"):
        load_graph(target)


def test_wrong_tensors_are_refused(tmp_path, rehash):
    from safetensors.numpy import save_file

    target = save_graph(small_graph(), tmp_path / "g", turtle=False)
    path = root(target) / TENSORS_FILE
    save_file({"user__rated__movie": np.zeros((2, 3), dtype=np.float32),
               "movie__has_genre__genre": np.zeros((2, 2), dtype=np.int64),
               "ratings": np.ones(3, dtype=np.float32)}, str(path))
    rehash(target)
    with pytest.raises(ArtifactError, match="'user__rated__movie' has dtype float32"):
        load_graph(target)
    save_file({"user__rated__movie": np.array([[0, 1, 7], [0, 0, 1]]),
               "movie__has_genre__genre": np.zeros((2, 2), dtype=np.int64),
               "ratings": np.ones(3, dtype=np.float32)}, str(path))
    rehash(target)
    with pytest.raises(ArtifactError, match="index out of range"):
        load_graph(target)
    save_file({"user__rated__movie": np.array([[0, 1, 1], [0, 0, 1]]),
               "movie__has_genre__genre": np.zeros((2, 2), dtype=np.int64)}, str(path))
    rehash(target)
    with pytest.raises(ArtifactError, match="no float32 vector 'ratings'"):
        load_graph(target)


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(nodes={"user": "2"}), "is not a count"),
    (lambda d: d.update(nodes=[1, 2]), "malformed graph description"),
    (lambda d: d.update(edges=[{"src": "user"}]), "malformed graph description"),
    (lambda d: d.update(version=1), "not a kgrec-graph file of version 2 or 3"),
    (lambda d: d["nodes"].update({"../../etc/passwd": 1}), "lists no nodes/../../etc/passwd"),
])
def test_malformed_stats_are_refused(tmp_path, rehash, change, message):
    target = save_graph(small_graph(), tmp_path / "g", turtle=False)
    stats = root(target) / "stats.json"
    document = json.loads(stats.read_text())
    change(document)
    stats.write_text(json.dumps(document))
    rehash(target)
    with pytest.raises(ArtifactError, match=message):
        load_graph(target)


def as_version_2(target: Path, rehash) -> Path:
    """Rewrite graph folder ``target`` in version 2 (node tables as escaped TSV), as kgrec
    wrote before the Parquet node tables."""
    import pandas as pd

    from kgrec.graph.artifacts import NODE_COLUMNS, NODE_SCHEMA
    from kgrec.io import read_table, write_tsv

    folder = root(target)
    stats = json.loads((folder / "stats.json").read_text())
    for kind in stats["nodes"]:
        table = folder / "nodes" / f"{kind}.parquet"
        frame = read_table(table, NODE_SCHEMA)
        write_tsv(folder / "nodes" / f"{kind}.tsv", NODE_COLUMNS,
                  [(str(i), e, None if pd.isna(label) else label)
                   for i, (e, label) in enumerate(zip(frame["entity_id"], frame["label"]))])
        table.unlink()
    stats["version"] = 2
    stats["files"] = [f.replace(".parquet", ".tsv") for f in stats["files"]]
    (folder / "stats.json").write_text(json.dumps(stats))
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["files"] = {n.replace(".parquet", ".tsv"): e for n, e in manifest["files"].items()}
    (folder / MANIFEST).write_text(json.dumps(manifest))
    rehash(target)
    return target


def test_version_2_folders_still_load(tmp_path, rehash):
    kg = small_graph("tab\there \\N")
    target = as_version_2(save_graph(kg, tmp_path / "g", turtle=False), rehash)
    assert (root(target) / "nodes" / "movie.tsv").is_file()
    assert same(load_graph(target), kg)


@pytest.mark.parametrize("lines, message", [
    (["index\tentity_id\tlabel", "0\tmovie:1\tHeat", "5\tmovie:2\t\\N"], r"line 3: index '5'"),
    (["index\tentity_id\tlabel", "0\tgenre:x\tHeat", "1\tmovie:2\t\\N"], "is not of type"),
    (["index\tentity_id\tlabel", "0\tmovie:1"], "line 2: expected 3 fields"),
    (["index\tentity_id\tlabel", "0\tmovie:1\tHeat"], "1 nodes, but stats.json says 2"),
    (["id\tentity\tlabel"], "line 1: header must be"),
])
def test_malformed_version_2_node_tables_are_refused(tmp_path, rehash, lines, message):
    target = as_version_2(save_graph(small_graph(), tmp_path / "g", turtle=False), rehash)
    (root(target) / "nodes" / "movie.tsv").write_text("\n".join(lines) + "\n")
    rehash(target)
    with pytest.raises(ArtifactError, match=message):
        load_graph(target)


@pytest.mark.parametrize("rows, message", [
    ({"entity_id": ["genre:x", "movie:2"], "label": ["Heat", None]},
     r"movie\.parquet, row 0: entity id 'genre:x' is not of type 'movie'"),
    ({"entity_id": ["movie:1", None], "label": ["Heat", None]}, "row 1: entity id"),
    ({"entity_id": ["movie:1"], "label": ["Heat"]}, "1 nodes, but stats.json says 2"),
    ({"entity": ["movie:1", "movie:2"], "label": ["Heat", None]}, r"columns \['entity', 'label'\]"),
    ({"entity_id": [1, 2], "label": ["Heat", None]}, "column 'entity_id' has type int64"),
])
def test_malformed_node_tables_are_refused(tmp_path, rehash, rows, message):
    import pandas as pd

    target = save_graph(small_graph(), tmp_path / "g", turtle=False)
    frame = pd.DataFrame({k: pd.Series(v, dtype=object if k != "entity_id" or
                                       isinstance(v[0], str) else "int64")
                          for k, v in rows.items()})
    frame.to_parquet(root(target) / "nodes" / "movie.parquet", index=False)
    rehash(target)
    with pytest.raises(ArtifactError, match=message):
        load_graph(target)


def test_a_file_dropped_from_the_manifest_is_not_read(tmp_path):
    target = save_graph(small_graph(), tmp_path / "g", turtle=False)
    manifest = root(target) / MANIFEST
    document = json.loads(manifest.read_text())
    del document["files"]["nodes/genre.parquet"]
    manifest.write_text(json.dumps(document))
    with pytest.raises(ArtifactError, match="manifest lists no nodes/genre.parquet"):
        load_graph(target)


def test_a_recommender_folder_is_not_a_graph(tmp_path):
    from kgrec.io import write_artifact_dir

    target = write_artifact_dir(tmp_path / "r", lambda f: (f / "x").write_text("x"),
                                kind="recommender")
    with pytest.raises(ArtifactError, match="not a saved kgrec graph"):
        load_graph(target)
