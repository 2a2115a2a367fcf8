"""DLAE: the closed form against its formula, argument checks."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from kgrec.models.linear import DLAE


def _data(seed=0, users=40, items=30):
    rng = np.random.default_rng(seed)
    return sp.csr_matrix((rng.random((users, items)) < 0.2).astype(np.float64))


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
