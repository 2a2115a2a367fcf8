"""BPR loop: negatives never positive, zero_grad between batches, seeds, early stopping."""

import json

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from kgrec.models.baselines import BPRMF
from kgrec.models.lightgcn import LightGCN, normalized_adjacency
from kgrec.train import NegativeSampler, TrainConfig, ndcg_validator, train_bpr


def _blocks(seed=0, users=60, items=50):
    """Two taste blocks: users 0..29 like items 0..24, the others 25..49."""
    rng = np.random.default_rng(seed)
    dense = np.zeros((users, items), dtype=np.float32)
    for u in range(users):
        lo = 0 if u < users // 2 else items // 2
        dense[u, lo + rng.choice(items // 2, 8, replace=False)] = 1
    train = dense.copy()
    valid = np.zeros_like(dense)
    for u in range(users):
        pick = rng.choice(np.flatnonzero(dense[u]), 2, replace=False)
        train[u, pick] = 0
        valid[u, pick] = 1
    return sp.csr_matrix(train), sp.csr_matrix(valid)


def test_negative_sampler_never_returns_a_positive():
    train, _ = _blocks()
    sampler = NegativeSampler(train)
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(60), 200)
    neg = sampler.sample(users, rng)
    assert not train[users, neg].any()


def test_negative_sampler_rejects_full_user():
    with pytest.raises(ValueError, match="user index 0"):
        NegativeSampler(sp.csr_matrix(np.ones((2, 3))))


class _CountingAdam(torch.optim.Adam):
    pass


def test_gradients_are_zeroed_between_batches(monkeypatch):
    """Each step's gradient is that batch's gradient alone (no accumulation)."""
    train, _ = _blocks()
    model = BPRMF(60, 50, embedding_size=4)
    grads = []
    real_step = torch.optim.Adam.step

    def spy(self, *args, **kwargs):
        grads.append(model.user_embedding.weight.grad.clone())
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    calls = []
    real_bpr = model.bpr_scores

    def record(u, i, j):
        calls.append((u.clone(), i.clone(), j.clone()))
        return real_bpr(u, i, j)

    model.bpr_scores = record
    train_bpr(model, train, TrainConfig(epochs=1, batch_size=64, show_progress=False, patience=0))
    assert len(grads) >= 2
    # rows untouched by the second batch must have zero gradient in the second step
    u2 = calls[1][0]
    untouched = torch.ones(60, dtype=torch.bool)
    untouched[u2] = False
    assert grads[1][untouched].abs().sum() == 0


def test_same_seed_same_run_and_log(tmp_path):
    train, valid = _blocks()
    runs = []
    for _ in range(2):
        model = LightGCN(60, 50, normalized_adjacency(train), embedding_size=8)
        log = tmp_path / f"log{len(runs)}.jsonl"
        cfg = TrainConfig(epochs=6, batch_size=64, learning_rate=0.01, seed=3, eval_every=1,
                          show_progress=False, log_path=str(log))
        result = train_bpr(model, train, cfg, validate=ndcg_validator(valid, train))
        runs.append((result, model.score_all(torch.arange(60)), log))
    assert [h["loss"] for h in runs[0][0].history] == [h["loss"] for h in runs[1][0].history]
    torch.testing.assert_close(runs[0][1], runs[1][1])
    lines = [json.loads(x) for x in runs[0][2].read_text().splitlines()]
    assert [x["epoch"] for x in lines] == list(range(1, 7)) and "valid_ndcg@10" in lines[0]


def test_training_learns_blocks_and_restores_best():
    train, valid = _blocks()
    model = LightGCN(60, 50, normalized_adjacency(train), embedding_size=8)
    validate = ndcg_validator(valid, train)
    cfg = TrainConfig(epochs=40, batch_size=64, learning_rate=0.02, show_progress=False, eval_every=1,
                      patience=5)
    result = train_bpr(model, train, cfg, validate=validate)
    from kgrec.evaluate import evaluate

    torch.manual_seed(0)
    random_ndcg = evaluate(lambda u: torch.rand(len(u), 50), test=valid, mask=train,
                           ks=(10,)).metrics["ndcg@10"]
    assert result.best_score > 1.5 * random_ndcg  # within-block ranking is the ceiling
    assert validate(model) == pytest.approx(result.best_score, abs=1e-6)
    assert result.seconds_per_epoch > 0


def test_shape_mismatch_is_an_error():
    train, _ = _blocks()
    with pytest.raises(ValueError, match="does not match"):
        train_bpr(BPRMF(10, 10), train, TrainConfig(epochs=1, show_progress=False))
