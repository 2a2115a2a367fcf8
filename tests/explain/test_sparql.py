"""The SPARQL content-path query finds exactly the content paths of PathExplainer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kgrec.data import MovieDataset
from kgrec.explain import PathExplainer
from kgrec.explain.sparql import content_paths_sparql
from kgrec.graph import KnowledgeGraph


def python_content_paths(explainer: PathExplainer, user: str, item: str
                         ) -> set[tuple[str, str, str | None]]:
    return {(e.anchor, e.relation, e.shared)
            for e in explainer.explain(user, item, k=None) if e.kind == "content"}


def world(seed: int, n_movies: int = 25, n_users: int = 12) -> MovieDataset:
    """Seeded random dataset with movie → entity, entity → movie, movie → movie and
    entity → entity edges, labelled and unlabeled entities."""
    rng = np.random.default_rng(seed)
    items = pd.DataFrame({"item_id": [str(i) for i in range(n_movies)],
                          "title": [f"Film {i}" for i in range(n_movies)], "year": 2000,
                          "text": ""})
    triples = set()
    for m in range(n_movies):
        movie = f"movie:{m}"
        triples.add((movie, "directed_by", f"person:Director {rng.integers(8)}"))
        for p in rng.choice(10, 2, replace=False):
            triples.add((movie, "starring", f"person:m.0{p}"))
        triples.add((movie, "has_genre", f"genre:G{rng.integers(3)}"))
        if rng.random() < 0.4:
            triples.add((movie, "award_nomination", f"entity:m.aw{rng.integers(4)}"))
        if rng.random() < 0.3:
            triples.add((f"studio:S{rng.integers(3)}", "made", movie))
        if rng.random() < 0.15:
            triples.add((movie, "sequel", f"movie:{rng.integers(n_movies)}"))
    triples.add(("person:Director 0", "married", "person:Director 1"))
    triples = {t for t in triples if t[0] != t[2]}
    ratings = [(f"u{u}", str(m), float(rng.integers(1, 6)), 0)
               for u in range(n_users) for m in rng.choice(n_movies, 6, replace=False)]
    return MovieDataset("sparql", items,
                        pd.DataFrame(ratings,
                                     columns=["user_id", "item_id", "rating", "timestamp"]),
                        pd.DataFrame(sorted(triples), columns=["head", "relation", "tail"]),
                        labels={f"person:Director {i}": f"Director {i}" for i in range(8)})


def tiny() -> MovieDataset:
    items = pd.DataFrame({"item_id": ["1", "2", "3", "4"],
                          "title": ["Pulp Fiction", "Reservoir Dogs", "Heat", "Heat 2"],
                          "year": 1995, "text": ""})
    triples = [("movie:1", "directed_by", "person:Quentin Tarantino"),
               ("movie:2", "directed_by", "person:Quentin Tarantino"),
               ("movie:1", "has_genre", "genre:Crime"), ("movie:2", "has_genre", "genre:Crime"),
               ("movie:3", "has_genre", "genre:Crime"), ("movie:3", "sequel", "movie:4"),
               ("movie:3", "starring", "person:m.0abc"), ("movie:2", "starring", "person:m.0abc")]
    ratings = [("a", "1", 5), ("a", "3", 4), ("b", "2", 5), ("b", "4", 2)]
    return MovieDataset("tiny", items,
                        pd.DataFrame(ratings, columns=["user_id", "item_id", "rating"])
                        .assign(timestamp=0),
                        pd.DataFrame(triples, columns=["head", "relation", "tail"]))


def test_sparql_matches_python_on_a_small_graph():
    kg = KnowledgeGraph.from_dataset(tiny())
    rdf, explainer = kg.to_rdf(), PathExplainer(kg, liked=None)
    expected = {("movie:1", "directed_by", "person:Quentin Tarantino"),
                ("movie:1", "has_genre", "genre:Crime"), ("movie:3", "has_genre", "genre:Crime"),
                ("movie:3", "starring", "person:m.0abc")}
    assert content_paths_sparql(rdf, "user:a", "movie:2") == expected
    assert python_content_paths(explainer, "user:a", "movie:2") == expected
    # a direct sequel link: the shared entity is None
    assert content_paths_sparql(rdf, "user:a", "movie:4") == {("movie:3", "sequel", None)}
    for user in kg.nodes["user"]:
        for item in kg.nodes["movie"]:
            assert content_paths_sparql(rdf, user, item) == python_content_paths(
                explainer, user, item), (user, item)


@pytest.mark.parametrize("seed", [0, 1])
def test_sparql_matches_python_on_random_graphs(seed):
    kg = KnowledgeGraph.from_dataset(world(seed))
    rdf, explainer = kg.to_rdf(), PathExplainer(kg, liked=None)
    rng = np.random.default_rng(seed)
    nonempty = 0
    for u, i in zip(rng.integers(kg.num_users, size=25), rng.integers(kg.num_items, size=25)):
        user, item = kg.nodes["user"][u], kg.nodes["movie"][i]
        found = content_paths_sparql(rdf, user, item)
        assert found == python_content_paths(explainer, user, item), (user, item)
        nonempty += bool(found)
    assert nonempty > 5


def test_sparql_matches_python_on_the_bundled_sample():
    from kgrec.data import load_dataset

    try:
        data = load_dataset("sample")
    except Exception as exc:  # the sample ships with kgrec.data; skip if not installed yet
        pytest.skip(f"bundled sample not available: {exc}")
    kg = KnowledgeGraph.from_dataset(data)
    rdf, explainer = kg.to_rdf(), PathExplainer(kg, liked=None)
    rng = np.random.default_rng(0)
    users = rng.choice(kg.num_users, 4, replace=False)
    items = rng.choice(kg.num_items, 4, replace=False)
    sizes = []
    for u, i in zip(users, items):
        user, item = kg.nodes["user"][u], kg.nodes["movie"][i]
        found = content_paths_sparql(rdf, user, item)
        assert found == python_content_paths(explainer, user, item), (user, item)
        sizes.append(len(found))
    assert sum(sizes) > 0


def test_unknown_entities_are_named():
    rdf = KnowledgeGraph.from_dataset(tiny()).to_rdf()
    with pytest.raises(KeyError, match="user:nobody"):
        content_paths_sparql(rdf, "user:nobody", "movie:1")
    with pytest.raises(KeyError, match="movie:99"):
        content_paths_sparql(rdf, "user:a", "movie:99")
