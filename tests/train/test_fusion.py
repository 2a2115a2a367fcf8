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


def test_large_catalogue_path_ranks_candidates_of_a_seeded_user_sample():
    """Above ``max_users`` the search ranks a seeded sample of validation users (scored in
    batches); its NDCG is the tuned fusion's NDCG on exactly those users when the
    candidates are all items, and a single component's top-k always lies within its own
    top-``candidates``, so there the candidate NDCG is exact too."""
    from kgrec.evaluate import evaluate
    from kgrec.train.fusion import validation_sample

    rng = np.random.default_rng(5)
    X = _data(4, users=60)
    valid = sp.csr_matrix((rng.random((60, 30)) < 0.08) & (X.toarray() == 0), dtype=np.float32)
    with_positives = np.flatnonzero(np.diff(valid.indptr) > 0)
    users = validation_sample(valid, 25, seed=1)
    assert len(users) == 25 < len(with_positives)
    assert set(users) <= set(with_positives) and np.all(np.diff(users) > 0)
    assert np.array_equal(users, validation_sample(valid, 25, seed=1))
    assert np.array_equal(validation_sample(valid), with_positives)

    def on_sample(model):
        return evaluate(lambda u: model.score(torch.from_numpy(users)[u]), test=valid[users],
                        mask=X[users], ks=(10,)).metrics["ndcg@10"]

    fusion = ScoreFusion({"ease": EASE(60, 30, reg=10.0).fit(X), "pop": Popularity(60, 30).fit(X)},
                         history=X)
    _, best = fit_fusion_weights(fusion, valid, X, max_users=25, candidates=30, batch_size=7,
                                 seed=1)
    assert best == pytest.approx(on_sample(fusion), abs=1e-6)
    alone = ScoreFusion({"ease": EASE(60, 30, reg=10.0).fit(X)}, history=X)
    _, best = fit_fusion_weights(alone, valid, X, max_users=25, candidates=10, batch_size=7,
                                 seed=1)
    assert best == pytest.approx(on_sample(alone), abs=1e-6)
