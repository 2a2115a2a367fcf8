"""GF-CF: the closed form against a direct computation, and the model interface."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from kgrec.models.graph_filter import GraphFilterCF


def random_interactions(seed: int = 0, users: int = 30, items: int = 20) -> np.ndarray:
    X = (np.random.default_rng(seed).random((users, items)) < 0.25).astype(np.float64)
    X[:, -1] = 0  # an item nobody rated
    return X


def test_closed_form_matches_direct_computation():
    X = random_interactions()
    du, di = X.sum(1), X.sum(0)
    Dui = np.diag(np.where(du > 0, du, np.inf) ** -0.5)
    Dii = np.diag(np.where(di > 0, di, np.inf) ** -0.5)
    P = (Dui @ X @ Dii).T @ (Dui @ X @ Dii)
    # top-4 right singular vectors of the normalised matrix
    _, _, vt = np.linalg.svd(Dui @ X @ Dii)
    V = vt[:4].T
    W = P + 0.7 * Dii @ V @ V.T @ np.diag(np.sqrt(di))
    model = GraphFilterCF(*X.shape, alpha=0.7, num_components=4).fit(sp.csr_matrix(X))
    users = torch.arange(X.shape[0])
    np.testing.assert_allclose(model.score(users).numpy(), X @ W, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.score_history(torch.from_numpy(X)).numpy(), X @ W,
                               rtol=1e-4, atol=1e-5)
    linear = GraphFilterCF(*X.shape, num_components=0).fit(X)
    np.testing.assert_allclose(linear.score(users).numpy(), X @ P, rtol=1e-4, atol=1e-5)
    assert not model.score(users)[:, -1].any()  # unrated item: score 0 (not inductive)


def test_state_dict_round_trip_and_checks():
    X = random_interactions(1)
    model = GraphFilterCF(*X.shape, num_components=8).fit(X)
    clone = GraphFilterCF(*X.shape, num_components=8)
    clone.load_state_dict(model.state_dict())
    assert torch.equal(clone.score(torch.arange(5)), model.score(torch.arange(5)))
    with pytest.raises(ValueError, match="num_components"):
        GraphFilterCF(3, 5, num_components=6)
    with pytest.raises(ValueError, match="interactions shape"):
        GraphFilterCF(3, 5, num_components=2).fit(np.ones((4, 5)))


def test_registered_as_closed_form():
    from kgrec.models.registry import CLOSED_FORM, get_spec

    spec = get_spec("gf-cf")
    assert spec.fit == CLOSED_FORM and not spec.inductive and not spec.uses_kg


def test_truncated_and_dense_eigenvectors_span_the_same_space():
    """V_k V_k^T from ARPACK (k < min(U, I) - 1) and from the dense fallback both equal
    the projection on the top-k right singular vectors of a full SVD."""
    from kgrec.models.graph_filter import top_right_singular_vectors

    X = random_interactions(seed=3)[:, :-1]
    _, _, vt = np.linalg.svd(X)
    for k in (3, 18, 19):  # 19 >= min(30, 19) - 1: dense fallback
        V = top_right_singular_vectors(sp.csr_matrix(X), k)
        assert V.shape == (X.shape[1], k)
        np.testing.assert_allclose(V @ V.T, vt[:k].T @ vt[:k], atol=1e-8)
