"""Facade wiring of the request components: intent on results, feedback, profiles."""

from __future__ import annotations

import time

import pytest

from kgrec import Recommender
from kgrec.config import KGRecConfig
from kgrec.explain import path_exists


@pytest.fixture(scope="module")
def rec(sample_dataset):
    config = KGRecConfig().replace(model={"name": "ease"}, text={"show_progress": False})
    return Recommender(config).fit(sample_dataset)


def test_query_results_carry_intent_and_obey_it(rec):
    recs = rec.recommend(query="a funny movie but not animated, before 1990", k=10)
    assert len(recs) == 10
    intent = recs[0].intent
    assert [m.label for m in intent.include] == ["Comedy"]
    assert [m.label for m in intent.exclude] == ["Animation"]
    animated = set(rec.catalog_.genre_movies("genre:Animation").tolist())
    for r in recs:
        i = rec.kg_.item_index(r.item_id)
        assert i not in animated and r.year <= 1989
        assert r.explanations, r
        assert all(path_exists(rec.kg_, e) for e in r.explanations if e.steps)
    assert recs[0].to_dict()["intent"]["exclude"][0]["label"] == "Animation"


def test_known_user_query_is_personalised_within_constraints(rec):
    user = rec.kg_.user_ids[0]
    recs = rec.recommend(user, query="westerns", k=5)
    seen = set(rec._seen[rec.kg_.user_index(user)].indices)
    westerns = set(rec.catalog_.genre_movies("genre:Western").tolist())
    assert all(rec.kg_.item_index(r.item_id) in westerns for r in recs)
    assert not {rec.kg_.item_index(r.item_id) for r in recs} & seen


def test_feedback_round_for_cold_session(rec, tmp_path):
    from kgrec.serve.feedback import FeedbackStore

    rec.feedback_store = FeedbackStore(tmp_path / "fb")
    first = rec.recommend(liked=["Pulp Fiction"], session="s1", k=10)
    gone = first[0].item_id
    t0 = time.perf_counter()
    rec.feedback("s1", gone, "dislike")
    after = rec.recommend(liked=["Pulp Fiction"], session="s1", k=10)
    elapsed = time.perf_counter() - t0
    assert gone not in [r.item_id for r in after]
    assert elapsed < 1.0                                  # generous bound on a busy machine
    rec.feedback("s1", "Heat", "more_like_this")
    moved = rec.recommend(liked=["Pulp Fiction"], session="s1", k=10)
    assert any("more like Heat" in e.text for r in moved for e in r.explanations)
    rec.feedback("s1", signal="undo")
    rec.feedback("s1", signal="undo")
    assert [r.item_id for r in rec.recommend(liked=["Pulp Fiction"], session="s1", k=10)] == \
        [r.item_id for r in first]
    assert rec.feedback_store.path("session:s1").is_file()
    assert rec.profile("s1").num_rated == 0  # everything was undone
    rec.feedback("s1", "Heat", "like")
    cold = rec.profile("s1")                 # a cold session's profile: from its feedback
    assert cold.who == "s1" and cold.num_rated == 1 and cold.model_genres


def test_known_user_feedback_and_profile(rec):
    from kgrec.serve.feedback import FeedbackStore

    rec.feedback_store = FeedbackStore()
    user = rec.kg_.user_ids[1]
    top = rec.recommend(user, k=3)[0].item_id
    rec.feedback(user, top, "not_interested")
    assert top not in [r.item_id for r in rec.recommend(user, k=50)]
    p = rec.profile(user)
    assert p.who == user and p.dimensions["genres"] and p.num_rated > 0
    assert p.model_genres
