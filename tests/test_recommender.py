"""The Recommender front door on the bundled sample: top-K with explanations, queries,
cold-start users, filters, errors, save/load and tampering."""

from __future__ import annotations

import threading

import pytest
import torch

from kgrec.config import KGRecConfig
from kgrec.data import random_split
from kgrec.explain import path_exists
from kgrec.recommender import ArtifactError, Recommender

TARANTINO = {"Reservoir Dogs", "Pulp Fiction", "Jackie Brown", "Kill Bill: Vol. 1",
             "Kill Bill: Vol. 2", "Inglourious Basterds", "Django Unchained",
             "The Hateful Eight", "Once Upon a Time in Hollywood", "Death Proof"}


@pytest.fixture(scope="module")
def split(sample_dataset):
    return random_split(sample_dataset.ratings, (0.8, 0.1, 0.1), seed=0)


@pytest.fixture(scope="module")
def rec(sample_dataset, split):
    torch.manual_seed(0)
    config = KGRecConfig().replace(train={"epochs": 15, "show_progress": False},
                                   text={"show_progress": False})
    return Recommender(config).fit(sample_dataset, train=split.train, valid=split.valid)


def test_recommend_known_user_with_explanations(rec, split):
    user = split.train["user_id"].iloc[0]
    recs = rec.recommend(user, k=10)
    assert len(recs) == 10
    seen = set(split.train[split.train.user_id == user].item_id) | set(
        split.valid[split.valid.user_id == user].item_id)
    assert not seen & {r.item_id for r in recs}
    scores = [r.score for r in recs]
    assert scores == sorted(scores, reverse=True)
    for r in recs:
        assert r.explanations, f"{r.title} has no explanation"
        assert r.explanation.startswith(r.title)
        for e in r.explanations:
            assert path_exists(rec.kg_, e)


def test_no_explanation_uses_a_test_interaction(rec, split):
    test_pairs = {(f"user:{u}", f"movie:{i}") for u, i in zip(split.test.user_id, split.test.item_id)}
    for user in split.test["user_id"].unique()[:20]:
        for r in rec.recommend(user, k=10):
            for e in r.explanations:
                for step in e.steps:
                    if step.relation == "rated":
                        assert (step.head, step.tail) not in test_pairs


def test_model_beats_popularity_on_held_out_test(rec, sample_dataset, split):
    from kgrec.evaluate import evaluate, to_csr
    from kgrec.models.baselines import Popularity

    ours = rec.evaluate(split.test).metrics["ndcg@10"]
    pop = Popularity(rec.kg_.num_users, rec.kg_.num_items).fit(rec.kg_.interaction_matrix())
    base = evaluate(pop, test=to_csr(split.test, rec.kg_), mask=rec._seen, ks=(10,))
    assert ours > 1.1 * base.metrics["ndcg@10"]


def test_query_directed_by_tarantino(rec):
    recs = rec.recommend(query="movies directed by Quentin Tarantino", k=6, explain=False)
    assert all(r.title in TARANTINO for r in recs), [r.title for r in recs]


def test_query_combines_genre_decade_and_named_movie(rec):
    recs = rec.recommend(query="a 90s crime film like Pulp Fiction", k=5)
    assert "Pulp Fiction" not in {r.title for r in recs}
    genre_ids = rec.catalog_.genre_movies("genre:Crime")
    crime = {rec.kg_.item_ids[i] for i in genre_ids}
    assert sum(r.item_id in crime for r in recs) >= 4
    assert sum(1990 <= (r.year or 0) < 2000 for r in recs) >= 3


def test_liked_titles_cold_start_user(rec):
    recs = rec.recommend(liked=["Heat", "Casino"], k=10)
    titles = {r.title for r in recs}
    assert not {"Heat", "Casino"} & titles
    # related to the liked titles: most share a person or genre with Heat or Casino
    heat = rec.scorer_.parser.resolve_title("Heat")[0]
    casino = rec.scorer_.parser.resolve_title("Casino")[0]
    related = set()
    for anchor in (heat, casino):
        a = rec.kg_.index(anchor)
        for (s, _, d), index in rec.kg_.edges.items():
            if s == "movie" and d in ("person", "genre"):
                ents = set(index[1][index[0] == a])
                related |= set(index[0][[e in ents for e in index[1]]])
    share = sum(rec.kg_.item_index(r.item_id) in related for r in recs) / len(recs)
    assert share >= 0.8
    assert all(r.explanations for r in recs)
    for r in recs:
        for e in r.explanations:
            assert path_exists(rec.kg_, e)


