"""The resolver: ids, titles and sessions to graph indices, with errors that say what
would work; and the session helpers the facade delegates to."""

from __future__ import annotations

import pandas as pd
import pytest

from kgrec.serve.feedback import FeedbackStore, apply_feedback
from kgrec.serve.profile import person_ratings


class _Scorer:
    """The two things the resolver reads from a scorer."""

    def __init__(self, kg):
        from kgrec.serve.query import QueryParser

        self.parser = QueryParser(kg)

    def vocabulary(self):  # pragma: no cover - not used by these tests
        raise AssertionError


@pytest.fixture(scope="module")
def resolver(kg, catalog):
    from kgrec.serve.resolve import Resolver

    return Resolver(kg, _Scorer(kg), catalog)


def test_users_by_bare_and_entity_id(resolver, kg):
    first = kg.nodes["user"][0]
    bare = first.split(":", 1)[1]
    assert resolver.user(bare) == resolver.user(first) == 0
    with pytest.raises(KeyError, match="unknown user 'nobody'.*liked="):
        resolver.user("nobody")
    with pytest.raises(TypeError, match="user must be a user id"):
        resolver.user(["u1"])


def test_movies_by_id_entity_and_title(resolver, kg, sample_dataset):
    row = sample_dataset.items.iloc[0]
    index = kg.index(f"movie:{row['item_id']}")
    assert resolver.movie(row["item_id"]) == index
    assert resolver.movie(f"movie:{row['item_id']}") == index
    assert resolver.movie(row["title"]) == index
    with pytest.raises(KeyError):
        resolver.movie("A Title That Is In No Catalogue At All")


def test_session_keys(resolver, kg):
    first = kg.nodes["user"][0]
    assert resolver.session_key(first.split(":", 1)[1]) == first
    assert resolver.session_key("visitor-7") == "session:visitor-7"
    assert resolver.session_key("session:abc") == "session:abc"


def test_request_validates_and_resolves(resolver, sample_dataset):
    store = FeedbackStore()
    title = sample_dataset.items.iloc[3]["title"]
    request = resolver.request(None, 5, None, title, None, True, False, None, store)
    assert request.k == 5 and request.user is None and len(request.liked) == 1
    with pytest.raises(ValueError, match="give a user"):
        resolver.request(None, 5, None, None, None, True, False, None, store)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        resolver.request(None, 0, None, title, None, True, False, None, store)


def test_apply_feedback_adds_undoes_and_persists(tmp_path):
    store = FeedbackStore(tmp_path)
    apply_feedback(store, "session:s", "12", "dislike")
    apply_feedback(store, "session:s", "13", "like")
    assert FeedbackStore(tmp_path).load("session:s").state() == {"12": "dislike", "13": "like"}
    apply_feedback(store, "session:s", None, "undo")
    assert FeedbackStore(tmp_path).load("session:s").state() == {"12": "dislike"}
    with pytest.raises(ValueError, match="needs an item"):
        apply_feedback(store, "session:s", None, "like")


def test_person_ratings_known_user_and_session():
    from kgrec.serve.feedback import FeedbackSession

    seen = pd.DataFrame({"user_id": ["7", "7", "8"], "item_id": ["a", "b", "a"],
                         "rating": [4.0, 2.0, 5.0]})
    session = FeedbackSession("user:7")
    session.add("b", "like")
    items = ["a", "b", "c"]
    assert person_ratings("user:7", seen, session, items) == {0: 4.0, 1: 5.0}
    cold = FeedbackSession("session:7")
    cold.add("c", "dislike")
    assert person_ratings("session:7", seen, cold, items) == {2: 1.0}
