"""BPR training loop with negative sampling and early stopping on validation NDCG@10.

The loss of a batch of triples :math:`(u, i, j)` — user, positive item, sampled negative —
is

.. math:: \\mathcal{L} = -\\frac{1}{B}\\sum_{(u,i,j)} \\log\\sigma(\\hat y_{ui} - \\hat y_{uj})
          + \\lambda \\, R(\\Theta_{batch})

where :math:`R` is the model's regulariser over the parameters the batch touched (returned
by ``model.bpr_scores``) and :math:`\\lambda` is ``TrainConfig.reg``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from kgrec.models.base import ScoringModel
from kgrec.train.options import TrainConfig
from kgrec.train.sampling import NegativeSampler

Validator = Callable[[ScoringModel], float]


@dataclass
class TrainResult:
    """What a training run did.

    Attributes:
        history: one record per epoch: ``epoch``, ``loss``, ``seconds`` (training time of
            the epoch, validation excluded) and ``valid_ndcg@10`` when validated.
        best_epoch: epoch whose weights the model holds at the end (the best on
            validation, or the last one without a validator).
        best_score: its validation NDCG@10 (``nan`` without a validator).
        train_seconds: wall time of the whole run, validation included.
        stopped_early: whether patience ran out before ``epochs``.
    """

    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    best_score: float = float("nan")
    train_seconds: float = 0.0
    stopped_early: bool = False

    @property
    def seconds_per_epoch(self) -> float:
        """Mean training seconds per epoch (validation excluded)."""
        if not self.history:
            return float("nan")
        return float(np.mean([h["seconds"] for h in self.history]))

    @property
    def valid_curve(self) -> list[tuple[int, float]]:
        return [(h["epoch"], h["valid_ndcg@10"]) for h in self.history if "valid_ndcg@10" in h]

    def __repr__(self) -> str:
        return (f"TrainResult(epochs={len(self.history)}, best_epoch={self.best_epoch}, "
                f"best_valid_ndcg@10={self.best_score:.4f}, "
                f"seconds_per_epoch={self.seconds_per_epoch:.3f})")


@contextmanager
def _threads(n: int | None):
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def seed_everything(seed: int) -> np.random.Generator:
    """Seed torch's global generator and return a numpy generator from the same seed."""
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def ndcg_validator(valid: sp.csr_matrix, mask: sp.csr_matrix, k: int = 10,
                   candidates: torch.Tensor | None = None) -> Validator:
    """A validator computing NDCG@k of a model on ``valid`` with ``mask`` items excluded."""
    from kgrec.evaluate import evaluate

    def validate(model: ScoringModel) -> float:
        result = evaluate(model, test=valid, mask=mask, ks=(k,), candidates=candidates)
        return result.metrics[f"ndcg@{k}"]

    return validate


def train_bpr(model: ScoringModel, interactions: sp.csr_matrix, config: TrainConfig | None = None,
              *, validate: Validator | None = None,
              negative_items: np.ndarray | None = None) -> TrainResult:
    """Train ``model`` with BPR on the positive ``interactions``.

    The model must implement ``bpr_scores(users, pos, neg) -> (pos_scores, neg_scores,
    reg_term)`` and, if it has one, ``reset_parameters()`` is called after seeding so
    that the same seed gives the same run. With ``validate``, the weights of the best
    validation epoch are restored at the end and training stops after
    ``config.patience`` evaluations without improvement.

    Args:
        model: the model to train (modified in place).
        interactions: binary ``[num_users, num_items]`` CSR matrix of training positives.
        config: loop options (defaults: :class:`TrainConfig`).
        validate: ``model -> NDCG@10`` on validation data, e.g. :func:`ndcg_validator`.
        negative_items: item indices negatives are drawn from (default: all items).
    """
    config = config or TrainConfig()
    interactions = sp.csr_matrix(interactions)
    if interactions.shape != (model.num_users, model.num_items):
        raise ValueError(f"interactions shape {interactions.shape} does not match the model "
                         f"({model.num_users} users x {model.num_items} items)")
    coo = interactions.tocoo()
    users_all, items_all = coo.row.astype(np.int64), coo.col.astype(np.int64)
    if len(users_all) == 0:
        raise ValueError("no training interactions")
    sampler = NegativeSampler(interactions, negative_items)
    log = open(config.log_path, "a", encoding="utf-8") if config.log_path else None  # noqa: SIM115
    result = TrainResult()
    best_state: dict[str, torch.Tensor] | None = None
    bad_evals = 0
    start = time.perf_counter()
    try:
        with _threads(config.threads if config.threads is not None
                      else getattr(model, "preferred_threads", None)):
            rng = seed_everything(config.seed)
            if hasattr(model, "reset_parameters"):
                model.reset_parameters()
            model.to(config.device)
            optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
            from tqdm.auto import tqdm

            bar = tqdm(range(1, config.epochs + 1), desc=f"train {type(model).__name__}",
                       disable=None if config.show_progress else True, leave=False)
            for epoch in bar:
                t0 = time.perf_counter()
                model.train()
                order = rng.permutation(len(users_all))
                negatives = sampler.sample(users_all[order], rng)
                total, batches = 0.0, 0
                for lo in range(0, len(order), config.batch_size):
                    sel = order[lo:lo + config.batch_size]
                    u = torch.from_numpy(users_all[sel]).to(config.device)
                    i = torch.from_numpy(items_all[sel]).to(config.device)
                    j = torch.from_numpy(negatives[lo:lo + config.batch_size]).to(config.device)
                    optimizer.zero_grad(set_to_none=True)
                    pos, neg, reg = model.bpr_scores(u, i, j)
                    loss = -F.logsigmoid(pos - neg).mean() + config.reg * reg
                    loss.backward()
                    optimizer.step()
                    total += float(loss.detach())
                    batches += 1
                record: dict[str, Any] = {"epoch": epoch, "loss": total / batches,
                                          "seconds": time.perf_counter() - t0}
                if validate is not None and epoch % config.eval_every == 0:
                    score = float(validate(model))
                    record["valid_ndcg@10"] = score
                    if not score <= result.best_score:  # also true for the first (nan) best
                        result.best_score, result.best_epoch, bad_evals = score, epoch, 0
                        best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                    else:
                        bad_evals += 1
                    bar.set_postfix(loss=f"{record['loss']:.4f}", ndcg=f"{score:.4f}",
                                    best=result.best_epoch)
                result.history.append(record)
                if log is not None:
                    log.write(json.dumps(record) + "\n")
                    log.flush()
                if config.patience and bad_evals >= config.patience:
                    result.stopped_early = True
                    break
            bar.close()
            if best_state is not None:
                model.load_state_dict(best_state)
            else:
                result.best_epoch = len(result.history)
    finally:
        if log is not None:
            log.close()
    result.train_seconds = time.perf_counter() - start
    model.eval()
    return result


def write_log(result: TrainResult, path: str | Path) -> None:
    """Write a run's per-epoch history as JSON lines (atomically)."""
    from kgrec.io import atomic_write_text

    atomic_write_text(path, "".join(json.dumps(h) + "\n" for h in result.history))
