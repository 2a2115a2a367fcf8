"""LightGCN: normalised adjacency, symmetric sparse backward, scoring, seeds."""

import numpy as np
import scipy.sparse as sp
import torch

from kgrec.models.lightgcn import LightGCN, SymmetricSpMM, normalized_adjacency


def _interactions(seed=0, users=30, items=40, density=0.15):
    rng = np.random.default_rng(seed)
    dense = (rng.random((users, items)) < density).astype(np.float32)
    dense[np.arange(users), rng.integers(0, items, users)] = 1.0
    return sp.csr_matrix(dense)


def test_normalized_adjacency_matches_formula():
    R = _interactions()
    A = normalized_adjacency(R).to_dense().numpy()
    U, I = R.shape
    full = np.zeros((U + I, U + I), dtype=np.float32)
    full[:U, U:] = R.toarray()
    full[U:, :U] = R.toarray().T
    deg = full.sum(1)
    inv = np.where(deg > 0, 1 / np.sqrt(np.maximum(deg, 1)), 0)
    np.testing.assert_allclose(A, inv[:, None] * full * inv[None, :], atol=1e-6)
    np.testing.assert_allclose(A, A.T, atol=1e-7)


def test_side_edges_add_entity_nodes():
    R = _interactions()
    side = sp.random(40, 7, density=0.2, random_state=0, format="csr")
    A = normalized_adjacency(R, side)
    assert A.shape == (30 + 40 + 7, 30 + 40 + 7)
    dense = A.to_dense()
    assert torch.allclose(dense, dense.T, atol=1e-7)
    assert dense[30:70, 70:].abs().sum() > 0


def test_symmetric_spmm_gradient_equals_autograd():
    R = _interactions()
    A = normalized_adjacency(R)
    x = torch.randn(A.shape[0], 8, requires_grad=True)
    g = torch.randn(A.shape[0], 8)
    (SymmetricSpMM.apply(x, A) * g).sum().backward()
    ours = x.grad.clone()
    x.grad = None
    (A.to_dense() @ x * g).sum().backward()
    torch.testing.assert_close(ours, x.grad, atol=1e-5, rtol=1e-5)


def test_propagation_is_layer_mean():
    R = _interactions()
    A = normalized_adjacency(R)
    model = LightGCN(30, 40, A, embedding_size=8, num_layers=2)
    e0 = model.embedding.weight.detach()
    dense = A.to_dense()
    expected = (e0 + dense @ e0 + dense @ (dense @ e0)) / 3
    users, items = model.propagate()
    torch.testing.assert_close(users, expected[:30], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(items, expected[30:], atol=1e-5, rtol=1e-5)
    scores = model.score(torch.tensor([0, 3]))
    torch.testing.assert_close(scores, expected[[0, 3]] @ expected[30:].T, atol=1e-5, rtol=1e-5)


def test_bpr_scores_shapes_and_reg():
    A = normalized_adjacency(_interactions())
    model = LightGCN(30, 40, A, embedding_size=8)
    u, i, j = torch.tensor([0, 1, 2]), torch.tensor([3, 4, 5]), torch.tensor([6, 7, 8])
    pos, neg, reg = model.bpr_scores(u, i, j)
    assert pos.shape == neg.shape == (3,)
    w = model.embedding.weight
    expected = (w[u].pow(2).sum() + w[30 + i].pow(2).sum() + w[30 + j].pow(2).sum()) / 6
    torch.testing.assert_close(reg, expected)


def test_text_modes():
    A = normalized_adjacency(_interactions())
    feats = torch.randn(40, 16)
    fused = LightGCN(30, 40, A, embedding_size=8, item_features=feats, text_mode="fuse")
    pos, neg, _ = fused.bpr_scores(torch.tensor([0]), torch.tensor([1]), torch.tensor([2]))
    (pos - neg).sum().backward()
    assert fused.text_proj.weight.grad is not None and fused.text_proj.weight.grad.abs().sum() > 0
    init = LightGCN(30, 40, A, embedding_size=8, item_features=feats, text_mode="init")
    item_init = init.embedding.weight[30:70].detach()
    # items with similar text start closer than the identity-free random init would place them
    assert torch.isfinite(item_init).all() and item_init.std() > 0


def test_score_history_uses_item_embeddings():
    A = normalized_adjacency(_interactions())
    model = LightGCN(30, 40, A, embedding_size=8).eval()
    history = torch.zeros(1, 40)
    history[0, [1, 2]] = 1
    items = model.item_embeddings()
    torch.testing.assert_close(model.score_history(history)[0], items[[1, 2]].mean(0) @ items.T)


def test_adjacency_has_int32_indices_and_is_a_buffer():
    """int32 indices: MKL's sparse product then needs no per-call index copy."""
    A = normalized_adjacency(_interactions())
    assert A.crow_indices().dtype == A.col_indices().dtype == torch.int32
    model = LightGCN(30, 40, A, embedding_size=8)
    assert any(b is model.adjacency for b in model.buffers())
    assert "adjacency" not in model.state_dict()


def test_layer_mean_propagation_gradient_equals_autograd():
    from kgrec.models.lightgcn import LayerMeanPropagation

    A = normalized_adjacency(_interactions())
    dense = A.to_dense()
    x = torch.randn(A.shape[0], 8, requires_grad=True)
    g = torch.randn(A.shape[0], 8)
    (LayerMeanPropagation.apply(x, A, 3) * g).sum().backward()
    ours = x.grad.clone()
    x.grad = None
    layers = [x]
    for _ in range(3):
        layers.append(dense @ layers[-1])
    (torch.stack(layers).mean(0) * g).sum().backward()
    torch.testing.assert_close(ours, x.grad, atol=1e-5, rtol=1e-5)
    assert torch.equal(LayerMeanPropagation.apply(x.detach(), A, 0), x.detach())


def test_small_graphs_train_on_one_thread_with_threaded_sparse_products(monkeypatch):
    from kgrec.train.bpr import train_bpr
    from kgrec.train.options import TrainConfig

    from kgrec.models import lightgcn as lightgcn_module

    before_all = torch.get_num_threads()
    R = _interactions()
    model = LightGCN(30, 40, normalized_adjacency(R), embedding_size=8)
    assert model.preferred_threads == 1
    seen = []
    original = model.bpr_scores

    def spy(*args):
        seen.append(torch.get_num_threads())
        return original(*args)

    model.bpr_scores = spy
    products = []
    propagate = lightgcn_module.propagate_mean

    def spy_products(*args):
        products.append(torch.get_num_threads())
        return propagate(*args)

    monkeypatch.setattr(lightgcn_module, "propagate_mean", spy_products)
    torch.set_num_threads(2)
    try:
        train_bpr(model, R, TrainConfig(epochs=1, batch_size=64, show_progress=False))
        assert torch.get_num_threads() == 2 and model.sparse_threads is None
        # the loop ran on one thread, the sparse products (forward and backward) on the
        # caller's two
        assert set(seen) == {1} and set(products) == {2} and len(products) >= 2 * len(seen)
        products.clear()
        train_bpr(model, R, TrainConfig(epochs=1, batch_size=64, show_progress=False,
                                        threads=1))
        assert set(products) == {1}  # an explicit thread count holds for the products too
    finally:
        torch.set_num_threads(before_all)
    # above the work threshold torch's own setting is kept
    monkeypatch.setattr(LightGCN, "SINGLE_THREAD_WORK", model.adjacency._nnz() * 8)
    assert model.preferred_threads is None
