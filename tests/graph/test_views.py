"""networkx view: nodes, attributes and edges mirror the KnowledgeGraph exactly."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from kgrec.data import MovieDataset
from kgrec.graph import RATED, KnowledgeGraph
from kgrec.graph.views import to_networkx


@pytest.fixture(scope="module")
def dataset() -> MovieDataset:
    """Seeded toy data: directors, actors (a person may do both), genres, a country."""
    rng = np.random.default_rng(1)
    items = pd.DataFrame({"item_id": [str(i) for i in range(1, 16)],
                          "title": [f"Film {i}" for i in range(1, 16)], "year": 2000, "text": ""})
    people = [f"person:P{j}" for j in range(6)]
    rows = [("movie:1", "from_country", "country:USA")]
    for i in range(1, 16):
        rows.append((f"movie:{i}", "directed_by", people[int(rng.integers(0, 3))]))
        rows += [(f"movie:{i}", "starring", p) for p in rng.choice(people, 2, replace=False)]
        rows.append((f"movie:{i}", "has_genre", f"genre:G{int(rng.integers(0, 3))}"))
    triples = pd.DataFrame(rows, columns=["head", "relation", "tail"])
    ratings = pd.DataFrame([(str(u), str(m), float(u % 5 + 1), 0) for u in range(8)
                            for m in rng.choice(np.arange(1, 16), 4, replace=False)],
                           columns=["user_id", "item_id", "rating", "timestamp"])
    labels = {p: p.partition(":")[2].lower() for p in people[:4]}
    return MovieDataset("views", items, ratings, triples, labels)


@pytest.fixture(scope="module")
def kg(dataset: MovieDataset) -> KnowledgeGraph:
    return KnowledgeGraph.from_dataset(dataset)


def test_node_and_edge_counts(kg: KnowledgeGraph) -> None:
    g = kg.to_networkx()
    stats = kg.stats()
    assert g.number_of_nodes() == sum(stats.nodes.values())
    assert g.number_of_edges() == sum(stats.edges.values())
    assert Counter(t for _, t in g.nodes(data="type")) == Counter(stats.nodes)
    assert Counter(r for *_, r in g.edges(data="relation")) == Counter(
        {rel: n for (_, rel, _), n in stats.edges.items()})
    assert g.graph["edge_types"] == list(kg.edges)


def test_node_attributes(kg: KnowledgeGraph, dataset: MovieDataset) -> None:
    g = to_networkx(kg)
    for kind, ids in kg.nodes.items():
        for e in ids:
            assert g.nodes[e] == {"type": kind, "label": dataset.labels.get(e)}
    assert g.nodes["person:P0"]["label"] == "p0"
    assert g.nodes["person:P5"]["label"] is None
    assert g.nodes["movie:3"]["label"] == "Film 3"


def test_edges_equal_triples_and_ratings(kg: KnowledgeGraph, dataset: MovieDataset) -> None:
    g = to_networkx(kg)
    side = {(u, d["relation"], v) for u, v, d in g.edges(data=True) if d["relation"] != "rated"}
    assert side == set(dataset.triples.itertuples(index=False, name=None))
    rated = {(u, v): d["rating"] for u, v, d in g.edges(data=True) if d["relation"] == "rated"}
    assert rated == {(f"user:{u}", f"movie:{m}"): r for u, m, r in
                     zip(dataset.ratings["user_id"], dataset.ratings["item_id"],
                         dataset.ratings["rating"])}
    assert all("rating" not in d for *_, d in g.edges(data=True) if d["relation"] != "rated")
    # keys are relation names: one edge per (head, relation, tail)
    assert g.has_edge("movie:1", "country:USA", key="from_country")


def test_paths_follow_graph_direction(kg: KnowledgeGraph) -> None:
    g = to_networkx(kg)
    user = kg.entity("user", 0)
    for movie in g.successors(user):
        assert g.nodes[movie]["type"] == "movie"
        people = [v for _, v, r in g.out_edges(movie, data="relation") if r == "directed_by"]
        assert len(people) == 1 and g.nodes[people[0]]["type"] == "person"
    assert g.in_degree(user) == 0


def test_empty_edge_types_and_isolated_nodes() -> None:
    kg = KnowledgeGraph({"user": ["user:1"], "movie": ["movie:1", "movie:2"]},
                        {RATED: np.zeros((2, 0), dtype=np.int64)})
    g = to_networkx(kg)
    assert g.number_of_nodes() == 3 and g.number_of_edges() == 0
