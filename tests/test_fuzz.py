"""Property-based fuzzing (hypothesis, derandomized) of the three boundaries that read
files anyone can write:

* the CSV-folder loader and the RecBole loader: for generated malformed files the only
  exception is :class:`kgrec.data.DataError` (a ``ValueError``), and whatever loads obeys
  the documented bounds (finite ratings within ``RATING_LIMIT``, timestamps within
  ``TIMESTAMP_RANGE``, years within ``YEAR_RANGE``, titles of at most ``MAX_TITLE_CHARS``,
  unique item ids, every rating of a known item);
* the artifact loader: a saved graph (random nodes, labels of any characters, edges,
  ratings) always loads back equal; after random tampering (bytes flipped, files cut,
  removed, replaced by links, manifest values changed, with or without the manifest
  re-hashed) the only exception is :class:`kgrec.io.ArtifactError` (a ``ValueError``);
  escaped TSV frames round-trip exactly.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from kgrec.data import DataError, MovieDataset
from kgrec.data.sources import _tables as T
from kgrec.data.sources.csv_folder import read_csv_folder
from kgrec.data.sources.recbole import read_recbole
from kgrec.graph import RATED, KnowledgeGraph
from kgrec.graph.artifacts import load_graph, save_graph
from kgrec.io import ArtifactError, read_frame, write_frame

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])

NUMBERS = st.one_of(
    st.integers(-10, 10).map(str), st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["inf", "-inf", "nan", "NaN", "1e400", "-1e400", "1e30", "9.3e18", "1e7",
                     "0x1A", "1_000", " 5 ", "", "٣", "5,5", "1e-400", "253402300800",
                     "-2208988801", "99999999999999999999999", "+4", "4.", ".5", "1995.0"]),
    st.integers(-2**70, 2**70).map(str),
)
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
CELL = st.one_of(NUMBERS, TEXT, st.sampled_from(["1", "2", "3", "u1", "u2", '"', "a,b", "x\ny"]))


def assert_valid(ds: MovieDataset) -> None:
    """The bounds every loaded dataset obeys."""
    ratings, items = ds.ratings, ds.items
    assert np.isfinite(ratings["rating"].to_numpy(dtype=float)).all()
    assert (ratings["rating"].abs() <= T.RATING_LIMIT).all()
    assert str(ratings["timestamp"].dtype) == "int64"
    low, high = T.TIMESTAMP_RANGE
    assert ratings["timestamp"].between(low - 1, high).all()
    years = items["year"].dropna()
    assert years.between(*T.YEAR_RANGE).all()
    assert items["title"].str.len().le(T.MAX_TITLE_CHARS).all()
    assert items["item_id"].is_unique
    assert ratings["item_id"].isin(items["item_id"]).all()
    assert not ratings.duplicated(["user_id", "item_id"]).any()


def outcome(exc: Exception) -> str:
    """The kind of error, for hypothesis' statistics (``--hypothesis-show-statistics``)."""
    message = str(exc).split(": ", 1)[-1]
    return type(exc).__name__ + ": " + " ".join(message.split()[:3])


def csv_text(rows: list[list[str]], sep: str) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=sep, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


ID_COLUMNS = ("item_id", "id", "item")
USER_COLUMNS = ("user_id", "user")


def column(name: str) -> str:
    return name.strip().lower().split(":")[0]


@st.composite
def tables(draw, item_header: list[str] | None, rating_header: list[str],
           corrupt: bool = True):
    """Valid, joinable item and rating rows (distinct item ids, distinct (user, item)
    pairs, numbers in range), then up to three corruptions: a cell (header included)
    replaced by any cell or number, a row cut short by one field or made one too long."""
    n = draw(st.integers(1, 4))
    values = {"rating": st.one_of(st.integers(-5, 10).map(str),
                                  st.floats(-1e6, 1e6).map(repr)),
              "timestamp": st.integers(*T.TIMESTAMP_RANGE).map(str),
              "year": st.one_of(st.just(""), st.integers(*T.YEAR_RANGE).map(str)),
              "release_year": st.one_of(st.just(""), st.integers(*T.YEAR_RANGE).map(str))}
    items = [list(item_header)] if item_header else []
    for i in range(n if item_header else 0):
        items.append([str(i + 1) if column(h) in ID_COLUMNS else draw(values.get(column(h), TEXT))
                      for h in item_header])
    pairs = draw(st.lists(st.tuples(st.sampled_from(["u1", "u2", "u3"]), st.integers(1, n)),
                          unique=True, max_size=6))
    ratings = [list(rating_header)]
    for user, item in pairs:
        ratings.append([user if column(h) in USER_COLUMNS else str(item)
                        if column(h) in ID_COLUMNS else draw(values.get(column(h), TEXT))
                        for h in rating_header])
    edits = draw(st.lists(st.tuples(st.booleans(), st.integers(0, 99), st.integers(0, 9),
                                    st.one_of(NUMBERS, CELL),
                                    st.sampled_from(["set"] * 6 + ["drop", "add"])),
                          max_size=3 if corrupt else 0))
    for in_items, r, c, value, how in edits:
        table = items if in_items and items else ratings
        row = table[r % len(table)]
        if how == "set":
            row[c % len(row)] = value
        elif how == "drop" and row:
            row.pop()
        else:
            row.append(value)
    return items, ratings


