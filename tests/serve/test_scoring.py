"""Scorer: the documented fusion of model, content and query parts."""

import pytest
import torch

from kgrec.serve import scoring
from kgrec.serve.filters import Filters
from kgrec.serve.request import Request
from kgrec.serve.scoring import Scorer, zscore
from kgrec.text.config import TextConfig


@pytest.fixture(scope="module")
def scorer(kg, catalog):
    from kgrec.models.baselines import EASE

    train = kg.interaction_matrix()
    model = EASE(kg.num_users, kg.num_items, reg=50.0).fit(train).eval()
    features = torch.randn(kg.num_items, 8, generator=torch.Generator().manual_seed(0))
    return Scorer(model, catalog, features, train, train, TextConfig(show_progress=False))


def test_zscore():
    x = torch.tensor([1.0, 2.0, 3.0, 10.0])
    z = zscore(x, torch.tensor([True, True, True, False]))
    torch.testing.assert_close(z[:3], torch.tensor([-1.0, 0.0, 1.0]))
    assert torch.equal(zscore(torch.tensor([5.0])), torch.tensor([0.0]))


def test_zscore_over_indices_is_zscore_over_the_mask():
    """The scorer keeps the warm movies' indices: the same numbers as their mask."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(500, generator=g)
    for mask in (torch.rand(500, generator=g) < 0.9, torch.zeros(500, dtype=torch.bool),
                 torch.ones(500, dtype=torch.bool)):
        assert torch.equal(zscore(x, torch.nonzero(mask).squeeze(1)), zscore(x, mask))


def test_known_user_is_the_standardised_model_score(scorer):
    assert not scorer.cold.any()  # every movie is rated in the full sample
    scores = scorer.scores(Request(0))
    expected = zscore(scorer.model.score(torch.tensor([0]))[0])
    seen = torch.from_numpy(scorer.seen[0].toarray()[0] > 0)
    assert torch.isinf(scores[seen]).all()
    torch.testing.assert_close(scores[~seen], expected[~seen])
    kept = scorer.scores(Request(0, exclude_seen=False))
    torch.testing.assert_close(kept, expected)


def test_query_boosts_follow_the_named_entities(scorer, catalog, monkeypatch):
    monkeypatch.setattr(Scorer, "encode_query", lambda self, text: torch.zeros(8))
    text = "movies directed by Quentin Tarantino from the 90s"
    parsed = scorer.parser.parse(text)
    request = Request(None, query=text, parsed=parsed, exclude_seen=False)
    scores = scorer.scores(request)
    (person,) = parsed.people
    expected = torch.zeros(catalog.num_items)
    expected[torch.from_numpy(catalog.movies_of(person))] += scoring.ENTITY_BOOST
    expected[catalog.decade_mask([1990])] += scoring.DECADE_BOOST
    torch.testing.assert_close(scores, expected)


def test_filters_are_applied_and_batch_masks_seen(scorer, catalog):
    filters = Filters.parse({"genres": "Western"}, catalog)
    scores = scorer.scores(Request(1, filters=filters))
    westerns = set(catalog.genre_movies("genre:Western").tolist())
    assert all(i in westerns for i in torch.nonzero(torch.isfinite(scores)).ravel().tolist())
    batch = scorer.batch_scores(torch.tensor([0, 1]))
    single = scorer.model.score(torch.tensor([0, 1]))
    seen = torch.from_numpy(scorer.seen[[0, 1]].toarray() > 0)
    assert torch.isinf(batch[seen]).all() and torch.equal(batch[~seen], single[~seen])


def test_query_vectors_are_cached_and_bounded(scorer, monkeypatch):
    calls = []

    class Encoder:
        def encode(self, texts):
            calls.append(list(texts))
            return torch.ones(len(texts), 8)

    monkeypatch.setattr(scorer, "_encoder", Encoder())
    monkeypatch.setattr(scorer, "_query_vectors", type(scorer._query_vectors)())
    monkeypatch.setattr(scoring, "QUERY_CACHE_SIZE", 2)
    a = scorer.encode_query("a")
    assert torch.equal(scorer.encode_query("a"), a) and calls == [["a"]]
    torch.testing.assert_close(a.norm(), torch.tensor(1.0))
    scorer.encode_query("b")
    scorer.encode_query("c")  # evicts "a"
    scorer.encode_query("a")
    assert calls == [["a"], ["b"], ["c"], ["a"]]


def test_sparse_entity_profile_equals_the_dense_genre_profile(scorer, catalog):
    """The scorer's sparse shared-entity score is GenreProfile's formula."""
    from kgrec.models.baselines import GenreProfile
    from kgrec.serve.scoring import CONTENT_RELATIONS

    dense = GenreProfile(catalog.entity_matrix(CONTENT_RELATIONS), 1)
    h = torch.zeros(1, catalog.num_items)
    h[0, [0, 5, 17]] = 1
    assert torch.allclose(scorer.entity_profile_scores(h), dense.score_history(h)[0], atol=1e-6)
