"""PathExplainer.explain_from: explanations for a person who is not in the graph (stated
likes or a text query), starting at an anchor movie; every step a real edge."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from kgrec.data import MovieDataset
from kgrec.explain import Explanation, PathExplainer, PathStep, path_exists
from kgrec.graph import KnowledgeGraph

NUM_ITEMS = 11  # movies of the tiny world (tests/explain/conftest.py)


def random_world(seed: int, n_movies: int = 30, n_users: int = 20) -> MovieDataset:
    """Seeded random data with movie → entity, entity → movie, movie → movie and
    entity → entity edges."""
    rng = np.random.default_rng(seed)
    items = pd.DataFrame({"item_id": [str(i) for i in range(n_movies)],
                          "title": [f"Film {i}" for i in range(n_movies)], "year": 2000,
                          "text": ""})
    triples = set()
    for m in range(n_movies):
        triples.add((f"movie:{m}", "directed_by", f"person:P{rng.integers(10)}"))
        triples.add((f"movie:{m}", "starring", f"person:P{rng.integers(14)}"))
        triples.add((f"movie:{m}", "has_genre", f"genre:G{rng.integers(4)}"))
        if rng.random() < 0.2:
            triples.add((f"studio:S{rng.integers(3)}", "made", f"movie:{m}"))
        if rng.random() < 0.15:
            triples.add((f"movie:{m}", "sequel", f"movie:{rng.integers(n_movies)}"))
    triples.add(("person:P0", "married", "person:P1"))
    triples = {t for t in triples if t[0] != t[2]}
    ratings = [(f"u{u}", str(m), float(rng.integers(1, 6)), 0)
               for u in range(n_users) for m in rng.choice(n_movies, 6, replace=False)]
    return MovieDataset("random", items,
                        pd.DataFrame(ratings, columns=["user_id", "item_id", "rating",
                                                       "timestamp"]),
                        pd.DataFrame(sorted(triples), columns=["head", "relation", "tail"]))


@pytest.fixture(scope="module")
def kg(tiny_kg) -> KnowledgeGraph:
    return tiny_kg


@pytest.fixture(scope="module")
def explainer(kg) -> PathExplainer:
    return PathExplainer(kg, liked=None)


def rarity(degree: int) -> float:
    return math.log1p(NUM_ITEMS / degree) / math.log1p(NUM_ITEMS)


def test_shared_director_found_from_a_stated_like(explainer, kg):
    paths = explainer.explain_from(["1"], "2", k=None)
    [director] = [e for e in paths if e.relation == "directed_by"]
    assert director.kind == "content" and director.user == ""
    assert director.anchor == "movie:1" and director.shared == "person:Quentin Tarantino"
    # no user -> anchor step: the path starts at the anchor
    assert director.steps == (PathStep("movie:1", "directed_by", "person:Quentin Tarantino"),
                              PathStep("movie:2", "directed_by", "person:Quentin Tarantino",
                                       forward=False))
    assert director.nodes == ("movie:1", "person:Quentin Tarantino", "movie:2")
    assert director.hops == 2 and path_exists(kg, director)
    assert director.salience == pytest.approx(rarity(2))  # w = 1 for a stated like


def test_director_ranked_over_genre(explainer):
    content = [e for e in explainer.explain_from(["1"], "2", k=None) if e.kind == "content"]
    relations = [e.relation for e in content]
    assert relations.index("directed_by") < relations.index("has_genre")
    genre = content[relations.index("has_genre")]
    assert genre.salience == pytest.approx(rarity(5))  # five Crime films
    top = explainer.explain_from(["1"], "2", k=3)
    assert [e.salience for e in top] == sorted((e.salience for e in top), reverse=True)
    assert "has_genre" not in [e.relation for e in top if e.kind == "content"][:1]


def test_same_salience_as_a_user_who_gave_the_anchor_the_top_rating(explainer):
    # u4 rated only Toy Story, with the top rating (w = 1): content and kg paths agree
    # with a person who says they like Toy Story, minus the rated step
    for item in ("8", "9", "11"):
        known = [e for e in explainer.explain("u4", item, k=None) if e.kind != "collaborative"]
        stated = [e for e in explainer.explain_from(["7"], item, k=None)
                  if e.kind != "collaborative"]
        assert known and [e.steps[1:] for e in known] == [e.steps for e in stated]
        assert [e.salience for e in known] == pytest.approx([e.salience for e in stated])


def test_collaborative_two_step_path(explainer, kg):
    [collab] = [e for e in explainer.explain_from(["1"], "2", k=None)
                if e.kind == "collaborative"]
    # u2 and u5 rated Pulp Fiction and Reservoir Dogs; the path goes through u2
    assert collab.steps == (PathStep("user:u2", "rated", "movie:1", forward=False),
                            PathStep("user:u2", "rated", "movie:2"))
    assert collab.nodes == ("movie:1", "user:u2", "movie:2")
    assert collab.user == "" and collab.anchor == "movie:1" and collab.shared is None
    assert collab.support == 2 and collab.hops == 2
    # cosine of the rater sets {u1, u2, u5} and {u2, u5}; nobody to exclude
    assert collab.salience == pytest.approx(2 / math.sqrt(3 * 2))
    assert path_exists(kg, collab)
    assert collab.text == "Reservoir Dogs: people who liked Pulp Fiction also liked it (2 viewers)."
    # with k, one merged collaborative explanation naming the two best anchors
    merged = [e for e in explainer.explain_from(["1", "3"], "2") if e.kind == "collaborative"]
    assert len(merged) == 1 and merged[0].co_anchors == ("movie:3",)
    assert merged[0].text == ("Reservoir Dogs: people who liked Pulp Fiction and Heat also "
                              "liked it (2 viewers).")


def test_kg_path_when_no_short_one(explainer, kg):
    # Cars shares nothing with Toy Story and has no raters: Toy Story -sequel-> Toy Story 2
    # -directed_by-> John Lasseter <-directed_by- Cars
    [best] = explainer.explain_from(["7"], "11", k=1)
    assert best.kind == "kg" and best.hops == 3 and best.anchor == "movie:7"
    assert best.nodes == ("movie:7", "movie:8", "person:John Lasseter", "movie:11")
    assert best.salience == pytest.approx(0.5 * math.sqrt(rarity(2)))
    assert path_exists(kg, best)
    # max_hops - 1 edges from the anchor: 2 with max_hops=3, too short for Cars
    assert PathExplainer(kg, max_hops=3, liked=None).explain_from(["7"], "11") == []
    # a two-edge kg path: Pulp Fiction -directed_by-> Tarantino <-starring- Desperado
    [desperado] = explainer.explain_from(["1"], "6", k=1)
    assert desperado.kind == "kg" and desperado.hops == 2 and path_exists(kg, desperado)
    assert explainer.explain_from(["1"], "10") == []  # no path at all


def test_direct_link_is_a_one_step_path(explainer, kg):
    [link] = [e for e in explainer.explain_from(["7"], "8", k=None) if e.shared is None]
    assert link.steps == (PathStep("movie:7", "sequel", "movie:8"),)
    assert link.hops == 1 and path_exists(kg, link) and "1 hop," in repr(link)
    [back] = [e for e in explainer.explain_from(["8"], "7", k=None) if e.shared is None]
    assert back.steps == (PathStep("movie:7", "sequel", "movie:8", forward=False),)
    assert path_exists(kg, back)


def test_every_returned_path_exists(explainer, kg):
    rng = np.random.default_rng(0)
    for _ in range(40):
        anchors = rng.choice(kg.num_items, int(rng.integers(1, 4)), replace=False)
        for item in range(kg.num_items):
            for k in (None, 3):
                for e in explainer.explain_from(anchors, item, k):
                    assert path_exists(kg, e), e.steps
                    assert e.user == "" and kg.index(e.anchor) in anchors
    for seed in range(2):
        big = KnowledgeGraph.from_dataset(random_world(seed))
        ex = PathExplainer(big, max_hops=5, liked=None)
        kinds = set()
        for a in range(0, big.num_items, 3):
            anchors = [a, (a + 7) % big.num_items]
            for item in range(big.num_items):
                for e in ex.explain_from(anchors, item, k=None):
                    assert path_exists(big, e), e.steps
                    assert 0.0 <= e.salience <= 1.0 and e.hops <= 4
                    kinds.add(e.kind)
        assert kinds == {"content", "collaborative", "kg"}
        # single likes: some items are reachable only through longer kg paths
        single = [e for a in range(big.num_items) for item in range(big.num_items)
                  for e in ex.explain_from([a], item, k=None)]
        assert all(path_exists(big, e) for e in single)
        assert any(e.kind == "kg" and e.hops >= 3 for e in single)


def test_path_exists_checks_virtual_paths(explainer, kg):
    good = explainer.explain_from(["1"], "2", k=None)[0]
    assert path_exists(kg, good)
    no_anchor = Explanation("", good.item, good.kind, good.steps, None, good.shared, 0.5, "")
    assert not path_exists(kg, no_anchor)
    wrong_anchor = Explanation("", good.item, good.kind, good.steps, "movie:3", good.shared,
                               0.5, "")
    assert not path_exists(kg, wrong_anchor)
    # an invented user -> anchor step is not part of a virtual path
    invented = Explanation("", "movie:2", "content",
                           (PathStep("user:u1", "rated", "movie:1"),
                            PathStep("movie:1", "directed_by", "person:Quentin Tarantino"),
                            PathStep("movie:2", "directed_by", "person:Quentin Tarantino",
                                     False)),
                           "movie:1", "person:Quentin Tarantino", 0.5, "")
    assert not path_exists(kg, invented)
    fake_edge = Explanation("", "movie:2", "content",
                            (PathStep("movie:1", "starring", "person:Quentin Tarantino"),
                             PathStep("movie:2", "directed_by", "person:Quentin Tarantino",
                                      False)),
                            "movie:1", "person:Quentin Tarantino", 0.5, "")
    assert not path_exists(kg, fake_edge)


def test_item_in_anchors_gives_no_self_explanation(explainer):
    assert explainer.explain_from(["2"], "2", k=None) == []
    both = explainer.explain_from(["1", "2"], "2", k=None)
    assert both and all(e.anchor != "movie:2" for e in both)
    assert all(e.nodes[0] != "movie:2" for e in both)
    assert both == explainer.explain_from(["1"], "2", k=None)


def test_anchor_forms_agree_and_bad_ids_raise(explainer, kg):
    expected = explainer.explain_from(["movie:1"], "movie:2")
    assert explainer.explain_from([kg.index("movie:1")], kg.index("movie:2")) == expected
    assert explainer.explain_from(["1"], "2") == expected
    assert explainer.explain_from("1", "2") == expected  # a single id
    assert explainer.explain_from(np.array([0, 0]), 1) == expected  # duplicates ignored
    assert explainer.explain_from(iter(["1", "1"]), "2") == expected
    assert explainer.explain_from([], "2") == []
    with pytest.raises(KeyError, match="movie:nope"):
        explainer.explain_from(["1", "nope"], "2")
    with pytest.raises(KeyError, match=r"anchor 1 \('nope'\)"):
        explainer.explain_from(["1", "nope"], "2")
    with pytest.raises(KeyError, match="movie:nothing"):
        explainer.explain_from(["1"], "nothing")
    with pytest.raises(IndexError, match="99"):
        explainer.explain_from([99], "2")
    with pytest.raises(ValueError, match="person:Harvey Keitel"):
        explainer.explain_from(["person:Harvey Keitel"], "2")
    with pytest.raises(ValueError, match="k must be"):
        explainer.explain_from(["1"], "2", k=0)


def test_top_k_deduplicates_like_explain(explainer):
    top = explainer.explain_from(["1", "3"], "4", k=10)
    shared = [e.shared for e in top if e.shared is not None]
    assert len(shared) == len(set(shared))  # Crime named once, not once per anchor
    assert sum(e.kind == "collaborative" for e in top) <= 1
    assert len(explainer.explain_from(["1", "3"], "4", k=None)) > len(top)
    assert len(explainer.explain_from(["1", "3"], "4", k=1)) == 1


def test_similarity_scales_salience(kg):
    n = kg.num_items
    base = PathExplainer(kg, liked=None).explain_from(["1"], "2", k=None)
    zero = PathExplainer(kg, item_similarity=np.zeros((n, n)), liked=None).explain_from(["1"], "2", k=None)
    assert [e.salience / 2 for e in base] == pytest.approx([e.salience for e in zero])


def test_explain_is_unchanged_and_sentences_read_well(explainer):
    # the known-user form keeps its rated step and past tense
    known = [e for e in explainer.explain("u1", "2", k=None) if e.relation == "directed_by"]
    assert known[0].text == ("Reservoir Dogs: you liked Pulp Fiction, also directed by "
                             "Quentin Tarantino.")
    assert known[0].steps[0] == PathStep("user:u1", "rated", "movie:1")

    def texts(anchors, item):
        return {e.text for e in explainer.explain_from(anchors, item, k=None)}

    assert ("Reservoir Dogs: you like Pulp Fiction, also directed by Quentin Tarantino."
            in texts(["1"], "2"))
    assert ("Reservoir Dogs: you like Pulp Fiction, also starring Harvey Keitel."
            in texts(["1"], "2"))
    assert ("Reservoir Dogs: another Crime film like Pulp Fiction, which you like."
            in texts(["1"], "2"))
    assert "Casino: shares a cast member with Heat, which you like." in texts(["3"], "4")
    assert ("Goodfellas: shares an award nomination with Heat, which you like."
            in texts(["3"], "5"))
    assert "Toy Story 2: the sequel of Toy Story, which you like." in texts(["7"], "8")
    assert "Toy Story: you like Toy Story 2, its sequel." in texts(["8"], "7")
    assert texts(["1"], "6") == {"Desperado: you like Pulp Fiction, directed by Quentin "
                                 "Tarantino, who also stars in it."}
    assert texts(["7"], "11") == {"Cars: you like Toy Story, whose sequel is Toy Story 2, "
                                  "directed by John Lasseter, who also directed it."}
    for item in explainer.kg.item_ids:
        for sentence in texts(["1", "3", "7"], item):
            assert "m.0" not in sentence and "user:" not in sentence and "movie:" not in sentence
            assert sentence.endswith(".") and "None" not in sentence


def test_deterministic(kg):
    pairs = [(a, i) for a in range(kg.num_items) for i in range(kg.num_items)]
    first, second = PathExplainer(kg, liked=None), PathExplainer(kg, liked=None)
    a = [first.explain_from([x, (x + 2) % kg.num_items], i, None) for x, i in pairs]
    b = [second.explain_from([x, (x + 2) % kg.num_items], i, None) for x, i in pairs]
    assert a == b


def test_sample_dataset_pulp_fiction_to_reservoir_dogs():
    from kgrec.data import load_dataset

    ds = load_dataset("sample")
    kg = KnowledgeGraph.from_dataset(ds)
    ids = dict(zip(ds.items["title"], ds.items["item_id"]))
    pulp = kg.index(f"movie:{ids['Pulp Fiction']}")
    dogs = kg.index(f"movie:{ids['Reservoir Dogs']}")
    paths = PathExplainer(kg, liked=None).explain_from([pulp], dogs)
    assert paths and all(path_exists(kg, e) for e in paths)
    [director] = [e for e in paths if e.relation == "directed_by"]
    assert kg.labels.get(director.shared, director.shared).endswith("Quentin Tarantino")
    assert director.text == ("Reservoir Dogs: you like Pulp Fiction, also directed by "
                             "Quentin Tarantino.")
    assert paths[0] is director  # the rarest link ranks first