def mangle(data: bytes, cut: int | None, noise: bytes) -> bytes:
    """Cut ``data`` at a position and/or splice in raw bytes (possibly invalid UTF-8)."""
    if cut is not None and data:
        data = data[: cut % (len(data) + 1)]
    if noise and data:
        at = len(noise) * 7919 % (len(data) + 1)
        data = data[:at] + noise + data[at:]
    return data


#: Mostly untouched; sometimes cut at a random byte, or a separator, quote, line end or a
#: few raw bytes (maybe invalid UTF-8) spliced in.
MANGLE = st.tuples(
    st.one_of(*[st.none()] * 5, st.integers(0, 10_000)),
    st.one_of(*[st.just(b"")] * 6,
              st.sampled_from([b",", b"\t", b"\n", b"\r", b'"', b"\xef\xbb\xbf"]),
              st.binary(min_size=1, max_size=3)))

ITEM_HEADERS = st.sampled_from([["item_id", "title", "year", "genres"]] * 3 + [
    ["item_id", "title"], ["item_id", "title", "year", "description"],
    ["ITEM_ID", " Title ", "year", "directors"], ["id", "title"]])
RATING_HEADERS = st.sampled_from([["user_id", "item_id", "rating", "timestamp"]] * 4 + [
    ["user_id", "item_id", "rating"], ["user", "item", "rating"]])


def load_or_named_error(read, folder: Path) -> None:
    """``read(folder)`` either loads a valid dataset or raises a ``DataError`` naming the
    file at fault; anything else fails the test."""
    try:
        ds = read(folder)
    except DataError as exc:
        event(outcome(exc))
        assert exc.path is not None and str(exc.path) in str(exc)  # names the file
        return
    event("loaded")
    assert_valid(ds)


@FUZZ
@given(item_header=ITEM_HEADERS, rating_header=RATING_HEADERS, data=st.data(),
       mangles=st.tuples(MANGLE, MANGLE))
def test_csv_loader_raises_only_data_errors(item_header, rating_header, data, mangles):
    items, ratings = data.draw(tables(item_header, rating_header))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, rows, (cut, noise) in (("items.csv", items, mangles[0]),
                                         ("ratings.csv", ratings, mangles[1])):
            (folder / name).write_bytes(mangle(csv_text(rows, ",").encode(), cut, noise))
        load_or_named_error(read_csv_folder, folder)


@FUZZ
@given(data=st.data(), target=st.sampled_from(["rating", "timestamp", "year"]),
       value=NUMBERS)
def test_csv_numbers_load_within_bounds_or_fail(data, target, value):
    """One number of an otherwise valid folder replaced: a DataError, or within bounds."""
    items, ratings = data.draw(tables(["item_id", "title", "year"],
                                      ["user_id", "item_id", "rating", "timestamp"],
                                      corrupt=False))
    table = items if target == "year" else ratings
    if len(table) < 2:
        return
    table[data.draw(st.integers(1, len(table) - 1))][table[0].index(target)] = value
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "items.csv").write_text(csv_text(items, ","), encoding="utf-8")
        (folder / "ratings.csv").write_text(csv_text(ratings, ","), encoding="utf-8")
        try:
            ds = read_csv_folder(folder)
        except DataError as exc:
            event(outcome(exc))
            assert exc.line is not None
            return
        event("loaded")
        assert_valid(ds)


