"""Fusion-weight search on validation NDCG@10 (kgrec.train.fusion)."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from kgrec.models.baselines import EASE, Popularity
from kgrec.models.hybrid import ScoreFusion
from kgrec.train.fusion import fit_fusion_weights


def _data(seed=0, users=40, items=30):
    rng = np.random.default_rng(seed)
    return sp.csr_matrix((rng.random((users, items)) < 0.2).astype(np.float64))


def test_fit_weights_never_worse_than_equal_weights():
    from kgrec.evaluate import evaluate

    rng = np.random.default_rng(99)
    X = _data(1)
    valid = sp.csr_matrix((rng.random((40, 30)) < 0.05) & (X.toarray() == 0), dtype=np.float32)
    parts = {"ease": EASE(40, 30, reg=10.0).fit(X), "pop": Popularity(40, 30).fit(X)}
    fusion = ScoreFusion(parts, history=X)
    equal = evaluate(fusion, test=valid, mask=X, ks=(10,)).metrics["ndcg@10"]
    weights, best = fit_fusion_weights(fusion, valid, X)
    assert sum(weights.values()) == pytest.approx(1.0)
    assert fusion.weight_dict() == pytest.approx(weights)
    tuned = evaluate(fusion, test=valid, mask=X, ks=(10,)).metrics["ndcg@10"]
    assert tuned >= equal - 1e-6
    assert tuned == pytest.approx(best, abs=1e-6)


def test_search_prefers_the_component_that_ranks_validation_items():
    """A component that scores exactly the validation items ends with the larger weight."""
    rng = np.random.default_rng(3)
    X = _data(2)
    valid = sp.csr_matrix((rng.random((40, 30)) < 0.1) & (X.toarray() == 0), dtype=np.float32)
    oracle = EASE(40, 30, reg=1.0).fit(X)
    oracle.weights.zero_()
    oracle.interactions.copy_(torch.from_numpy(valid.toarray()))
    oracle.weights.fill_diagonal_(1.0)
    fusion = ScoreFusion({"oracle": oracle, "pop": Popularity(40, 30).fit(X)}, history=X)
    weights, best = fit_fusion_weights(fusion, valid, X)
    assert weights["oracle"] > weights["pop"]
    assert best > 0.5


def test_large_catalogue_path_scores_a_bounded_seeded_sample_in_batches():
    """Above ``max_entries`` the search scores a seeded sample of validation users (in
    batches) and its reported NDCG is the tuned fusion's NDCG on exactly those users."""
    from kgrec.evaluate import evaluate
    from kgrec.train.fusion import validation_sample

    rng = np.random.default_rng(5)
    X = _data(4, users=60)
    valid = sp.csr_matrix((rng.random((60, 30)) < 0.08) & (X.toarray() == 0), dtype=np.float32)
    with_positives = np.flatnonzero(np.diff(valid.indptr) > 0)
    cap = 25 * 30 * 2
    users = validation_sample(valid, 30, 2, max_entries=cap, seed=1)
    assert len(users) == 25 < len(with_positives)
    assert set(users) <= set(with_positives) and np.all(np.diff(users) > 0)
    assert np.array_equal(users, validation_sample(valid, 30, 2, max_entries=cap, seed=1))
    everyone = validation_sample(valid, 30, 2)
    assert np.array_equal(everyone, with_positives)

    fusion = ScoreFusion({"ease": EASE(60, 30, reg=10.0).fit(X), "pop": Popularity(60, 30).fit(X)},
                         history=X)
    _, best = fit_fusion_weights(fusion, valid, X, max_entries=cap, batch_size=7, seed=1)
    on_sample = evaluate(lambda u: fusion.score(torch.from_numpy(users)[u]),
                         test=valid[users], mask=X[users], ks=(10,)).metrics["ndcg@10"]
    assert best == pytest.approx(on_sample, abs=1e-5)
