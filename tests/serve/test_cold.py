"""ColdContent: the cold movies' content scores from precomputed warm statistics equal
the definition computed over the whole catalogue (Scorer.content_scores)."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from kgrec.serve import cold as cold_module
from kgrec.serve.cold import ColdContent
from kgrec.serve.scoring import Scorer
from kgrec.text.config import TextConfig


def cold_scorer(kg, catalog, cold_every: int, dim: int = 16) -> Scorer:
    """A scorer over the sample whose training matrix leaves every ``cold_every``-th
    movie (``0``: every movie) without an interaction."""
    from kgrec.models.baselines import EASE

    full = kg.interaction_matrix().tocsc()
    keep = np.ones(kg.num_items, dtype=bool)
    if cold_every:
        keep[::cold_every] = False
    else:
        keep[:] = False
    train = sp.csr_matrix(full @ sp.diags(keep.astype(np.float64)))
    train.eliminate_zeros()
    model = EASE(kg.num_users, kg.num_items, reg=50.0).fit(train).eval()
    features = torch.randn(kg.num_items, dim, generator=torch.Generator().manual_seed(1))
    return Scorer(model, catalog, features, train, kg.interaction_matrix(),
                  TextConfig(show_progress=False))


@pytest.mark.parametrize("cold_every, heavy", [(3, 64), (3, 1), (7, 10_000), (0, 64)])
def test_cold_scores_equal_the_whole_catalogue_definition(kg, catalog, monkeypatch,
                                                          cold_every, heavy):
    """Heavy entities (precomputed sums) and light ones (summed per request) give the
    same statistics; with no warm movie the statistics are over every movie."""
    monkeypatch.setattr(cold_module, "HEAVY_DEGREE", heavy)
    scorer = cold_scorer(kg, catalog, cold_every)
    assert scorer.cold.any()
    rng = np.random.default_rng(0)
    histories = [scorer.history_items(u) for u in range(0, kg.num_users, 7)]
    histories += [rng.choice(kg.num_items, n, replace=False) for n in (1, 2, 40)]
    for items in histories:
        h = torch.zeros(1, kg.num_items)
        h[0, torch.from_numpy(np.asarray(items))] = 1.0
        expected = scorer.content_scores(h)[scorer.cold].numpy()
        got = scorer.cold_content.scores(np.asarray(items))
        np.testing.assert_allclose(got, expected, atol=2e-5, rtol=1e-4)


def test_text_only_and_degenerate_catalogues():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(30, 5)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    cold = np.zeros(30, dtype=bool)
    cold[[3, 9, 20]] = True
    text_only = ColdContent(x, cold, None).scores(np.array([0, 1, 2]))
    t = torch.from_numpy(x) @ torch.nn.functional.normalize(
        torch.from_numpy(x[[0, 1, 2]]).sum(0), dim=0)
    warm = torch.from_numpy(~cold)
    from kgrec.serve.scoring import zscore

    np.testing.assert_allclose(text_only, zscore(zscore(t, warm), warm)[cold].numpy(),
                               atol=1e-5)
    one_warm = np.ones(30, dtype=bool)
    one_warm[0] = False  # a z-score over a single value is 0
    assert not ColdContent(x, one_warm, None).scores(np.array([0])).any()
    assert ColdContent(x, np.zeros(30, dtype=bool), None).scores(np.array([1])).shape == (0,)


def test_the_scorer_uses_it_for_cold_movies(kg, catalog):
    from kgrec.serve.request import Request

    scorer = cold_scorer(kg, catalog, 3)
    scores = scorer.scores(Request(5, exclude_seen=False))
    h = scorer.history(5)
    np.testing.assert_allclose(scores[scorer.cold].numpy(),
                               scorer.content_scores(h)[scorer.cold].numpy(), atol=2e-5)