def test_filters(rec, split):
    user = split.train["user_id"].iloc[1]
    recs = rec.recommend(user, k=5, filters={"genres": ["Western"], "min_year": 1960},
                         explain=False)
    westerns = {rec.kg_.item_ids[i] for i in rec.catalog_.genre_movies("genre:Western")}
    assert recs and all(r.item_id in westerns and r.year >= 1960 for r in recs)
    with pytest.raises(ValueError, match="unknown filters"):
        rec.recommend(user, filters={"colour": "red"})


def test_clear_errors(rec):
    with pytest.raises(KeyError, match="unknown user 'nobody'"):
        rec.recommend("nobody")
    with pytest.raises(KeyError, match="did you mean 'Pulp Fiction'"):
        rec.recommend(liked=["Pulp Fictoin"])
    with pytest.raises(ValueError, match="k must be"):
        rec.recommend("u1", k=0)
    with pytest.raises(ValueError, match="give a user"):
        rec.recommend()
    with pytest.raises(RuntimeError, match="not fitted"):
        Recommender().recommend("u1")


def test_recommend_batch_matches_single(rec, split):
    users = list(split.train["user_id"].unique()[:4])
    batch = rec.recommend_batch(users, k=5)
    for user in users:
        single = rec.recommend(user, k=5, explain=False)
        assert [r.item_id for r in batch[user]] == [r.item_id for r in single]


