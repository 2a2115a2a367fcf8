"""Ablations: identical numbers for a model that ignores the removed signal, a real
difference for one that uses it, and the benchmark's --ablate mode."""

from __future__ import annotations

import json

import pytest
import torch

from kgrec.cli import main
from kgrec.data import random_split, write_split
from kgrec.evaluate import to_csr, training_segments
from kgrec.evaluate.ablation import (AblationResult, ablate_context, run_ablation, variants,
                                     without_kg)
from kgrec.graph import KnowledgeGraph
from kgrec.train import ModelContext


@pytest.fixture(scope="module")
def problem(sample_dataset):
    split = random_split(sample_dataset.ratings, (0.8, 0.1, 0.1), seed=0)
    kg = KnowledgeGraph.from_dataset(sample_dataset, split.train)
    valid, test = to_csr(split.valid, kg), to_csr(split.test, kg)
    features = {t: torch.randn(kg.num_nodes(t), 8, generator=torch.Generator().manual_seed(0))
                for t in kg.node_types if t != "user"}
    ctx = ModelContext.from_graph(kg, valid, features)
    mask = (ctx.train + valid).tocsr()
    return split, kg, ctx, test, mask


def test_without_kg_keeps_the_vocabulary(problem):
    _, kg, ctx, _, _ = problem
    bare = without_kg(kg)
    assert bare.nodes["user"] == kg.nodes["user"] and bare.nodes["movie"] == kg.nodes["movie"]
    assert set(bare.node_types) == {"user", "movie"} and len(bare.edge_types) == 1
    assert (bare.interaction_matrix() != ctx.train).nnz == 0
    reduced = ablate_context(ctx, ("kg", "text"))
    assert set(reduced.node_features) == {"movie"}
    assert not reduced.node_features["movie"].any()
    assert reduced.item_entities()[0].shape[1] == 0 < ctx.item_entities()[0].shape[1]
    with pytest.raises(ValueError, match="cannot remove"):
        ablate_context(ctx, ("graph",))
    assert list(variants(("kg", "text"))) == ["full", "no kg", "no text", "no kg+text"]


def test_model_that_ignores_kg_and_text_shows_no_difference(problem):
    _, kg, ctx, test, mask = problem
    res = run_ablation("ease", ctx, test=test, mask=mask, segments=training_segments(ctx.train))
    assert set(res.metrics) == {"full", "no kg", "no text", "no kg+text"}
    for variant in ("no kg", "no text", "no kg+text"):
        assert res.metrics[variant] == res.metrics["full"]
        assert res.gap(variant) == 0.0 and res.gap(variant, segment="user_q1") == 0.0
    assert "| ease (no kg) |" in res.table() and "+0.0%" in res.table()


def test_model_that_uses_the_signal_shows_a_difference(problem):
    _, kg, ctx, test, mask = problem
    res = run_ablation("text-cosine", ctx, test=test, mask=mask, remove=("text",))
    # zero text features leave every item tied: the ranking is the tie-break order
    assert res.metrics["full"]["ndcg@10"] != res.metrics["no text"]["ndcg@10"]
    with pytest.raises(ValueError, match="has_genre"):
        run_ablation("genre-profile", ctx, test=test, mask=mask, remove=("kg",))


def test_benchmark_ablate_mode(sample_dataset, tmp_path, capsys):
    write_split(random_split(sample_dataset.ratings, (0.8, 0.1, 0.1), seed=0), tmp_path / "s")
    out = tmp_path / "res.json"
    assert main(["benchmark", "--split-dir", str(tmp_path / "s"), "--dataset", "sample",
                 "--models", "dlae", "--ablate", "kg", "text", "--out", str(out),
                 "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "| dlae (no kg+text) |" in printed and "ndcg@10 user_q1" in printed
    data = json.loads(out.read_text())
    ablation = data["models"]["dlae"]["ablation"]
    assert ablation["metrics"]["full"]["ndcg@10"] == pytest.approx(data["models"]["dlae"]["ndcg@10"])
    assert ablation["metrics"]["no kg"] == ablation["metrics"]["full"]
    assert set(data["models"]["dlae"]["segments"]) >= {"user_q1", "item_tail"}
    assert "item_tail" in data["segments"]


def test_fusion_ablation_refits_only_the_components_that_read_a_signal(problem, monkeypatch):
    """Given the full fits, a fusion's signal-free components (EASE here) are reused in
    every variant and the KG-and-text component is refitted; the numbers are those of
    refitting everything."""
    from kgrec.config import KGRecConfig
    from kgrec.evaluate.ablation import signal_free
    from kgrec.models.baselines import EASE
    from kgrec.train import fit_model

    _, kg, ctx, test, mask = problem
    config = KGRecConfig().replace(model={"hybrid_components": ("ease", "kg-text-dlae")})
    assert signal_free("ease", config) and signal_free("lightgcn", config)
    assert not signal_free("kg-text-dlae", config) and not signal_free("sage", config)
    assert not signal_free("lightgcn", config.replace(model={"text_mode": "fuse"}))
    full = fit_model("hybrid", ctx, config)
    everything = run_ablation("hybrid", ctx, test=test, mask=mask, config=config, remove=("kg",))
    fits = []
    real_fit = EASE.fit
    monkeypatch.setattr(EASE, "fit", lambda self, x: fits.append(1) or real_fit(self, x))
    reused = run_ablation("hybrid", ctx, test=test, mask=mask, config=config, remove=("kg",),
                          full_fits=[full])
    assert fits == []  # the full model and "no kg", no EASE refit
    assert reused.reused == ["ease"] and everything.reused == []
    assert reused.metrics == everything.metrics
    assert reused.metrics["no kg"] != reused.metrics["full"]
    with pytest.raises(ValueError, match="full_fits"):
        run_ablation("hybrid", ctx, test=test, mask=mask, config=config, full_fits=[full, full])


def test_signal_free_model_given_its_full_fits_is_not_refitted(problem, monkeypatch):
    """EASE given its full fit and result: every variant is that result, and no fit runs;
    a fusion with a KG-reading component is not signal-free."""
    from kgrec.config import KGRecConfig
    from kgrec.evaluate import evaluate
    from kgrec.evaluate.ablation import signal_free
    from kgrec.models.baselines import EASE
    from kgrec.train import fit_model

    _, kg, ctx, test, mask = problem
    full = fit_model("ease", ctx)
    result = evaluate(full.model, test=test, mask=mask, ks=(10, 20))
    monkeypatch.setattr(EASE, "fit", lambda self, x: pytest.fail("EASE refitted"))
    res = run_ablation("ease", ctx, test=test, mask=mask, full_fits=[full],
                       full_results=[result])
    assert res.reused == ["ease"] and res.metrics["no kg+text"] == res.metrics["full"]
    assert AblationResult.from_dict(res.to_dict()).reused == ["ease"]
    config = KGRecConfig().replace(model={"hybrid_components": ("dlae", "lightgcn-kg")})
    assert not signal_free("hybrid", config)
    assert signal_free("hybrid", config.replace(model={"hybrid_components": ("dlae", "ease")}))
