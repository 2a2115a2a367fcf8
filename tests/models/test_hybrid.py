"""DLAE closed form, score fusion, and the registry's build/fit/load path."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from kgrec.models.baselines import EASE, Popularity
from kgrec.models.hybrid import ScoreFusion, standardize
from kgrec.models.linear import DLAE


def _data(seed=0, users=40, items=30):
    rng = np.random.default_rng(seed)
    dense = (rng.random((users, items)) < 0.2).astype(np.float64)
    return sp.csr_matrix(dense)


def test_dlae_matches_formula():
    X = _data()
    model = DLAE(40, 30, dropout=0.25, reg=5.0).fit(X)
    G = (X.T @ X).toarray()
    lam = 5.0 + 0.25 / 0.75 * np.diag(G)
    B = np.eye(30) - np.linalg.inv(G + np.diag(lam)) @ np.diag(lam)
    np.testing.assert_allclose(model.weight.numpy(), B, atol=1e-5)
    torch.testing.assert_close(model.score(torch.tensor([2])),
                               torch.from_numpy(X[2].toarray() @ B).float(), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(model.score_history(torch.from_numpy(X[[2]].toarray())),
                               model.score(torch.tensor([2])))


def test_dlae_rejects_bad_arguments():
    with pytest.raises(ValueError, match="dropout"):
        DLAE(2, 2, dropout=1.0)
    with pytest.raises(ValueError, match="shape"):
        DLAE(3, 3).fit(sp.csr_matrix(np.ones((2, 3))))


def test_standardize_rows_and_exclusion():
    s = torch.tensor([[1.0, 2.0, 3.0, 100.0]])
    z = standardize(s)
    assert z.mean().abs() < 1e-6
    ex = torch.tensor([[False, False, False, True]])
    z2 = standardize(s, ex)
    torch.testing.assert_close(z2[0, :3].mean(), torch.tensor(0.0), atol=1e-6, rtol=0)


def test_fusion_weights_and_state_dict_round_trip():
    X = _data()
    parts = {"ease": EASE(40, 30, reg=10.0).fit(X), "pop": Popularity(40, 30).fit(X)}
    fusion = ScoreFusion(parts, {"ease": 0.75, "pop": 0.25})
    users = torch.arange(5)
    z = fusion.component_scores(users)
    torch.testing.assert_close(fusion.score(users), 0.75 * z["ease"] + 0.25 * z["pop"])
    clone = ScoreFusion({"ease": EASE(40, 30, reg=10.0), "pop": Popularity(40, 30)})
    clone.load_state_dict(fusion.state_dict())
    assert clone.weight_dict() == pytest.approx({"ease": 0.75, "pop": 0.25})
    torch.testing.assert_close(clone.score(users), fusion.score(users))


def test_fit_weights_never_worse_than_equal_weights():
    from kgrec.evaluate import evaluate

    rng = np.random.default_rng(99)
    X = _data(1)
    valid = sp.csr_matrix((rng.random((40, 30)) < 0.05) & (X.toarray() == 0), dtype=np.float32)
    parts = {"ease": EASE(40, 30, reg=10.0).fit(X), "pop": Popularity(40, 30).fit(X)}
    fusion = ScoreFusion(parts, history=X)
    equal = evaluate(fusion, test=valid, mask=X, ks=(10,)).metrics["ndcg@10"]
    weights = fusion.fit_weights(valid, X)
    assert sum(weights.values()) == pytest.approx(1.0)
    tuned = evaluate(fusion, test=valid, mask=X, ks=(10,)).metrics["ndcg@10"]
    assert tuned >= equal - 1e-6


def test_fusion_rejects_mismatched_components():
    with pytest.raises(ValueError, match="disagree"):
        ScoreFusion({"a": Popularity(3, 4), "b": Popularity(3, 5)})
    with pytest.raises(ValueError, match="unknown components"):
        ScoreFusion({"a": Popularity(3, 4)}, {"b": 1.0})
