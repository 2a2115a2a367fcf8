"""Node text: exact strings on a tiny graph, cold-start movie text, linear-time grouping."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from kgrec.data import MovieDataset
from kgrec.graph.knowledge_graph import KnowledgeGraph
from kgrec.text import movie_text, node_texts
from kgrec.text.node_text import is_opaque_key


def tiny_dataset() -> MovieDataset:
    items = pd.DataFrame({
        "item_id": ["1", "2", "3"],
        "title": ["Pulp Fiction", "Toy Story (1995)", "Mystery"],
        "year": [1994, 1995, None],
        "text": ["Crime stories intertwine in Los Angeles.", "", None],
    })
    ratings = pd.DataFrame({"user_id": ["7", "7", "8"], "item_id": ["1", "2", "3"],
                            "rating": [5.0, 4.0, 3.0], "timestamp": [1, 2, 3]})
    triples = pd.DataFrame([
        ("movie:1", "directed_by", "person:Quentin Tarantino"),
        # cast in billing order, which is not alphabetical
        ("movie:1", "starring", "person:John Travolta"),
        ("movie:1", "starring", "person:Uma Thurman"),
        ("movie:1", "starring", "person:Samuel L. Jackson"),
        ("movie:1", "has_genre", "genre:Crime"),
        ("movie:1", "has_genre", "genre:Drama"),
        ("movie:1", "from_country", "country:USA"),
        ("movie:2", "directed_by", "person:john_lasseter"),   # labelled below
        ("movie:2", "starring", "person:m.0bln8"),            # Freebase id, no label: skipped
        ("movie:2", "starring", "person:Tom Hanks"),
        ("movie:2", "has_genre", "genre:Animation"),
        ("movie:3", "has_tag", "tag:42"),
        ("movie:3", "has_tag", "tag:43"),
    ], columns=["head", "relation", "tail"])
    labels = {"person:john_lasseter": "John Lasseter", "tag:42": "nonlinear"}
    return MovieDataset("tiny", items, ratings, triples, labels=labels)


@pytest.fixture(scope="module")
def tiny():
    ds = tiny_dataset()
    kg = KnowledgeGraph.from_dataset(ds)
    return kg, ds, node_texts(kg, ds)


def by_entity(kg, texts, kind):
    return dict(zip(kg.nodes[kind], texts[kind]))


def test_every_node_type_has_one_text_per_node_in_index_order(tiny):
    kg, _, texts = tiny
    assert list(texts) == kg.node_types
    for kind in kg.node_types:
        assert len(texts[kind]) == kg.num_nodes(kind)
    assert texts["user"] == ["", ""]


def test_movie_texts(tiny):
    kg, _, texts = tiny
    movies = by_entity(kg, texts, "movie")
    assert movies["movie:1"] == (
        "Pulp Fiction (1994). Genres: Crime, Drama. Directed by Quentin Tarantino. "
        "Starring John Travolta, Uma Thurman, Samuel L. Jackson. "
        "Crime stories intertwine in Los Angeles.")
    # year already in the title is not repeated; the Freebase-id actor is skipped;
    # the labelled director is named by label, not key
    assert movies["movie:2"] == ("Toy Story (1995). Genres: Animation. Directed by John Lasseter. "
                                 "Starring Tom Hanks.")
    assert movies["movie:3"] == "Mystery."  # no year, no side information, no description


def test_person_genre_and_other_texts(tiny):
    kg, _, texts = tiny
    people = by_entity(kg, texts, "person")
    assert people["person:Quentin Tarantino"] == "Quentin Tarantino. Director of Pulp Fiction."
    assert people["person:Uma Thurman"] == "Uma Thurman. Actor in Pulp Fiction."
    assert people["person:john_lasseter"] == "John Lasseter. Director of Toy Story (1995)."
    assert people["person:m.0bln8"] == "Actor in Toy Story (1995)."  # no name to give
    assert by_entity(kg, texts, "genre") == {"genre:Animation": "Animation films",
                                             "genre:Crime": "Crime films",
                                             "genre:Drama": "Drama films"}
    assert by_entity(kg, texts, "country") == {"country:USA": "USA"}
    assert by_entity(kg, texts, "tag") == {"tag:42": "nonlinear", "tag:43": "43"}  # label, else key


def test_person_titles_capped():
    n = 8
    items = pd.DataFrame({"item_id": [str(i) for i in range(n)],
                          "title": [f"Film {i}" for i in range(n)], "year": [2000] * n,
                          "text": [""] * n})
    ratings = pd.DataFrame({"user_id": ["u"], "item_id": ["0"], "rating": [1.0], "timestamp": [0]})
    triples = pd.DataFrame({"head": [f"movie:{i}" for i in range(n)],
                            "relation": ["directed_by"] * n, "tail": ["person:Ann Lee"] * n})
    ds = MovieDataset("caps", items, ratings, triples)
    kg = KnowledgeGraph.from_dataset(ds)
    texts = node_texts(kg, ds, max_titles=3)
    assert texts["person"] == ["Ann Lee. Director of Film 0, Film 1, Film 2."]
    assert texts["movie"][5] == "Film 5 (2000). Directed by Ann Lee."


def test_movie_text_for_cold_start_movies():
    assert movie_text("Heat", 1995, ["Action", "Crime"], ["Michael Mann"],
                      ["Al Pacino", "Robert De Niro"], "A heist.") == (
        "Heat (1995). Genres: Action, Crime. Directed by Michael Mann. "
        "Starring Al Pacino, Robert De Niro. A heist.")
    assert movie_text("Heat") == "Heat."
    assert movie_text("Heat", pd.NA, description="  ") == "Heat."
    assert movie_text("Heat (1995)", 1995) == "Heat (1995)."
    cast = [f"Actor {i}" for i in range(9)]
    assert movie_text("X", actors=cast, max_cast=2) == "X. Starring Actor 0, Actor 1."
    assert movie_text("X", genres=["Drama", "Drama", " "]) == "X. Genres: Drama."


def test_graph_text_equals_cold_start_text(tiny):
    kg, _, texts = tiny
    assert by_entity(kg, texts, "movie")["movie:1"] == movie_text(
        "Pulp Fiction", 1994, ["Crime", "Drama"], ["Quentin Tarantino"],
        ["John Travolta", "Uma Thurman", "Samuel L. Jackson"],
        "Crime stories intertwine in Los Angeles.")


def test_opaque_keys():
    for key in ("m.0bln8", "/m/0bln8", "g.11b6vw", "Q42", "42"):
        assert is_opaque_key(key), key
    for key in ("Quentin Tarantino", "john_lasseter", "Crime", "USA", "m.night"):
        assert not is_opaque_key(key), key


def test_hetrec_sized_graph_is_fast():
    """10k movies, 200k cast edges, ~90k people: grouping is vectorised (no O(N^2))."""
    rng = np.random.default_rng(0)
    n = 10_000
    items = pd.DataFrame({"item_id": np.arange(n).astype(str),
                          "title": [f"Movie {i}" for i in range(n)],
                          "year": rng.integers(1950, 2010, n), "text": [""] * n})
    ratings = pd.DataFrame({"user_id": ["u"] * 10, "item_id": np.arange(10).astype(str),
                            "rating": 4.0, "timestamp": 0})
    movies = np.repeat(np.arange(n), 20)
    triples = pd.concat([
        pd.DataFrame({"head": [f"movie:{i}" for i in movies], "relation": "starring",
                      "tail": [f"person:actor {j}" for j in rng.integers(0, 95_000, len(movies))]}),
        pd.DataFrame({"head": [f"movie:{i}" for i in range(n)], "relation": "directed_by",
                      "tail": [f"person:director {j}" for j in rng.integers(0, 4_000, n)]}),
        pd.DataFrame({"head": [f"movie:{i}" for i in movies[::10]], "relation": "has_genre",
                      "tail": [f"genre:G{j}" for j in rng.integers(0, 20, len(movies[::10]))]}),
    ], ignore_index=True)
    ds = MovieDataset("big", items, ratings, triples)
    kg = KnowledgeGraph.from_dataset(ds)
    start = time.perf_counter()
    texts = node_texts(kg, ds)
    elapsed = time.perf_counter() - start
    assert len(texts["movie"]) == n and len(texts["person"]) == kg.num_nodes("person")
    first_cast = triples[(triples["head"] == "movie:0") & (triples["relation"] == "starring")]
    expected = ", ".join(first_cast["tail"].drop_duplicates().str.slice(len("person:")).head(5))
    assert f"Starring {expected}." in texts["movie"][0]
    assert elapsed < 10.0, f"node_texts took {elapsed:.1f}s on 10k movies"
