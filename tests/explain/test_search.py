"""PathExplainer: content, collaborative and longer KG paths; ranking; no invented or
leaked edges."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from kgrec.data import MovieDataset, random_split
from kgrec.explain import Explanation, PathExplainer, PathStep, path_exists
from kgrec.graph import KnowledgeGraph

def random_world(seed: int = 0, n_movies: int = 40, n_users: int = 25) -> MovieDataset:
    """A seeded random dataset with every kind of edge: movie → person/genre/entity,
    entity → movie (``made``), movie → movie (``sequel``), entity → entity (``married``)."""
    rng = np.random.default_rng(seed)
    items = pd.DataFrame({"item_id": [str(i) for i in range(n_movies)],
                          "title": [f"Film {i}" for i in range(n_movies)], "year": 2000,
                          "text": ""})
    triples = set()
    for m in range(n_movies):
        movie = f"movie:{m}"
        triples.add((movie, "directed_by", f"person:P{rng.integers(12)}"))
        for p in rng.choice(15, 2, replace=False):
            triples.add((movie, "starring", f"person:P{p}"))
        triples.add((movie, "has_genre", f"genre:G{rng.integers(4)}"))
        if rng.random() < 0.3:
            triples.add((movie, "award_nomination", f"entity:m.{rng.integers(6)}"))
        if rng.random() < 0.2:
            triples.add((f"studio:S{rng.integers(3)}", "made", movie))
        if rng.random() < 0.1:
            triples.add((movie, "sequel", f"movie:{rng.integers(n_movies)}"))
    triples.add(("person:P0", "married", "person:P1"))
    triples = {t for t in triples if t[0] != t[2]}
    ratings = []
    for u in range(n_users):
        for m in rng.choice(n_movies, 8, replace=False):
            ratings.append((f"u{u}", str(m), float(rng.integers(1, 6)), int(rng.integers(10**6))))
    return MovieDataset("random", items,
                        pd.DataFrame(ratings,
                                     columns=["user_id", "item_id", "rating", "timestamp"]),
                        pd.DataFrame(sorted(triples), columns=["head", "relation", "tail"]))


@pytest.fixture(scope="module")
def kg(tiny_kg) -> KnowledgeGraph:
    return tiny_kg


@pytest.fixture(scope="module")
def explainer(kg) -> PathExplainer:
    return PathExplainer(kg, liked=None)


def rarity(degree: int, num_items: int = 11) -> float:
    return math.log1p(num_items / degree) / math.log1p(num_items)


def test_shared_director_found_and_ranked_above_shared_genre(explainer, kg):
    paths = explainer.explain("u1", "2", k=None)
    content = [e for e in paths if e.kind == "content"]
    relations = [e.relation for e in content]
    assert relations.index("directed_by") < relations.index("has_genre")
    director = content[relations.index("directed_by")]
    assert director.anchor == "movie:1" and director.shared == "person:Quentin Tarantino"
    assert director.steps == (PathStep("user:u1", "rated", "movie:1"),
                              PathStep("movie:1", "directed_by", "person:Quentin Tarantino"),
                              PathStep("movie:2", "directed_by", "person:Quentin Tarantino",
                                       forward=False))
    assert director.hops == 3 and path_exists(kg, director)
    # salience = w(5) * rarity; ratings span 2..5, so w(5) = 1 and w(4) = 0.75
    assert director.salience == pytest.approx(rarity(2))
    genre = [e for e in content if e.relation == "has_genre" and e.anchor == "movie:3"][0]
    assert genre.salience == pytest.approx(0.75 * rarity(5))
    top = explainer.explain("u1", "2", k=3)
    assert top[0].kind == "collaborative" or top[0].relation == "directed_by"
    assert [e.salience for e in top] == sorted((e.salience for e in top), reverse=True)


def test_collaborative_path_summarised_per_anchor(explainer, kg):
    paths = [e for e in explainer.explain("u1", "2", k=None) if e.kind == "collaborative"]
    by_anchor = {e.anchor: e for e in paths}
    assert set(by_anchor) == {"movie:1", "movie:3"}
    via_pulp = by_anchor["movie:1"]
    assert via_pulp.support == 2  # u2 and u5 rated both Pulp Fiction and Reservoir Dogs
    # the concrete path goes through the co-rater with the smallest index (u2)
    assert via_pulp.steps[1] == PathStep("user:u2", "rated", "movie:1", forward=False)
    assert via_pulp.steps[2] == PathStep("user:u2", "rated", "movie:2")
    assert via_pulp.salience == pytest.approx(2 / math.sqrt(3 * 2))  # cosine of rater sets
    assert all(path_exists(kg, e) for e in paths)
    merged = [e for e in explainer.explain("u1", "2", k=3) if e.kind == "collaborative"]
    assert len(merged) == 1
    assert merged[0].co_anchors == ("movie:3",) and merged[0].support == 2
    assert "people who liked Pulp Fiction and Heat also liked it (2 viewers)" in merged[0].text


def test_mixed_relation_path_when_no_content_or_collaborative_path(explainer, kg):
    paths = explainer.explain("u1", "6")
    assert len(paths) >= 1
    best = paths[0]
    assert best.kind == "kg" and best.hops == 3 and best.anchor == "movie:1"
    assert [s.relation for s in best.steps] == ["rated", "directed_by", "starring"]
    assert path_exists(kg, best)


def test_four_hop_path_found_when_no_short_one_exists(explainer, kg):
    # u4 rated only Toy Story; Cars shares nothing with it and has no raters
    paths = explainer.explain("u4", "11")
    assert paths and paths[0].kind == "kg" and paths[0].hops == 4
    assert [str(n) for n in paths[0].nodes] == ["user:u4", "movie:7", "movie:8",
                                                "person:John Lasseter", "movie:11"]
    assert all(path_exists(kg, e) for e in paths)
    assert PathExplainer(kg, max_hops=3, liked=None).explain("u4", "11") == []
    assert PathExplainer(kg, node_budget=2, liked=None).explain("u4", "11") == []  # search budget
    # the discount halves the salience per hop beyond 3: w=1, rarities 1 (movie) and
    # rarity(2) (Lasseter directs two movies), geometric mean
    assert paths[0].salience == pytest.approx(0.5 * math.sqrt(rarity(2)))


def test_direct_link_is_a_two_hop_content_path(explainer, kg):
    [link] = [e for e in explainer.explain("u4", "8", k=None) if e.shared is None]
    assert link.kind == "content" and link.hops == 2 and link.relation == "sequel"
    assert link.steps[1] == PathStep("movie:7", "sequel", "movie:8")
    [back] = [e for e in explainer.explain("u6", "7", k=None) if e.shared is None]
    assert back.steps[1] == PathStep("movie:7", "sequel", "movie:8", forward=False)
    assert path_exists(kg, link) and path_exists(kg, back)


def test_no_path_gives_empty_list(explainer):
    assert explainer.explain("u1", "10") == []


def test_top_k_keeps_one_explanation_per_shared_entity(explainer):
    top = explainer.explain("u2", "4", k=10)  # Heat and Pulp Fiction are both Crime
    shared = [e.shared for e in top if e.shared is not None]
    assert len(shared) == len(set(shared))
    assert sum(e.kind == "collaborative" for e in top) <= 1
    every = explainer.explain("u2", "4", k=None)
    assert len(every) >= len(top)


def test_ids_indices_and_bare_ids_agree(explainer, kg):
    u, i = kg.index("user:u1"), kg.index("movie:2")
    expected = explainer.explain("user:u1", "movie:2")
    assert explainer.explain(u, i) == expected
    assert explainer.explain("u1", "2") == expected
    assert explainer.explain_many([("u1", "2"), ("u4", "11")]) == [
        expected, explainer.explain("u4", "11")]
    with pytest.raises(KeyError, match="user:nobody"):
        explainer.explain("nobody", "2")
    with pytest.raises(ValueError, match="not a movie"):
        explainer.explain("u1", "person:Harvey Keitel")
    with pytest.raises(IndexError):
        explainer.explain(99, 0)


def test_exclude_items_drops_anchors(explainer):
    assert any(e.anchor == "movie:1" for e in explainer.explain("u1", "2", k=None))
    rest = explainer.explain("u1", "2", k=None, exclude_items=["movie:1"])
    assert rest and all(e.anchor != "movie:1" for e in rest)
    assert explainer.explain("u1", "2", k=None, exclude_items=[0, 2]) == []


def test_anchor_rated_below_the_users_mean_is_never_liked(kg):
    """u3 rated Heat 5, Casino 4, Goodfellas 2 (mean 3.67): Goodfellas never anchors an
    explanation ("you liked Goodfellas" would be false), by default."""
    default = PathExplainer(kg)
    assert default.explain("u3", "1", k=None)
    assert all(e.anchor != "movie:5" for e in default.explain("u3", "1", k=None))
    assert any(e.anchor == "movie:5"
               for e in PathExplainer(kg, liked=None).explain("u3", "1", k=None))
    strict = PathExplainer(kg, liked=4.5)  # a fixed threshold: only Heat (5)
    assert {e.anchor for e in strict.explain("u3", "1", k=None)} == {"movie:3"}


def test_similarity_scales_salience(kg):
    n = kg.num_items
    base = PathExplainer(kg, liked=None).explain("u1", "2", k=None)
    zero = PathExplainer(kg, item_similarity=np.zeros((n, n)), liked=None).explain("u1", "2", k=None)
    one = PathExplainer(kg, item_similarity=lambda a, t: 1.0, liked=None).explain("u1", "2", k=None)
    key = {(e.kind, e.anchor, e.shared): e.salience for e in base}
    for e in zero:
        assert e.salience == pytest.approx(0.5 * key[(e.kind, e.anchor, e.shared)])
    for e in one:
        assert e.salience == pytest.approx(key[(e.kind, e.anchor, e.shared)])
    emb = np.eye(n, 3)  # [I, d] embeddings: cosine
    assert PathExplainer(kg, item_similarity=emb, liked=None).explain("u1", "2")
    with pytest.raises(ValueError, match="item_similarity"):
        PathExplainer(kg, item_similarity=np.zeros((3, 3)))


def test_deterministic(kg):
    a = PathExplainer(kg, liked=None).explain_many([(u, i) for u in range(kg.num_users)
                                        for i in range(kg.num_items)], k=None)
    b = PathExplainer(kg, liked=None).explain_many([(u, i) for u in range(kg.num_users)
                                        for i in range(kg.num_items)], k=None)
    assert a == b


def test_every_returned_path_exists_on_random_graphs():
    for seed in range(2):
        kg = KnowledgeGraph.from_dataset(random_world(seed))
        explainer = PathExplainer(kg, max_hops=5, liked=None)
        kinds = set()
        for u in range(kg.num_users):
            for i in range(kg.num_items):
                for k in (None, 3):
                    for e in explainer.explain(u, i, k):
                        assert path_exists(kg, e), e.steps
                        assert 0.0 <= e.salience <= 1.0
                        assert e.hops <= 5
                        kinds.add(e.kind)
        assert kinds == {"content", "collaborative"}
        # without rated edges between users, only content and kg paths remain
        lonely = PathExplainer(kg, liked=None)
        found_kg = 0
        rng = np.random.default_rng(seed)
        for u, i in zip(rng.integers(kg.num_users, size=200), rng.integers(kg.num_items, size=200)):
            history = {e.anchor for e in lonely.explain(int(u), int(i), k=None)}
            excluded = [a for a in history if a is not None]
            for e in lonely.explain(int(u), int(i), k=None, exclude_items=excluded):
                assert path_exists(kg, e) and e.anchor not in excluded
                found_kg += e.kind == "kg"
        assert found_kg > 0


def test_path_exists_rejects_invented_paths(explainer, kg):
    real = explainer.explain("u1", "2")[0]
    assert path_exists(kg, real)

    def with_steps(*steps: PathStep) -> Explanation:
        return Explanation("user:u1", "movie:2", "content", tuple(steps), "movie:1",
                           None, 0.5, "")

    good = (PathStep("user:u1", "rated", "movie:1"),
            PathStep("movie:1", "directed_by", "person:Quentin Tarantino"),
            PathStep("movie:2", "directed_by", "person:Quentin Tarantino", False))
    assert path_exists(kg, with_steps(*good))
    assert not path_exists(kg, with_steps())
    assert not path_exists(kg, with_steps(good[0], good[1],
                                          PathStep("movie:2", "starring",
                                                   "person:Quentin Tarantino", False)))
    assert not path_exists(kg, with_steps(PathStep("user:u1", "rated", "movie:2"), *good[1:]))
    assert not path_exists(kg, with_steps(good[0], good[2], good[1]))  # chain broken
    assert not path_exists(kg, with_steps(PathStep("user:u3", "rated", "movie:3"), *good[1:]))
    assert not path_exists(kg, with_steps(*good[:2], PathStep("movie:2", "directed_by",
                                                                "person:Nobody", False)))


def test_no_test_interaction_appears_in_explanations():
    data = random_world(7, n_movies=30, n_users=30)
    split = random_split(data.ratings, (0.6, 0.2, 0.2), seed=3)
    kg = KnowledgeGraph.from_dataset(data, split.train)
    explainer = PathExplainer(kg, liked=None)
    train = set(zip("user:" + split.train["user_id"], "movie:" + split.train["item_id"]))
    held_out = set(zip("user:" + split.test["user_id"], "movie:" + split.test["item_id"]))
    held_out |= set(zip("user:" + split.valid["user_id"], "movie:" + split.valid["item_id"]))
    assert held_out and not held_out & train
    used = set()
    for user, item in sorted(held_out):  # explain exactly the held-out pairs
        for e in explainer.explain(user, item, k=None):
            for s in e.steps:
                if s.relation == "rated":
                    used.add((s.head, s.tail))
    assert used and used <= train and not used & held_out


def test_explanation_repr_and_properties(explainer):
    e = explainer.explain("u1", "2", k=None)[0]
    assert repr(e).startswith(e.text) and "salience" in repr(e)
    assert str(e) == e.text
    assert e.nodes[0] == "user:u1" and e.nodes[-1] == "movie:2"
    back = e.steps[1]  # the co-rater's edge, walked backwards
    assert not back.forward and repr(back) == "movie:1 <-rated- user:u2"
    assert repr(e.steps[0]) == "user:u1 -rated-> movie:1"
    assert e.path_type in ("collaborative", f"content:{e.relation}")
    with pytest.raises(ValueError, match="max_hops"):
        PathExplainer(explainer.kg, max_hops=2)


# -- honesty rules: strong before weak, the model's anchor, one film never explains itself
def _world(triples, ratings, titles, years=None) -> MovieDataset:
    items = pd.DataFrame({"item_id": list(titles), "title": list(titles.values()),
                          "year": [(years or {}).get(i, 1995) for i in titles], "text": ""})
    return MovieDataset(
        "rules", items,
        pd.DataFrame(ratings, columns=["user_id", "item_id", "rating"]).assign(timestamp=0),
        pd.DataFrame(triples, columns=["head", "relation", "tail"]),
        labels={"person:QT": "Quentin Tarantino", "genre:Crime": "Crime",
                "country:FR": "France"})


def test_weak_relation_never_beats_an_available_strong_one():
    """Film 2 shares a rare award nomination and country with 1 (salience 1 each) and only
    the common genre Crime with 3: the top explanation is the genre, a strong relation."""
    titles = {str(i): f"Film {i}" for i in range(1, 9)}
    triples = [("movie:1", "award_nomination", "entity:m.aw"),
               ("movie:2", "award_nomination", "entity:m.aw"),
               ("movie:1", "from_country", "country:FR"), ("movie:2", "from_country", "country:FR")]
    triples += [(f"movie:{m}", "has_genre", "genre:Crime") for m in range(2, 9)]
    ratings = [("u1", "1", 5), ("u1", "3", 5)]
    kg = KnowledgeGraph.from_dataset(_world(triples, ratings, titles))
    explainer = PathExplainer(kg)
    everything = explainer.explain("u1", "2", k=None)
    weak = [e for e in everything if e.relation in ("award_nomination", "from_country")]
    strong = [e for e in everything if e.relation == "has_genre"]
    assert weak and strong and max(e.salience for e in weak) > max(e.salience for e in strong)
    for k in (None, 1, 3):
        top = explainer.explain("u1", "2", k=k)[0]
        assert top.strong and top.relation == "has_genre" and top.anchor == "movie:3"
    # with no strong path at all, the weak one is given (it is still true)
    only_weak = KnowledgeGraph.from_dataset(_world(triples[:4], ratings, titles))
    [top, *_] = PathExplainer(only_weak).explain("u1", "2")
    assert not top.strong and top.anchor == "movie:1"


def test_top_anchor_is_the_one_the_model_depends_on():
    """Films 2, 3, 4 all share the director with 1; an effect function saying the score
    of 1 depends most on film 4 makes 4 the top anchor."""
    titles = {str(i): f"Film {i}" for i in range(1, 6)}
    triples = [(f"movie:{m}", "directed_by", "person:QT") for m in range(1, 5)]
    ratings = [("u1", "2", 5), ("u1", "3", 5), ("u1", "4", 5), ("u1", "5", 5)]
    kg = KnowledgeGraph.from_dataset(_world(triples, ratings, titles))
    calls = []

    def effect(user, history):
        calls.append(user)
        out = np.zeros((len(history), kg.num_items))
        out[list(history).index(kg.index("movie:4")), kg.index("movie:1")] = 0.3
        out[list(history).index(kg.index("movie:5")), kg.index("movie:1")] = 0.9  # no path
        return out

    plain = PathExplainer(kg).explain("u1", "1")
    assert plain[0].anchor == "movie:2"  # equal salience: the smallest index
    chosen = PathExplainer(kg, anchor_effect=effect)
    top = chosen.explain("u1", "1")[0]
    assert top.anchor == "movie:4" and top.relation == "directed_by"
    chosen.explain("u1", "1")
    assert calls == [kg.index("user:u1")]  # computed once per user
    with pytest.raises(ValueError, match="anchor_effect returned shape"):
        PathExplainer(kg, anchor_effect=lambda u, h: np.zeros((1, 1))).explain("u1", "1")


def test_a_film_listed_twice_never_explains_itself_and_titles_are_unambiguous():
    """Items 1 and 2 are one film (same title and year, as ML-100K's two Chasing Amy
    entries); items 3 and 4 share a title but not a year (Sabrina 1954 / 1995)."""
    titles = {"1": "Chasing Amy", "2": "Chasing Amy", "3": "Sabrina", "4": "Sabrina",
              "5": "Clerks"}
    years = {"1": 1997, "2": 1997, "3": 1954, "4": 1995, "5": 1994}
    triples = [(f"movie:{m}", "directed_by", "person:QT") for m in (1, 2, 5)]
    triples += [(f"movie:{m}", "has_genre", "genre:Crime") for m in (1, 2, 3, 4)]
    ratings = [("u1", "1", 5), ("u1", "3", 5), ("u2", "1", 4), ("u2", "2", 4), ("u2", "4", 4)]
    data = _world(triples, ratings, titles, years)
    kg = KnowledgeGraph.from_dataset(data)
    explainer = PathExplainer(kg, movies=data.items)
    for e in explainer.explain("u1", "2", k=None):
        assert e.anchor != "movie:1"
    assert all(e.anchor != "movie:2" for e in explainer.explain("u2", "1", k=None))
    texts = [e.text for e in explainer.explain("u1", "4", k=None)]
    assert texts and all("Sabrina (1995)" in t for t in texts)
    assert any("Sabrina (1954)" in t for t in texts)
    assert explainer.titles["movie:1"] == "Chasing Amy" == explainer.titles["movie:2"]
    assert explainer.titles["movie:5"] == "Clerks"
    # without the items table: ids tell the titles apart, nothing is merged
    bare = PathExplainer(kg)
    assert bare.titles["movie:3"] == "Sabrina [item 3]"
    assert any(e.anchor == "movie:1" for e in bare.explain("u1", "2", k=None))


def test_named_entity_before_unnamed_within_a_tier():
    """Film 2 shares an unnamed Freebase director (one film each: rarest) with 1 and a
    named director of three films with 3: the named one is shown first."""
    titles = {str(i): f"Film {i}" for i in range(1, 7)}
    triples = [("movie:1", "directed_by", "person:m.0x"), ("movie:2", "directed_by", "person:m.0x"),
               ("movie:2", "written_by", "person:QT"), ("movie:3", "written_by", "person:QT"),
               ("movie:4", "written_by", "person:QT")]
    ratings = [("u1", "1", 5), ("u1", "3", 5)]
    kg = KnowledgeGraph.from_dataset(_world(triples, ratings, titles))
    paths = PathExplainer(kg).explain("u1", "2", k=None)
    unnamed = next(e for e in paths if e.shared == "person:m.0x")
    named = next(e for e in paths if e.shared == "person:QT")
    assert unnamed.salience > named.salience
    assert paths[0] is named or paths[0] == named
    assert "Quentin Tarantino" in paths[0].text


def test_concurrent_users_keep_their_own_cached_effects(tiny_kg):
    """Two threads explaining two users in turn (a server's thread pool) each compute their
    user's anchor effect once: neither evicts the other's cached history and effects."""
    import threading

    calls: list[int] = []

    def effect(u, history):
        calls.append(u)
        return np.ones((len(history), tiny_kg.num_items))

    explainer = PathExplainer(tiny_kg, liked=None, anchor_effect=effect)
    turns = [threading.Event() for _ in range(4)]
    results: dict[str, list] = {}

    def run(user, items, mine, theirs):
        out = []
        for step, item in enumerate(items):
            turns[mine[step]].wait(5)
            out.append(explainer.explain(user, item))
            if step < len(theirs):
                turns[theirs[step]].set()
        results[user] = out

    a = threading.Thread(target=run, args=("u1", ["2", "4"], [0, 2], [1, 3]))
    b = threading.Thread(target=run, args=("u5", ["3", "4"], [1, 3], [2]))
    turns[0].set()
    a.start(); b.start(); a.join(); b.join()  # noqa: E702
    assert len(calls) == 2 and len(set(calls)) == 2  # once per user, in any interleaving
    assert all(results[u] for u in ("u1", "u5"))
    serial = PathExplainer(tiny_kg, liked=None, anchor_effect=effect)
    assert [serial.explain("u1", i) for i in ("2", "4")] == results["u1"]


def test_co_like_matrix_gives_the_same_explanations_as_counting_per_request(tiny_kg,
                                                                             monkeypatch):
    """Collaborative counts and co-raters from the dense co-like matrix (small catalogues)
    equal those counted from the anchors' likers (large catalogues), for every pair."""
    import kgrec.explain.search as search

    users = [f"u{i}" for i in range(1, 7)]
    items = [str(i) for i in range(1, 12)]

    def everything():
        explainer = PathExplainer(tiny_kg, liked=None)
        out = [(explainer.explain(u, i, k), explainer.explain_from(["1", "3"], i, k))
               for u in users for i in items for k in (None, 3)]
        return explainer, out

    dense, with_matrix = everything()
    assert dense._co_like_matrix is not None
    monkeypatch.setattr(search, "CO_LIKE_DENSE_ITEMS", 0)
    sparse, without = everything()
    assert sparse._co_like_matrix is None
    assert with_matrix == without
    assert any(e.kind == "collaborative" for pair in with_matrix for part in pair for e in part)


def test_content_paths_are_every_shared_entity_of_every_liked_anchor():
    """Brute force over the graph's edges: the content explanations (k=None) name every
    (liked anchor, relation, shared entity) triple, once, and nothing else."""
    for seed in range(2):
        kg = KnowledgeGraph.from_dataset(random_world(seed))
        explainer = PathExplainer(kg, liked=None)
        links: dict[tuple[int, str], set[str]] = {}  # (movie, relation and side) → entities
        for (src, rel, dst), index in kg.edges.items():
            if src == "movie" and dst not in ("movie", "user"):
                for m, e in zip(index[0], index[1]):
                    links.setdefault((int(m), rel + ">"), set()).add(kg.nodes[dst][int(e)])
            elif dst == "movie" and src not in ("movie", "user"):
                for e, m in zip(index[0], index[1]):
                    links.setdefault((int(m), "<" + rel), set()).add(kg.nodes[src][int(e)])
        rated = kg.edges[("user", "rated", "movie")]
        for u in range(kg.num_users):
            anchors = {int(m) for m in rated[1][rated[0] == u]}
            for t in range(kg.num_items):
                expected = {(kg.nodes["movie"][a], side.strip("<>"), e)
                            for a in anchors - {t} for (m, side), ents in links.items()
                            if m == a for e in ents & links.get((t, side), set())}
                got = [(x.anchor, x.steps[1].relation, x.shared)
                       for x in explainer.explain(u, t, k=None)
                       if x.kind == "content" and x.shared is not None]
                assert sorted(got) == sorted(expected) and len(set(got)) == len(got)
