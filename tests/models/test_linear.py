"""DLAE: the closed form against its formula, argument checks, the low-rank form for
large catalogues, sparse histories."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from kgrec.models.linear import DLAE, randomized_gram_eigh


def _interactions(seed=0, users=80, items=60, density=0.12):
    rng = np.random.default_rng(seed)
    dense = (rng.random((users, items)) < density).astype(np.float32)
    dense[np.arange(users), rng.integers(0, items, users)] = 1.0
    return sp.csr_matrix(dense)


def test_exact_matches_formula():
    X = _interactions()
    model = DLAE(80, 60, dropout=0.5, reg=10.0).fit(X)
    assert not model.low_rank
    G = (X.T @ X).toarray().astype(np.float64)
    lam = np.diag(10.0 + 1.0 * np.diag(G))
    B = np.eye(60) - np.linalg.solve(G + lam, lam)
    expected = X.toarray() @ B
    np.testing.assert_allclose(model.score(torch.arange(80)).numpy(), expected, atol=1e-4)


def test_randomized_eigh_recovers_full_spectrum_and_top_part():
    X = _interactions(items=40)
    G = (X.T @ X).toarray()
    V, s = randomized_gram_eigh(X, 40)
    np.testing.assert_allclose((V * s) @ V.T, G, atol=1e-6)
    top = np.sort(np.linalg.eigvalsh(G))[::-1][:5]
    np.testing.assert_allclose(randomized_gram_eigh(X, 5)[1], top, rtol=1e-3)


def test_low_rank_at_full_rank_equals_exact():
    """With k = I the low-rank Gram is exact, so the Woodbury form must give the same B."""
    X = _interactions()
    exact = DLAE(80, 60, reg=10.0).fit(X)
    low = DLAE(80, 60, reg=10.0, max_dense_items=0, rank=60, large_form="low_rank").fit(X)
    assert low.low_rank and not hasattr(low, "weight")
    users = torch.arange(80)
    torch.testing.assert_close(low.score(users), exact.score(users), atol=1e-3, rtol=1e-3)


def test_low_rank_memory_is_linear_in_items():
    model = DLAE(10, 50_000, max_dense_items=10_000, rank=32, large_form="low_rank")
    assert model.low_rank
    assert all(b.numel() <= 50_000 * 32 for b in model.buffers())


def test_sparse_history_rows_and_state_dict_round_trip():
    X = _interactions()
    model = DLAE(80, 60, max_dense_items=0, rank=16, large_form="low_rank").fit(X)
    users = torch.tensor([3, 0, 79, 3])
    np.testing.assert_array_equal(model.history_rows(users).numpy(), X[[3, 0, 79, 3]].toarray())
    fresh = DLAE(80, 60, max_dense_items=0, rank=16, large_form="low_rank")
    fresh.load_state_dict(model.state_dict(), strict=True)
    torch.testing.assert_close(fresh.score(users), model.score(users))
    with pytest.raises(IndexError, match="user index 80"):
        model.score(torch.tensor([80]))


def test_loads_a_dense_history_from_older_artifacts():
    X = _interactions()
    model = DLAE(80, 60).fit(X)
    state = {"weight": model.weight, "history": torch.from_numpy(X.toarray())}
    fresh = DLAE(80, 60)
    fresh.load_state_dict(state, strict=True)
    torch.testing.assert_close(fresh.score(torch.arange(5)), model.score(torch.arange(5)))


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


def test_neighborhood_form_with_every_item_equals_exact_and_is_sparse():
    """The default large form: with ``neighbors >= I`` each column's system is the full
    one, so B is the exact B; with fewer neighbours B has at most ``neighbors`` entries
    per column and its state round-trips through ``state_dict``."""
    from kgrec.models.linear import capped_gram

    X = _interactions()
    exact = DLAE(80, 60, reg=10.0).fit(X)
    full = DLAE(80, 60, reg=10.0, max_dense_items=0, neighbors=60).fit(X)
    assert full.sparse_weights and not full.low_rank and not hasattr(full, "weight")
    users = torch.arange(80)
    torch.testing.assert_close(full.score(users), exact.score(users), atol=1e-4, rtol=1e-4)
    small = DLAE(80, 60, reg=10.0, max_dense_items=0, neighbors=8).fit(X)
    assert int(torch.diff(small.weight_indptr).max()) <= 8
    assert not any(b.numel() >= 60 * 60 for b in small.buffers())
    fresh = DLAE(80, 60, reg=10.0, max_dense_items=0, neighbors=8)
    fresh.load_state_dict(small.state_dict(), strict=True)
    torch.testing.assert_close(fresh.score(users), small.score(users))
    torch.testing.assert_close(small.score_history(small.history_rows(users[:5])),
                               small.score(users[:5]))
    # the co-occurrence counts cap long histories at max_history items, seeded
    G = capped_gram(X, 3)
    assert G.diagonal().sum() == np.minimum(np.diff(X.indptr), 3).sum()
    assert (capped_gram(X, 3) != G).nnz == 0
    np.testing.assert_allclose(capped_gram(X, 1000).toarray(), (X.T @ X).toarray())
    with pytest.raises(ValueError, match="large_form"):
        DLAE(3, 3, large_form="dense")


@pytest.mark.parametrize("max_dense_items", [10_000, 1])
def test_small_batch_sum_of_rows_equals_the_dense_product(max_dense_items):
    """A request's few users are scored by summing weight rows: same numbers as ``x B``
    (exact) or ``(x L) R^T`` (low rank) for a large batch."""
    from kgrec.models.linear import SPARSE_SCORE_USERS

    X = _interactions(seed=3)
    model = DLAE(80, 60, reg=10.0, rank=8, max_dense_items=max_dense_items,
                 large_form="low_rank").fit(X)
    assert model.low_rank == (max_dense_items == 1)
    users = torch.tensor([5, 0, 79, 5])
    assert len(users) <= SPARSE_SCORE_USERS
    dense = model.score_history(model.history_rows(users))
    torch.testing.assert_close(model.score(users), dense, atol=1e-5, rtol=1e-5)
    big = torch.arange(80).repeat(1 + SPARSE_SCORE_USERS // 80 + 1)[:SPARSE_SCORE_USERS + 1]
    torch.testing.assert_close(model.score(big)[:4], model.score(big[:4]), atol=1e-5, rtol=1e-5)


def test_neighborhood_form_scores_a_request_by_summing_rows_of_b():
    """A few users are scored from the row-major copy of the sparse B: the same numbers
    as the sparse product of a large batch."""
    X = _interactions(seed=4)
    model = DLAE(80, 60, reg=10.0, max_dense_items=0, neighbors=12).fit(X)
    users = torch.tensor([7, 2, 7])
    torch.testing.assert_close(model.score(users),
                               model.score_history(model.history_rows(users)),
                               atol=1e-5, rtol=1e-5)


def test_neighborhood_state_without_the_row_copy_still_loads():
    X = _interactions(seed=5)
    model = DLAE(80, 60, reg=10.0, max_dense_items=0, neighbors=12).fit(X)
    old = {k: v for k, v in model.state_dict().items() if not k.startswith("row_")}
    fresh = DLAE(80, 60, reg=10.0, max_dense_items=0, neighbors=12)
    fresh.load_state_dict(old, strict=True)
    users = torch.tensor([1, 9])
    torch.testing.assert_close(fresh.score(users), model.score(users))


def test_sparse_leave_one_out_equals_the_dense_rows():
    """The neighbourhood form's history_loo works on the history rows' entries; its
    columns, row moments and standardised columns are those of the dense rows."""
    from kgrec.models.base import linear_loo
    from kgrec.models.loo import SparseLinearLOO

    X = _interactions(seed=3)
    model = DLAE(80, 60, reg=10.0, max_dense_items=0, neighbors=12).fit(X)
    for history in (torch.tensor([3, 17, 40, 41, 59]), torch.tensor([7]),
                    torch.tensor([50, 2, 33])):  # any order
        sparse = model.history_loo(history)
        assert isinstance(sparse, SparseLinearLOO)
        dense = linear_loo(history, lambda h: model._sparse_rows_sum(
            torch.arange(len(h)), h, len(h)))
        torch.testing.assert_close(sparse.columns(), dense.columns(), atol=1e-6, rtol=1e-6)
        torch.testing.assert_close(sparse.columns(torch.tensor([0, 9, 59])),
                                   dense.columns(torch.tensor([0, 9, 59])), atol=1e-6, rtol=1e-6)
        for a, b in zip(sparse.moments(), dense.moments()):
            torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)
        for item in (0, 17, 59):
            np.testing.assert_allclose(sparse.column(item), dense.column(item), atol=1e-6)
            if len(history) > 1:  # (with one movie, row 1 scores nothing: std 0, noise)
                np.testing.assert_allclose(sparse.standardized_column(item),
                                           dense.standardized_column(item), atol=1e-5)
