"""build_context (the one dataset → graph → text → context wiring) and fit_model."""

import numpy as np
import pytest
import torch

from kgrec.config import KGRecConfig
from kgrec.train import build_context, fit_model, item_years

FAST = KGRecConfig().replace(train={"epochs": 2, "eval_every": 1, "show_progress": False},
                             text={"show_progress": False})


@pytest.fixture(scope="module")
def parts(sample_dataset):
    from kgrec.data import random_split

    split = random_split(sample_dataset.ratings, (0.8, 0.1, 0.1), seed=0)
    return split, build_context(sample_dataset, split.train, split.valid, FAST, text=False)


def test_context_holds_training_data_only(sample_dataset, parts):
    from kgrec.evaluate import to_csr

    split, ctx = parts
    assert ctx.node_features is None
    assert ctx.train.nnz == len(split.train.drop_duplicates(["user_id", "item_id"]))
    assert (ctx.valid != to_csr(split.valid, ctx.kg)).nnz == 0
    assert ctx.train.multiply(ctx.valid).nnz == 0  # no validation pair in the graph
    np.testing.assert_array_equal(ctx.item_popularity.numpy(),
                                  np.asarray(ctx.train.sum(0)).ravel())
    years = item_years(sample_dataset, ctx.kg)
    assert years.dtype == np.int64 and len(years) == ctx.kg.num_items
    known = sample_dataset.items.set_index("item_id")["year"].dropna()
    first = next(i for i in ctx.kg.item_ids if i in known.index)
    assert years[ctx.kg.item_index(first)] == int(known[first])
    matrix, ids = ctx.item_entities(("has_genre",))
    assert matrix.shape == (ctx.kg.num_items, len(ids))
    assert all(i.startswith("has_genre|genre:") for i in ids)
    assert ctx.item_entities(("has_genre",))[0] is matrix  # cached
    with pytest.raises(ValueError, match="needs movie text features"):
        ctx.item_features


def test_empty_validation_means_no_validation(sample_dataset, parts):
    split, _ = parts
    ctx = build_context(sample_dataset, split.train, split.valid.iloc[:0], FAST, text=False)
    assert ctx.valid is None
    result = fit_model("bpr", ctx, FAST)
    assert len(result.training.history) == 2 and np.isnan(result.training.best_score)


def test_fit_kinds(parts):
    _, ctx = parts
    closed = fit_model("ease", ctx, FAST)
    assert closed.training is None and not closed.model.training
    trained = fit_model("lightgcn", ctx, FAST)
    assert [h["epoch"] for h in trained.training.history] == [1, 2]
    assert "valid_ndcg@10" in trained.training.history[0]
    fused = fit_model("hybrid", ctx, FAST.replace(model={"hybrid_components": ("ease", "pop")}))
    assert set(fused.details["weights"]) == {"ease", "pop"}
    assert fused.training is None and set(fused.details["components"]) == {"ease", "pop"}
    with torch.no_grad():
        assert fused.model.score(torch.tensor([0, 1])).shape == (2, ctx.kg.num_items)


def test_warm_negatives_and_training_options_come_from_the_spec(parts, monkeypatch):
    """fit_model passes the spec's training options and, for warm_negatives, only the
    movies with training interactions as negatives."""
    from dataclasses import replace

    from kgrec.models import registry
    from kgrec.train import TrainResult
    from kgrec.train import fit as fit_module

    _, ctx = parts
    seen = {}

    def spy(model, interactions, config, *, validate=None, negative_items=None):
        seen.update(config=config, negatives=negative_items)
        return TrainResult()

    monkeypatch.setattr(fit_module, "train_bpr", spy)
    spec = replace(registry.REGISTRY["bpr"], warm_negatives=True,
                   train_options=lambda c: replace(c.train, epochs=7))
    monkeypatch.setitem(registry.REGISTRY, "bpr", spec)
    fit_model("bpr", ctx, FAST)
    warm = np.flatnonzero(np.asarray(ctx.train.sum(0)).ravel() > 0)
    np.testing.assert_array_equal(seen["negatives"], warm)
    assert seen["config"].epochs == 7
    assert registry.REGISTRY["sage"].warm_negatives and not registry.REGISTRY["lightgcn"].warm_negatives


def test_fusion_reuses_given_component_fits(parts, monkeypatch):
    """A fusion given a component's fit copies its state (no second BPR run) and scores
    exactly as the fusion fitted from scratch with the same seed."""
    from kgrec.train import fit as fit_module

    _, ctx = parts
    config = FAST.replace(model={"hybrid_components": ("ease", "lightgcn")})
    alone = fit_model("lightgcn", ctx, config)
    scratch = fit_model("hybrid", ctx, config)
    assert alone.component_fits() == {} and set(scratch.component_fits()) == {"ease", "lightgcn"}
    runs = []
    real = fit_module.train_bpr
    monkeypatch.setattr(fit_module, "train_bpr", lambda *a, **k: runs.append(1) or real(*a, **k))
    reused = fit_model("hybrid", ctx, config, fitted={"lightgcn": alone})
    assert runs == []
    assert reused.details["components"]["lightgcn"] is alone.training
    users = torch.arange(ctx.kg.num_users)
    with torch.no_grad():
        torch.testing.assert_close(reused.model.score(users), scratch.model.score(users))
    assert reused.details["weights"] == scratch.details["weights"]
