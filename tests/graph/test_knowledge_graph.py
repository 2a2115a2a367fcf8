"""KnowledgeGraph.from_dataset, its PyG view, and the artifacts round trip."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from kgrec.data import DataError, MovieDataset, random_split
from kgrec.graph import RATED, KnowledgeGraph
from kgrec.graph.artifacts import load_graph, save_graph
from kgrec.io import ArtifactError


def make_dataset(seed: int = 0, n_movies: int = 24, n_users: int = 10) -> MovieDataset:
    """Seeded toy dataset: a director, two actors and 1-2 genres per movie (one duplicate
    triple), 6 ratings per user, one unrated movie, one person without a label."""
    rng = np.random.default_rng(seed)
    items = pd.DataFrame({"item_id": [str(i) for i in range(1, n_movies + 1)],
                          "title": [f"Movie {i}" for i in range(1, n_movies + 1)],
                          "year": [1990 + i % 20 for i in range(n_movies)], "text": ""})
    people = [f"person:Person {j}" for j in range(10)]
    genres = ["genre:Drama", "genre:Comedy", "genre:Crime", "genre:Sci-Fi"]
    rows = []
    for i in range(1, n_movies + 1):
        rows.append((f"movie:{i}", "directed_by", people[int(rng.integers(0, 4))]))
        rows += [(f"movie:{i}", "starring", p) for p in rng.choice(people[2:], 2, replace=False)]
        rows += [(f"movie:{i}", "has_genre", g)
                 for g in rng.choice(genres, int(rng.integers(1, 3)), replace=False)]
    rows.append(rows[0])
    triples = pd.DataFrame(rows, columns=["head", "relation", "tail"])
    ratings = pd.DataFrame(
        [(str(u), str(m), float(rng.integers(1, 6)), int(1000 * u + k))
         for u in range(1, n_users + 1)
         for k, m in enumerate(rng.choice(np.arange(1, n_movies), 6, replace=False))],
        columns=["user_id", "item_id", "rating", "timestamp"])
    labels = {p: p.partition(":")[2] for p in people[:-1]}
    labels.update({g: g.partition(":")[2] for g in genres})
    return MovieDataset("toy", items, ratings, triples, labels)


@pytest.fixture(scope="module")
def dataset() -> MovieDataset:
    return make_dataset()


@pytest.fixture(scope="module")
def kg(dataset: MovieDataset) -> KnowledgeGraph:
    return KnowledgeGraph.from_dataset(dataset)


def edge_set(kg: KnowledgeGraph, edge_type) -> set[tuple[str, str]]:
    src, _, dst = edge_type
    index = kg.edges[edge_type]
    return {(kg.entity(src, h), kg.entity(dst, t)) for h, t in index.T.tolist()}


# -- from_dataset ----------------------------------------------------------------------------
def test_contiguous_indices_per_type(kg: KnowledgeGraph, dataset: MovieDataset) -> None:
    assert kg.node_types[:2] == ["user", "movie"]
    assert kg.item_ids == list(dataset.items["item_id"])
    assert sorted(kg.user_ids) == sorted(dataset.ratings["user_id"].unique())
    assert kg.nodes["person"] == dataset.entities("person")
    assert kg.nodes["genre"] == dataset.entities("genre")
    for kind, ids in kg.nodes.items():
        assert len(set(ids)) == len(ids)
        assert all(e.startswith(kind + ":") for e in ids)
        assert [kg.index(e) for e in ids] == list(range(len(ids)))
    for (src, _, dst), index in kg.edges.items():
        assert index.dtype == np.int64 and index.shape[0] == 2
        assert index[0].max() < kg.num_nodes(src) and index[1].max() < kg.num_nodes(dst)
        assert index.min() >= 0


def test_labels(kg: KnowledgeGraph) -> None:
    assert kg.label("movie:3") == "Movie 3"
    assert kg.label("person:Person 0") == "Person 0"
    assert kg.label("person:Person 9") is None  # no label in the source
    assert kg.label("genre:Sci-Fi") == "Sci-Fi"


def test_edges_match_triples_without_duplicates(kg: KnowledgeGraph, dataset: MovieDataset) -> None:
    distinct = dataset.triples.drop_duplicates()
    assert len(distinct) == len(dataset.triples) - 1
    for relation, group in distinct.groupby("relation"):
        edge_type = ("movie", relation, group["tail"].iloc[0].partition(":")[0])
        assert edge_set(kg, edge_type) == set(zip(group["head"], group["tail"]))
        assert kg.edges[edge_type].shape[1] == len(group)  # no duplicate edges
    assert set(kg.edges) == {RATED, ("movie", "directed_by", "person"),
                             ("movie", "has_genre", "genre"), ("movie", "starring", "person")}


def test_rated_edges_and_ratings(kg: KnowledgeGraph, dataset: MovieDataset) -> None:
    r = dataset.ratings
    expected = {(f"user:{u}", f"movie:{m}"): x
                for u, m, x in zip(r["user_id"], r["item_id"], r["rating"])}
    u, m = kg.edges[RATED]
    got = {(kg.entity("user", a), kg.entity("movie", b)): float(r)
           for a, b, r in zip(u.tolist(), m.tolist(), kg.ratings)}
    assert got == expected
    assert np.all(np.diff(u) >= 0)  # sorted by user, as user_items() needs
    assert kg.interaction_matrix().sum() == len(expected)
    assert [len(x) for x in kg.user_items()] == [6] * kg.num_users


def test_duplicate_interactions_give_one_edge_last_rating_wins(dataset: MovieDataset) -> None:
    extra = dataset.ratings.iloc[[0]].assign(rating=0.5)
    inter = pd.concat([dataset.ratings, extra], ignore_index=True)
    kg = KnowledgeGraph.from_dataset(dataset, inter)
    assert kg.edges[RATED].shape[1] == len(dataset.ratings)
    i = kg.user_index(extra["user_id"].iloc[0])
    j = kg.item_index(extra["item_id"].iloc[0])
    pos = np.flatnonzero((kg.edges[RATED][0] == i) & (kg.edges[RATED][1] == j))
    assert kg.ratings[pos].tolist() == [0.5]


def test_min_rating_filters_edges_not_vocabulary(dataset: MovieDataset) -> None:
    kg = KnowledgeGraph.from_dataset(dataset, min_rating=4.0)
    assert kg.edges[RATED].shape[1] == int((dataset.ratings["rating"] >= 4.0).sum())
    assert kg.num_users == dataset.num_users and kg.num_items == dataset.num_items
    assert kg.ratings.min() >= 4.0


def test_unknown_item_in_interactions_is_an_error(dataset: MovieDataset) -> None:
    bad = pd.concat([dataset.ratings, pd.DataFrame(
        {"user_id": ["1"], "item_id": ["999"], "rating": [3.0], "timestamp": [0]})])
    with pytest.raises(ValueError, match="'999'"):
        KnowledgeGraph.from_dataset(dataset, bad)


def test_triples_with_unknown_movie_are_an_error(dataset: MovieDataset) -> None:
    triples = pd.concat([dataset.triples, pd.DataFrame(
        {"head": ["movie:777"], "relation": ["has_genre"], "tail": ["genre:Drama"]})])
    broken = MovieDataset("broken", dataset.items, dataset.ratings, triples, {})
    with pytest.raises(ValueError, match="movie:777"):
        KnowledgeGraph.from_dataset(broken)


def test_train_split_graph_holds_no_test_interaction(dataset: MovieDataset) -> None:
    split = random_split(dataset.ratings, (0.6, 0.2, 0.2), seed=3)
    kg = KnowledgeGraph.from_dataset(dataset, split.train)
    rated = edge_set(kg, RATED)

    def pairs(df: pd.DataFrame) -> set[tuple[str, str]]:
        return {(f"user:{u}", f"movie:{m}") for u, m in zip(df["user_id"], df["item_id"])}

    assert rated == pairs(split.train)
    assert not rated & (pairs(split.test) | pairs(split.valid))
    assert len(split.test) > 0
    # the vocabulary is shared by every split
    assert kg.nodes == KnowledgeGraph.from_dataset(dataset).nodes


def test_stats_table(kg: KnowledgeGraph) -> None:
    stats = kg.stats()
    assert stats.nodes["movie"] == 24 and stats.edges[RATED] == 60
    table = stats.table()
    assert "user -rated-> movie" in table and "60" in table


def test_dataset_without_triples() -> None:
    ds = make_dataset()
    bare = MovieDataset("bare", ds.items, ds.ratings)
    kg = KnowledgeGraph.from_dataset(bare)
    assert list(kg.edges) == [RATED] and kg.node_types == ["user", "movie"]


# -- PyG view ------------------------------------------------------------------------------
def test_hetero_data_has_reverse_long_edges(kg: KnowledgeGraph, dataset: MovieDataset) -> None:
    import torch

    data = kg.to_hetero_data()
    distinct = dataset.triples.drop_duplicates()
    for kind, ids in kg.nodes.items():
        assert data[kind].num_nodes == len(ids)
    for (src, rel, dst), index in kg.edges.items():
        forward = data[src, rel, dst].edge_index
        backward = data[dst, f"rev_{rel}", src].edge_index
        assert forward.dtype == torch.long and backward.dtype == torch.long
        assert torch.equal(forward, torch.from_numpy(index))
        assert torch.equal(backward, forward.flip(0))
        expected = (len(dataset.ratings) if rel == "rated"
                    else int((distinct["relation"] == rel).sum()))
        assert forward.shape == (2, expected)
    assert len(data.edge_types) == 2 * len(kg.edges)
    assert data["user", "rated", "movie"].rating.shape == (len(dataset.ratings),)
    assert set(kg.to_hetero_data(reverse=False).edge_types) == set(kg.edges)


# -- artifacts -----------------------------------------------------------------------------
def assert_same_graph(a: KnowledgeGraph, b: KnowledgeGraph) -> None:
    assert a.nodes == b.nodes
    assert list(a.edges) == list(b.edges)
    for key in a.edges:
        assert np.array_equal(a.edges[key], b.edges[key]), key
    assert np.array_equal(a.ratings, b.ratings)
    on_nodes = lambda kg: {e: kg.labels[e] for ids in kg.nodes.values() for e in ids  # noqa: E731
                           if e in kg.labels}
    assert on_nodes(a) == on_nodes(b)


def test_artifacts_round_trip(kg: KnowledgeGraph, tmp_path) -> None:
    from safetensors.torch import load_file

    out = save_graph(kg, tmp_path / "g", meta={"dataset": "toy"})
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        "graph.ttl", "hetero_data.safetensors", "manifest.json", "nodes", "nodes/genre.parquet",
        "nodes/movie.parquet", "nodes/person.parquet", "nodes/user.parquet", "stats.json"]
    assert_same_graph(kg, load_graph(out))

    tensors = load_file(out / "hetero_data.safetensors")  # plain safetensors, no pickle
    assert set(tensors) == {"user__rated__movie", "movie__directed_by__person",
                            "movie__has_genre__genre", "movie__starring__person", "ratings"}
    assert all(t.dtype.is_floating_point is (k == "ratings") for k, t in tensors.items())
    assert str(tensors["movie__starring__person"].dtype) == "torch.int64"

    stats = json.loads((out / "stats.json").read_text())
    assert stats["nodes"] == kg.stats().nodes and stats["meta"] == {"dataset": "toy"}
    assert {(e["src"], e["relation"], e["dst"]): e["count"] for e in stats["edges"]} \
        == kg.stats().edges
    import pandas as pd

    people = pd.read_parquet(out / "nodes" / "person.parquet")  # a plain Parquet table
    assert list(people.columns) == ["entity_id", "label"]
    assert people.iloc[0].tolist() == ["person:Person 0", "Person 0"]
    assert people["entity_id"].iloc[-1] == "person:Person 9" and pd.isna(people["label"].iloc[-1])


def test_artifacts_round_trip_awkward_labels(tmp_path) -> None:
    nodes = {"user": ["user:a"], "movie": ["movie:1", "movie:2", "movie:3"],
             "tag": ['tag:"quoted"', "tag:tab\there"]}
    edges = {RATED: np.array([[0, 0], [0, 2]]), ("movie", "has_tag", "tag"): np.array([[1], [1]]),
             ("tag", "empty", "movie"): np.zeros((2, 0), dtype=np.int64)}
    labels = {"movie:1": 'He said "hi"\tthen\nleft', "movie:2": "", "tag:tab\there": "ünï\\code"}
    kg = KnowledgeGraph(nodes, edges, labels, np.array([4.5, 1.0]))
    assert_same_graph(kg, load_graph(save_graph(kg, tmp_path, turtle=False)))


def test_rebuild_removes_stale_files(kg: KnowledgeGraph, tmp_path) -> None:
    save_graph(kg, tmp_path)
    (tmp_path / "nodes" / "country.parquet").write_text("stale")
    save_graph(kg, tmp_path, turtle=False)
    assert not (tmp_path / "graph.ttl").exists()
    assert not (tmp_path / "nodes" / "country.parquet").exists()
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    assert "graph.ttl" not in json.loads((tmp_path / "stats.json").read_text())["files"]


def test_load_graph_errors_name_the_file(kg: KnowledgeGraph, tmp_path) -> None:
    with pytest.raises(ArtifactError, match="nothing: not found"):
        load_graph(tmp_path / "nothing")
    save_graph(kg, tmp_path, turtle=False)
    table = tmp_path / "nodes" / "genre.parquet"
    data = bytearray(table.read_bytes())
    data[len(data) // 2] ^= 0xFF
    table.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=r"genre\.parquet: content does not match"):
        load_graph(tmp_path)
    save_graph(kg, tmp_path, turtle=False)
    (tmp_path / "nodes" / "movie.parquet").unlink()
    with pytest.raises(ArtifactError, match=r"movie\.parquet: missing"):
        load_graph(tmp_path)


# -- real data -----------------------------------------------------------------------------
@pytest.mark.realdata
def test_hetrec_graph_counts(shared_datasets) -> None:
    """HetRec 2k (README figures): 10,197 movies, 4,060 directors, 20 genres, 20,809 genre
    assignments; the networkx view has exactly the graph's nodes and edges."""
    import warnings

    from kgrec.data import load_dataset

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the loader warns that ratings are absent
        ds = load_dataset("hetrec-2k", data_dir=shared_datasets)
    kg = KnowledgeGraph.from_dataset(ds)
    stats = kg.stats()
    assert stats.nodes["movie"] == 10197 and stats.nodes["genre"] == 20
    assert kg.num_nodes("person") == 4060
    assert stats.edges[("movie", "has_genre", "genre")] == 20809
    assert stats.edges[RATED] == len(ds.ratings.drop_duplicates(["user_id", "item_id"]))
    g = kg.to_networkx()
    assert g.number_of_nodes() == sum(stats.nodes.values())
    assert g.number_of_edges() == sum(stats.edges.values())
