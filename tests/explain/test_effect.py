"""The model's leave-one-out effect (kgrec.explain.effect)."""

from __future__ import annotations

import numpy as np
import torch

from kgrec.explain.effect import leave_one_out, model_anchor_effect


def test_linear_scorer_effect_is_the_weight_row():
    """For ``s = x B`` removing history movie ``h`` lowers every score by ``B[h]``."""
    rng = np.random.default_rng(0)
    weight = torch.from_numpy(rng.normal(size=(7, 7))).float()
    effect = leave_one_out(lambda h: h @ weight, 7, batch_size=2)  # several batches
    history = np.array([0, 3, 5])
    out = effect(0, history)
    assert out.shape == (3, 7)
    np.testing.assert_allclose(out, weight.numpy()[history], rtol=1e-5, atol=1e-5)
    assert effect(0, np.array([], dtype=np.int64)).shape == (0, 7)


def test_nonlinear_scorer_matches_removing_each_movie():
    def score(h):  # mean of the history's rows of a fixed matrix: not linear in h
        m = torch.arange(25, dtype=torch.float32).reshape(5, 5)
        return (h @ m) / h.sum(1, keepdim=True).clamp_min(1.0)

    history = np.array([1, 2, 4])
    out = leave_one_out(score, 5)(3, history)
    full = torch.zeros(1, 5)
    full[0, history] = 1.0
    for j, movie in enumerate(history):
        without = full.clone()
        without[0, movie] = 0.0
        np.testing.assert_allclose(out[j], (score(full) - score(without))[0].numpy(), atol=1e-6)


def test_models_without_history_scoring_give_none():
    class NoHistory:
        def score_history(self, h):
            raise NotImplementedError

    class Linear:
        def score_history(self, h):
            return h * 2.0

    assert model_anchor_effect(NoHistory(), 4) is None
    column = model_anchor_effect(Linear(), 4)(0, np.array([1]))
    assert [column(i).tolist() for i in range(4)] == [[0], [2], [0], [0]]


def _fitted_models():
    """Small fitted models of every closed form of ``score_history_loo`` (and their fusion)."""
    import scipy.sparse as sp

    from kgrec.models.baselines import EASE, GenreProfile, Popularity
    from kgrec.models.hybrid import ScoreFusion
    from kgrec.models.lightgcn import LightGCN, normalized_adjacency
    from kgrec.models.linear import DLAE

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x = sp.csr_matrix((rng.random((12, 9)) < 0.4).astype(np.float32))
    ease = EASE(12, 9).fit(x)
    dlae = DLAE(12, 9).fit(x)
    low = DLAE(12, 9, rank=4, max_dense_items=1, large_form="low_rank").fit(x)
    near = DLAE(12, 9, neighbors=4, max_dense_items=1).fit(x)
    gcn = LightGCN(12, 9, normalized_adjacency(x), embedding_size=8).eval()
    fusion = ScoreFusion({"dlae": dlae, "gcn": gcn}, {"dlae": 0.7, "gcn": 0.3}).eval()
    assert low.low_rank and not dlae.low_rank
    assert near.sparse_weights
    # genre and director profiles (movies with 0, 1 or several entities), popularity
    genres = sp.csr_matrix((rng.random((9, 4)) < 0.4).astype(np.float32))
    genre = GenreProfile(genres, 12).fit(x)
    people = GenreProfile(sp.csr_matrix((rng.random((9, 6)) < 0.3).astype(np.float32)), 12).fit(x)
    people.dense_entities = 1  # the sparse path large catalogues take
    pop, log_pop = Popularity(12, 9).fit(x), Popularity(12, 9, log=True).fit(x)
    large = ScoreFusion({"dlae": dlae, "log-pop": log_pop, "genre": genre, "people": people},
                        {"dlae": 0.2, "log-pop": 0.4, "genre": 0.3, "people": 0.1}).eval()
    return {"ease": ease, "dlae": dlae, "dlae-low-rank": low, "dlae-neighbors": near,
            "lightgcn": gcn, "fusion": fusion, "genre-profile": genre,
            "people-profile": people, "pop": pop, "log-pop": log_pop, "large-fusion": large}


def test_closed_form_leave_one_out_equals_scoring_each_shorter_history():
    """Every model's fast ``history_loo`` gives the columns and per-row moments that scoring
    the full history and each history with one movie removed gives (the generic form)."""
    from kgrec.models.base import ScoringModel
    from kgrec.models.hybrid import standardize

    history = torch.tensor([0, 3, 5, 8])
    for name, model in _fitted_models().items():
        assert type(model).history_loo is not ScoringModel.history_loo, name
        with torch.no_grad():
            fast = model.history_loo(history)
            slow = ScoringModel.history_loo(model, history, batch_size=3)
        full = slow.columns()
        assert fast.columns().shape == (5, 9), name
        np.testing.assert_allclose(fast.columns().numpy(), full.numpy(), rtol=1e-4,
                                   atol=1e-4, err_msg=name)
        cols = torch.tensor([7, 1])
        np.testing.assert_allclose(fast.columns(cols).numpy(), full[:, cols].numpy(),
                                   rtol=1e-4, atol=1e-4, err_msg=name)
        exclude = torch.zeros(5, 9, dtype=torch.bool)
        exclude[:, history] = True
        exclude[torch.arange(1, 5), history] = False
        np.testing.assert_allclose(fast.standardized_columns(cols).numpy(),
                                   standardize(full.double(), exclude)[:, cols].numpy(),
                                   rtol=1e-4, atol=1e-4, err_msg=name)


def test_dlae_leave_one_out_with_its_precomputed_row_stats_is_exact():
    """DLAE gives LinearLOO its weight rows' sums and squares, computed once per weight:
    the very numbers LinearLOO computes from a history's rows, and refreshed when the
    weight changes."""
    from kgrec.models.loo import LinearLOO

    dlae = _fitted_models()["dlae"]
    for history in (torch.tensor([0, 3, 5, 8]), torch.tensor([2]), torch.arange(9)):
        with torch.no_grad():
            fast = dlae.history_loo(history)
            plain = LinearLOO(history, dlae.weight.index_select(0, history).float())
        for got, want in zip(fast.moments(), plain.moments()):
            assert torch.equal(got, want)
        assert torch.equal(fast.columns(), plain.columns())
    with torch.no_grad():
        dlae.weight.mul_(2.0)
        history = torch.tensor([1, 4])
        doubled = dlae.history_loo(history).moments()
        plain = LinearLOO(history, dlae.weight.index_select(0, history).float()).moments()
    assert all(torch.equal(a, b) for a, b in zip(doubled, plain))


def test_model_anchor_effect_uses_the_closed_form_and_matches_leave_one_out():
    for name, model in _fitted_models().items():
        history = np.array([1, 2, 7])
        column = model_anchor_effect(model, 9)(0, history)
        slow = leave_one_out(model.score_history, 9)(0, history)
        for item in range(9):
            np.testing.assert_allclose(column(item), slow[:, item], rtol=1e-4, atol=1e-4,
                                       err_msg=name)


def test_single_numpy_columns_equal_the_tensor_columns():
    history = torch.tensor([2, 4, 6])
    for name, model in _fitted_models().items():
        with torch.no_grad():
            loo = model.history_loo(history)
            full = loo.columns().double().numpy()
            z = loo.standardized_columns().numpy()
        for item in range(9):
            np.testing.assert_allclose(loo.column(item), full[:, item], rtol=1e-5, atol=1e-5,
                                       err_msg=name)
            np.testing.assert_allclose(loo.standardized_column(item), z[:, item], rtol=1e-5,
                                       atol=1e-5, err_msg=name)
