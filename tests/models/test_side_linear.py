"""KG-and-text DLAE: reduces to DLAE without side information, scores never-rated movies
from the side information, and reads the registry's context."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from kgrec.models.linear import DLAE
from kgrec.models.side_linear import KGTextDLAE, side_gram


def toy(seed: int = 0):
    """40 users, 12 movies; movies 10 and 11 are never rated. Movies 0-4 share director
    entity 0, movies 5-9 entity 1; movie 10 has entity 0, movie 11 entity 1."""
    rng = np.random.default_rng(seed)
    X = np.zeros((40, 12))
    X[:20, :5] = rng.random((20, 5)) < 0.6   # users 0-19 like the first director's films
    X[20:, 5:10] = rng.random((20, 5)) < 0.6  # users 20-39 the second's
    X[np.arange(40), np.where(np.arange(40) < 20, 0, 5)] = 1  # nobody's history is empty
    K = np.zeros((12, 2))
    K[[0, 1, 2, 3, 4, 10], 0] = 1
    K[[5, 6, 7, 8, 9, 11], 1] = 1
    return sp.csr_matrix(X), sp.csr_matrix(K)


def test_without_side_information_it_is_dlae():
    X, K = toy()
    plain = DLAE(40, 12, dropout=0.5, reg=3.0).fit(X)
    for model in (KGTextDLAE(40, 12, dropout=0.5, reg=3.0),
                  KGTextDLAE(40, 12, item_entities=K, item_text=torch.zeros(12, 4),
                             w_kg=0.0, cold_w_kg=0.0, dropout=0.5, reg=3.0)):
        model.fit(X)
        torch.testing.assert_close(model.weight, plain.weight)


def test_scores_a_movie_with_no_ratings_from_the_kg():
    X, K = toy()
    model = KGTextDLAE(40, 12, item_entities=K, w_kg=5.0, cold_w_kg=5.0, reg=3.0).fit(X)
    scores = model.score(torch.arange(40))
    assert (scores[:, 10:] != 0).any()
    # fans of the first director rank the unseen movie 10 (same director) above movie 11,
    # fans of the second the other way round (a linear model may miss for a user or two)
    assert (scores[:20, 10] > scores[:20, 11]).float().mean() >= 0.9
    assert (scores[20:, 11] > scores[20:, 10]).float().mean() >= 0.9
    assert scores[:20, 10].mean() > scores[:20, 11].mean()
    assert scores[20:, 11].mean() > scores[20:, 10].mean()
    # a new user given only by a history is scored the same way
    history = torch.zeros(1, 12)
    history[0, [1, 3]] = 1
    s = model.score_history(history)[0]
    assert s[10] > s[11]


def test_rated_and_unrated_columns_come_from_their_own_weights():
    X, K = toy()
    T = torch.randn(12, 3, generator=torch.Generator().manual_seed(0))
    both = KGTextDLAE(40, 12, item_entities=K, item_text=T, w_kg=1.0, w_text=2.0,
                      cold_w_kg=50.0, cold_w_text=20.0, reg=3.0).fit(X)
    warm = KGTextDLAE(40, 12, item_entities=K, item_text=T, w_kg=1.0, w_text=2.0,
                      cold_w_kg=1.0, cold_w_text=2.0, reg=3.0).fit(X)
    cold = KGTextDLAE(40, 12, item_entities=K, item_text=T, w_kg=50.0, w_text=20.0,
                      cold_w_kg=50.0, cold_w_text=20.0, reg=3.0).fit(X)
    torch.testing.assert_close(both.weight[:, :10], warm.weight[:, :10])
    torch.testing.assert_close(both.weight[:, 10:], cold.weight[:, 10:])
    assert not torch.allclose(warm.weight[:, 10:], cold.weight[:, 10:])


def test_text_enters_centred_and_normalised():
    T = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.0, 0.0]])
    G = side_gram(None, T, 4, 0.0, 2.0)
    assert G[3].tolist() == [0, 0, 0, 0]  # no text: no similarity
    assert G[0, 1] > 0 > G[0, 2]
    np.testing.assert_allclose(np.diag(G)[:3], 2.0)
    with pytest.raises(ValueError, match="item_text has 4 rows"):
        side_gram(None, T, 5, 0.0, 1.0)
    with pytest.raises(ValueError, match="cold_w_text=-1"):
        KGTextDLAE(3, 4, cold_w_text=-1)


def test_registered_inductive_and_ablation_changes_it(sample_dataset):
    from kgrec.data import cold_start_split
    from kgrec.evaluate import candidate_indices, evaluate, to_csr
    from kgrec.evaluate.ablation import run_ablation
    from kgrec.graph import KnowledgeGraph
    from kgrec.models.registry import CLOSED_FORM, get_spec
    from kgrec.train import ModelContext, fit_model

    spec = get_spec("kg-text-dlae")
    assert spec.fit == CLOSED_FORM and spec.inductive and spec.uses_kg
    split = cold_start_split(sample_dataset.ratings, cold_fraction=0.2, seed=0)
    kg = KnowledgeGraph.from_dataset(sample_dataset, split.train)
    gen = torch.Generator().manual_seed(0)
    features = {t: torch.randn(kg.num_nodes(t), 8, generator=gen)
                for t in kg.node_types if t != "user"}
    ctx = ModelContext.from_graph(kg, to_csr(split.valid, kg), features)
    test, mask = to_csr(split.test, kg), (ctx.train + ctx.valid).tocsr()
    cold = candidate_indices(split.cold_items, kg)
    model = fit_model("kg-text-dlae", ctx).model
    assert model.score(torch.arange(3))[:, cold].abs().sum() > 0
    res = evaluate(model, test=test, mask=mask, candidates=cold)
    assert res["recall@20"] > 0
    ablation = run_ablation("kg-text-dlae", ctx, test=test, mask=mask, candidates=cold)
    assert ablation.metrics["no kg"] != ablation.metrics["full"]
    assert ablation.metrics["no text"] != ablation.metrics["full"]


def test_usable_as_a_hybrid_component():
    from kgrec.config import ModelConfig

    assert ModelConfig(hybrid_components=("kg-text-dlae", "lightgcn")).hybrid_components[0] == \
        "kg-text-dlae"


def test_registry_passes_the_configured_side_weights(sample_dataset):
    """``model.side_w_kg`` / ``side_w_text`` reach the kg-text-dlae the registry builds."""
    from kgrec.config import KGRecConfig
    from kgrec.data import random_split
    from kgrec.models.registry import build_model
    from kgrec.train import build_context

    split = random_split(sample_dataset.ratings, (0.8, 0.1, 0.1), seed=0)
    ctx = build_context(sample_dataset, split.train, split.valid, KGRecConfig(), text=False)
    model = build_model("kg-text-dlae", ctx, KGRecConfig().replace(
        model={"side_w_kg": 30.0, "side_w_text": 0.0}))
    assert (model.w_kg, model.w_text) == (30.0, 0.0)
    default = build_model("kg-text-dlae", ctx, KGRecConfig())
    assert (default.w_kg, default.w_text) == (10.0, 100.0)