def test_csv_loader_fuzz_reaches_valid_datasets():
    """The generator is not all noise: a clean draw loads (guards the property above from
    passing vacuously)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "items.csv").write_text(csv_text([["item_id", "title", "year", "genres"],
                                                    ["1", "a,b", "1995.0", "x\ny"]], ","))
        (folder / "ratings.csv").write_text(csv_text([["user_id", "item_id", "rating"],
                                                      ["u1", "1", " 5 "]], ","))
        assert_valid(read_csv_folder(folder))


INTER_HEADERS = st.sampled_from([
    ["user_id:token", "item_id:token", "rating:float", "timestamp:float"]] * 3 + [
    ["user_id:token", "item_id:token"], ["user_id:token", "item_id:token", "rating:float"],
    ["user:token", "item_id:token"]])
RB_ITEM_HEADERS = st.sampled_from([
    ["item_id:token", "movie_title:token_seq", "release_year:token", "class:token_seq"]] * 3 + [
    ["item_id:token", "title:token_seq"], ["item_id:token", "year:token"], None])


@FUZZ
@given(inter_header=INTER_HEADERS, item_header=RB_ITEM_HEADERS, data=st.data(),
       mangles=st.tuples(MANGLE, MANGLE))
def test_recbole_loader_raises_only_data_errors(inter_header, item_header, data, mangles):
    item_rows, inter = data.draw(tables(item_header, inter_header))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        texts = [("toy.inter", inter, mangles[0])]
        if item_header is not None:
            texts.append(("toy.item", item_rows, mangles[1]))
        for name, rows, (cut, noise) in texts:
            text = "\n".join("\t".join(c.replace("\t", " ").replace("\n", " ") for c in row)
                             for row in rows) + "\n"
            (folder / name).write_bytes(mangle(text.encode(), cut, noise))
        load_or_named_error(read_recbole, folder)


# -- artifacts ----------------------------------------------------------------------------------
LABEL = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30) | \
    st.sampled_from(["", "\\N", "\\", "\t", "\n\r", "\0", "x" * 5000])


@st.composite
def graphs(draw) -> KnowledgeGraph:
    n_users, n_movies, n_tags = draw(st.integers(0, 4)), draw(st.integers(1, 5)), \
        draw(st.integers(0, 3))
    key = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1,
                  max_size=8)
    def ids(kind: str, n: int) -> list[str]:
        return draw(st.lists(key, min_size=n, max_size=n, unique=True).map(
            lambda keys: [f"{kind}:{k}" for k in keys]))

    nodes = {"user": ids("user", n_users), "movie": ids("movie", n_movies)}
    if n_tags:
        nodes["tag"] = ids("tag", n_tags)
    edges = {}
    if n_users:
        pairs = draw(st.lists(st.tuples(st.integers(0, n_users - 1),
                                        st.integers(0, n_movies - 1)), max_size=8, unique=True))
        edges[RATED] = np.array(pairs, dtype=np.int64).reshape(-1, 2).T
    if n_tags:
        pairs = draw(st.lists(st.tuples(st.integers(0, n_movies - 1),
                                        st.integers(0, n_tags - 1)), max_size=6))
        edges[("movie", "has_tag", "tag")] = np.array(pairs, dtype=np.int64).reshape(-1, 2).T
    every = [e for group in nodes.values() for e in group]
    labelled = draw(st.lists(st.sampled_from(every), unique=True)) if every else []
    labels = {e: draw(LABEL) for e in labelled}
    n_rated = edges[RATED].shape[1] if RATED in edges else 0
    ratings = np.array(draw(st.lists(st.floats(-10, 10, width=32), min_size=n_rated,
                                     max_size=n_rated)), dtype=np.float32)
    return KnowledgeGraph(nodes, edges, labels, ratings if n_rated else None)


def same_graph(a: KnowledgeGraph, b: KnowledgeGraph) -> bool:
    return (a.nodes == b.nodes and a.labels == b.labels and set(a.edges) == set(b.edges)
            and all(np.array_equal(a.edges[k], b.edges[k]) for k in a.edges)
            and np.array_equal(a.ratings, b.ratings))


@FUZZ
@given(kg=graphs())
def test_saved_graph_loads_back_equal(kg):
    with tempfile.TemporaryDirectory() as tmp:
        loaded = load_graph(save_graph(kg, Path(tmp) / "g", turtle=False))
        assert same_graph(kg, loaded)


JSON_VALUE = st.recursive(st.none() | st.booleans() | st.integers(-5, 10**20) | TEXT |
                          st.sampled_from(["../x", "/etc/passwd", "nodes/movie.tsv"]),
                          lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(TEXT, inner, max_size=3), max_leaves=6)
TAMPER = st.sampled_from(["flip", "cut", "delete", "symlink", "junk", "manifest", "stats",
                          "add-entry"])


def read_json(path: Path) -> dict | None:
    """A JSON object from ``path``, or None when an earlier tampering step destroyed it."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def tamper(root: Path, files: list[str], how: str, data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(files))
    path = root / name
    content = path.read_bytes()
    if how == "flip" and content:
        at = data.draw(st.integers(0, len(content) - 1))
        path.write_bytes(content[:at] + bytes([content[at] ^ data.draw(st.integers(1, 255))])
                         + content[at + 1:])
    elif how == "cut":
        path.write_bytes(content[: data.draw(st.integers(0, max(0, len(content) - 1)))])
    elif how == "delete":
        path.unlink()
    elif how == "symlink":
        outside = root.parent / "outside"
        outside.write_bytes(content)
        path.unlink()
        path.symlink_to(outside)
    elif how == "junk":
        path.write_bytes(data.draw(st.binary(max_size=64)))
    elif how in ("manifest", "stats"):
        target = root / ("manifest.json" if how == "manifest" else "stats.json")
        document = read_json(target)
        if document is None:
            return
        keys = data.draw(st.lists(st.sampled_from(sorted(document) or ["x"]), min_size=1,
                                  max_size=2))
        for key in keys:
            document[key] = data.draw(JSON_VALUE)
        target.write_text(json.dumps(document))
    elif how == "add-entry":
        document = read_json(root / "manifest.json")
        if document is None or not isinstance(document.get("files"), dict):
            return
        document["files"][data.draw(TEXT | st.sampled_from(["../outside", "/etc/hostname",
                                                            "nodes/../stats.json"]))] = {
            "sha256": "0" * 64, "size": 0}
        (root / "manifest.json").write_text(json.dumps(document))