def test_save_load_round_trip_and_tamper(rec, split, tmp_path):
    path = rec.save(tmp_path / "model")
    loaded = Recommender.load(path)
    for user in split.train["user_id"].unique()[:3]:
        a = rec.recommend(user, k=10)
        b = loaded.recommend(user, k=10)
        assert [(r.item_id, round(r.score, 5)) for r in a] == [(r.item_id, round(r.score, 5)) for r in b]
        assert [r.explanation for r in a] == [r.explanation for r in b]
    # every kind of request (queries, liked titles, mixes, batches) and its explanations
    requests = _mixed_requests(rec, split)
    assert [_call(loaded, r) for r in requests] == [_call(rec, r) for r in requests]
    assert not any(p.suffix == ".pkl" for p in path.rglob("*"))
    assert sorted(p.name for p in (path / "data").iterdir()) == [
        "items.parquet", "labels.parquet", "seen.parquet", "triples.parquet"]
    # overwrite in place keeps a loadable folder
    rec.save(path)
    Recommender.load(path)
    weights = path / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="model.safetensors.*sha256"):
        Recommender.load(path)
    weights.write_bytes(bytes(data[: len(data) // 3]))
    with pytest.raises(ArtifactError, match="truncated or modified"):
        Recommender.load(path)
    with pytest.raises(ArtifactError, match="not a saved kgrec recommender"):
        Recommender.load(tmp_path)


def test_liked_titles_are_ranked_by_the_liked_titles_scorer(rec):
    """recommend(liked=...) for a new user ranks by kgrec.serve.liked (liked neighbours,
    the model, shared facts), not by the model's score_history alone."""
    titles = ["Heat", "Casino", "GoodFellas"]
    recs = rec.recommend(liked=titles, k=10, explain=False)
    idx = [rec.kg_.index(rec.scorer_.parser.resolve_title(t)[0]) for t in titles]
    h = torch.zeros(1, rec.catalog_.num_items)
    h[0, idx] = 1
    expected = rec.scorer_.liked_titles.score_history(h)[0]
    expected[idx] = -torch.inf
    expected[rec.scorer_.cold] = -torch.inf      # cold movies are scored by content
    warm = [rec.kg_.item_index(r.item_id) for r in recs
            if not rec.scorer_.cold[rec.kg_.item_index(r.item_id)]]
    assert warm == torch.topk(expected, len(warm)).indices.tolist()
    plain = rec.scorer_.history_scores(h)[0]
    plain[idx] = -torch.inf
    assert warm != torch.topk(plain, len(warm)).indices.tolist()


def test_query_results_are_explained_by_the_named_entities(rec):
    recs = rec.recommend(query="movies directed by Quentin Tarantino", k=5)
    for r in recs:
        assert r.explanations and "Quentin Tarantino" in r.explanation
        assert all(path_exists(rec.kg_, e) for e in r.explanations)


def test_cold_start_movie_is_recommendable(sample_dataset):
    """A movie with no training rating is scored by content and can be recommended."""
    jackie = sample_dataset.items.loc[sample_dataset.items.title == "Jackie Brown", "item_id"].iloc[0]
    train = sample_dataset.ratings[sample_dataset.ratings.item_id != jackie]
    config = KGRecConfig().replace(train={"epochs": 3, "show_progress": False},
                                   text={"show_progress": False})
    cold = Recommender(config).fit(sample_dataset, train=train, valid=train.iloc[:0])
    assert bool(cold.scorer_.cold[cold.kg_.item_index(jackie)])
    liked = cold.recommend(liked=["Pulp Fiction", "Reservoir Dogs", "Kill Bill: Vol. 1"], k=20)
    assert jackie in [r.item_id for r in liked]
    rec = next(r for r in liked if r.item_id == jackie)
    assert rec.explanations and all(path_exists(cold.kg_, e) for e in rec.explanations)
    query = cold.recommend(query="movies directed by Quentin Tarantino", k=10, explain=False)
    assert jackie in [r.item_id for r in query]


# -- argument validation at the facade (issue 14) -------------------------------------------
def test_a_string_liked_is_one_title(rec):
    assert ([r.item_id for r in rec.recommend(liked="Heat", k=5, explain=False)]
            == [r.item_id for r in rec.recommend(liked=["Heat"], k=5, explain=False)])
    with pytest.raises(TypeError, match=r"liked\[1\] must be a title"):
        rec.recommend(liked=["Heat", 3], k=5)
    with pytest.raises(TypeError, match="liked must be"):
        rec.recommend(liked=42, k=5)


def test_string_filters_are_one_value(rec, split):
    user = split.train["user_id"].iloc[1]
    one = rec.recommend(user, k=20, filters={"genres": "Crime"}, explain=False)
    assert one == rec.recommend(user, k=20, filters={"genres": ["Crime"]}, explain=False)
    crime = {rec.kg_.item_ids[i] for i in rec.catalog_.genre_movies("genre:Crime")}
    assert one and all(r.item_id in crime for r in one)
    full = rec.recommend(user, k=10, explain=False)
    target = full[0].item_id
    kept = rec.recommend(user, k=10, filters={"exclude": target}, explain=False)
    assert target not in {r.item_id for r in kept}
    assert [r.item_id for r in kept[:9]] == [r.item_id for r in full[1:]]
    # an unknown id is an error naming the whole string (one id, not its characters)
    with pytest.raises(KeyError, match=r"filters\['exclude'\]: unknown item id 'no-such-id'"):
        rec.recommend(user, k=5, filters={"exclude": "no-such-id"})
    with pytest.raises(KeyError, match=r"filters\['genres'\]: unknown genre 'C'"):
        rec.recommend(user, k=5, filters={"genres": ["C"]})
    with pytest.raises(TypeError, match=r"filters\['min_year'\] must be an integer"):
        rec.recommend(user, k=5, filters={"min_year": "1990"})
    with pytest.raises(ValueError, match="min_year 2000 is after max_year 1990"):
        rec.recommend(user, k=5, filters={"min_year": 2000, "max_year": 1990})


@pytest.mark.parametrize("k", [0, -1, 2.5, "3", True, None])
def test_bad_k_is_a_clear_value_error(rec, split, k):
    user = split.train["user_id"].iloc[0]
    with pytest.raises(ValueError, match="k must be a positive integer"):
        rec.recommend(user, k=k)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        rec.recommend_batch([user], k=k)


def test_recommend_batch_refuses_a_string_of_users(rec):
    with pytest.raises(TypeError, match="users must be a list of user ids"):
        rec.recommend_batch("u1")


def test_recommend_batch_cost_does_not_grow_with_the_catalogue(rec, split, monkeypatch):
    """Records are built from the catalogue's tuples, never from ``kg.item_ids`` (a list
    rebuilt over every movie on each access)."""
    from kgrec.graph.knowledge_graph import KnowledgeGraph

    calls = []
    original = KnowledgeGraph.item_ids.fget
    monkeypatch.setattr(KnowledgeGraph, "item_ids",
                        property(lambda self: calls.append(1) or original(self)))
    users = list(split.train["user_id"].unique()[:50])
    out = rec.recommend_batch(users, k=10)
    assert len(out) == 50 and all(len(v) == 10 for v in out.values())
    assert calls == []


# -- no per-request state on the instance ----------------------------------------------------
def _mixed_requests(rec, split) -> list[dict]:
    users = list(split.train["user_id"].unique()[:6])
    return ([{"user": u, "k": 5} for u in users]
            + [{"query": q, "k": 5} for q in ("movies directed by Quentin Tarantino",
                                              "a 90s crime film like Pulp Fiction",
                                              "westerns from the 1960s", "Robert De Niro")]
            + [{"liked": liked, "k": 5} for liked in (["Heat", "Casino"], ["Pulp Fiction"],
                                                      ["The Godfather"])]
            + [{"user": users[0], "query": "a crime film", "k": 5},
               {"user": users[1], "liked": ["Heat"], "filters": {"genres": "Crime"}, "k": 5},
               {"batch": users[:3], "k": 5}])


def _call(rec, request: dict):
    request = dict(request)
    if "batch" in request:
        out = rec.recommend_batch(request.pop("batch"), explain=True, **request)
        return {u: [(r.item_id, r.score, tuple(e.text for e in r.explanations)) for r in v]
                for u, v in out.items()}
    return [(r.item_id, r.score, tuple(e.text for e in r.explanations))
            for r in rec.recommend(request.pop("user", None), **request)]


def test_batch_after_a_query_cites_no_query(rec, split):
    users = list(split.train["user_id"].unique()[:3])
    before = _call(rec, {"batch": users, "k": 5})
    rec.recommend(query="movies directed by Quentin Tarantino", k=5)
    after = _call(rec, {"batch": users, "k": 5})
    assert after == before
    assert not any("your query" in text for recs in after.values() for *_, texts in recs
                   for text in texts)


def test_concurrent_calls_give_the_serial_results(rec, split):
    """8 threads x 300 mixed calls (users, queries, liked titles, mixes, batches) on one
    Recommender give exactly the results of the same calls made one at a time."""
    import random
    from concurrent.futures import ThreadPoolExecutor

    requests = _mixed_requests(rec, split)
    serial = [_call(rec, r) for r in requests]
    rng = random.Random(0)
    plans = [[rng.randrange(len(requests)) for _ in range(300)] for _ in range(8)]

    def worker(plan: list[int]) -> list[int]:
        return [i for i in plan if _call(rec, requests[i]) != serial[i]]

    with ThreadPoolExecutor(max_workers=8) as pool:
        mismatches = [i for bad in pool.map(worker, plans) for i in bad]
    assert mismatches == [], [requests[i] for i in sorted(set(mismatches))]


def test_indexes_built_on_first_use_give_the_answers_of_built_ones(rec, split, tmp_path):
    """A freshly loaded recommender builds its title parser, cold-content statistics and
    item-side adjacency on first use (kgrec.lazy). 8 threads whose first calls race to
    build them get the answers of a copy where everything was built beforehand."""
    from concurrent.futures import ThreadPoolExecutor

    from kgrec.lazy import is_built

    path = rec.save(tmp_path / "model")
    built = Recommender.load(path)
    built.scorer_.parser, built.scorer_.cold_content._text_moments
    built.scorer_.cold_content._heavy_sums, built.explainer_.index.item_adjacency
    requests = _mixed_requests(rec, split)
    expected = [_call(built, r) for r in requests]
    fresh = Recommender.load(path)
    assert not is_built(fresh.scorer_, "parser")
    assert not is_built(fresh.explainer_.index, "item_adjacency")
    start = threading.Barrier(8)

    def worker(offset: int) -> list[int]:
        start.wait()
        order = requests[offset:] + requests[:offset]
        return [(i + offset) % len(requests) for i, r in enumerate(order)
                if _call(fresh, r) != expected[(i + offset) % len(requests)]]

    with ThreadPoolExecutor(max_workers=8) as pool:
        mismatches = [i for bad in pool.map(worker, range(8)) for i in bad]
    assert mismatches == []
    assert is_built(fresh.scorer_, "parser")
