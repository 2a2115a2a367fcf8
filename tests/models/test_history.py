"""Sparse user histories (kgrec.models.history) and the item-item models that keep them."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from kgrec.models.baselines import ItemKNN, Popularity
from kgrec.models.history import binary_csr


def _X(seed=0, users=30, items=20):
    rng = np.random.default_rng(seed)
    return (rng.random((users, items)) < 0.25).astype(np.float32)


def test_binary_csr_accepts_every_input_form_and_checks_the_shape():
    X = _X()
    dup = sp.coo_matrix((np.array([2.0, 3.0]), (np.array([0, 0]), np.array([1, 1]))), shape=(30, 20))
    for given in (X, sp.csr_matrix(X * 5), torch.from_numpy(X), torch.from_numpy(X).to_sparse()):
        out = binary_csr(given, 30, 20)
        assert out.has_sorted_indices and set(out.data) == {1.0}
        np.testing.assert_array_equal(out.toarray(), X != 0)
    assert binary_csr(dup, 30, 20).nnz == 1
    with pytest.raises(ValueError, match="shape"):
        binary_csr(X, 20, 30)


def test_itemknn_and_popularity_keep_histories_sparse_and_score_as_dense():
    X = _X(1)
    knn = ItemKNN(30, 20, k=5, block_size=7).fit(sp.csr_matrix(X))
    assert not any(b.shape == (30, 20) for b in knn.buffers())  # no dense [U, I] state
    np.testing.assert_array_equal(knn.history_rows(torch.arange(30)).numpy(), X)
    dense = ItemKNN(30, 20, k=5, block_size=20).fit(torch.from_numpy(X))
    torch.testing.assert_close(knn.score(torch.arange(30)), dense.score(torch.arange(30)))
    torch.testing.assert_close(Popularity(30, 20).fit(sp.csr_matrix(X)).counts,
                               torch.from_numpy(X.sum(0)))
    with pytest.raises(IndexError, match="user index 30"):
        knn.score(torch.tensor([30]))


def test_itemknn_loads_artifacts_with_a_dense_history():
    X = _X(2)
    knn = ItemKNN(30, 20, k=5).fit(X)
    old = {k: v for k, v in knn.state_dict().items() if not k.startswith("history_")}
    old["interactions"] = torch.from_numpy(X != 0)
    fresh = ItemKNN(30, 20, k=5)
    fresh.load_state_dict(old)
    torch.testing.assert_close(fresh.score(torch.arange(30)), knn.score(torch.arange(30)))