@FUZZ
@given(kg=graphs(), how=st.lists(TAMPER, min_size=1, max_size=3), rehash=st.booleans(),
       data=st.data())
def test_tampered_graph_raises_only_artifact_errors(kg, how, rehash, data, rehash_files):
    with tempfile.TemporaryDirectory() as tmp:
        target = save_graph(kg, Path(tmp) / "g", turtle=False)
        root = Path(os.path.realpath(target))
        files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
        for step in how:
            present = [f for f in files if (root / f).is_file() and not (root / f).is_symlink()]
            if present:
                tamper(root, present, step, data)
        if rehash:
            try:
                rehash_files(target)
            except (ValueError, KeyError, TypeError, AttributeError, OSError):
                pass  # the manifest itself was destroyed: nothing to re-hash
        try:
            loaded = load_graph(target)
        except ArtifactError as exc:
            event(outcome(exc))
            return
        event("loaded")
        assert isinstance(loaded, KnowledgeGraph)
        if not rehash:
            assert same_graph(kg, loaded)  # whatever got through changed nothing read


FRAME_TEXT = st.one_of(st.none(), LABEL)


@FUZZ
@given(rows=st.lists(st.tuples(FRAME_TEXT, st.floats(allow_nan=True, allow_infinity=True),
                               st.none() | st.integers(-2**63, 2**63 - 1)), max_size=8))
def test_escaped_frames_round_trip(rows):
    import pandas as pd

    frame = pd.DataFrame({"s": pd.Series([r[0] for r in rows], dtype=object),
                          "f": pd.Series([r[1] for r in rows], dtype=float),
                          "i": pd.array([r[2] for r in rows], dtype="Int64")})
    with tempfile.TemporaryDirectory() as tmp:
        write_frame(Path(tmp) / "t.tsv", frame)
        back = read_frame(Path(tmp) / "t.tsv", ["s", "f", "i"], {"f": "float64", "i": "Int64"})
    assert back["s"].tolist() == frame["s"].tolist()
    assert np.array_equal(back["f"].to_numpy(), frame["f"].to_numpy(), equal_nan=True)
    assert back["i"].tolist() == frame["i"].tolist()


@pytest.fixture
def rehash_files(rehash):
    return rehash  # a plain function: safe to share between hypothesis examples
