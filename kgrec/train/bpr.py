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
from torch import nn

from kgrec.device import num_threads
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
def _sparse_threads(model: ScoringModel, n: int | None):
    """Give a model with a ``sparse_threads`` attribute (LightGCN) ``n`` threads for its
    sparse products while the rest of the loop runs on its ``preferred_threads``."""
    if not hasattr(model, "sparse_threads") or n is None:
        yield
        return
    before = model.sparse_threads
    model.sparse_threads = n
    try:
        yield
    finally:
        model.sparse_threads = before


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


class BPRLoss(nn.Module):
    """The BPR objective of one batch as a module, so that DDP can wrap it.

    ``forward(users, pos, neg) -> scalar``: :math:`-\\frac{1}{B}\\sum\\log\\sigma(\\hat y_{ui}
    - \\hat y_{uj}) + \\lambda R` over the ``[B]`` index tensors (the module docstring's
    formula); its parameters are the wrapped model's.

    Args:
        model: a model with ``bpr_scores``.
        reg: :math:`\\lambda`.
    """

    def __init__(self, model: ScoringModel, reg: float):
        super().__init__()
        self.model, self.reg = model, reg

    def forward(self, users: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        pos_scores, neg_scores, reg = self.model.bpr_scores(users, pos, neg)
        return -F.logsigmoid(pos_scores - neg_scores).mean() + self.reg * reg


def _shard(size: int, rank: int, world: int) -> tuple[int, int]:
    """``[lo, hi)`` of rank ``rank``'s slice of a batch of ``size`` triples (sizes differ
    by at most one)."""
    return size * rank // world, size * (rank + 1) // world


def _data_parallel(step: nn.Module, device: str) -> nn.Module:
    """``step`` wrapped in DDP. Buffers are not broadcast, at start or per step: they
    (the graph's adjacency, text features) are built from the same data on every rank,
    and a sparse million-edge adjacency is costly to send. Parameters are broadcast from
    rank 0 once (equal anyway: same seed)."""
    import warnings

    from torch.nn.parallel import DistributedDataParallel

    on_gpu = torch.device(device).type == "cuda"
    with warnings.catch_warnings():
        # torch >= 2.13 renames it; the replacement still syncs buffers at init
        warnings.filterwarnings("ignore", message="`broadcast_buffers` is deprecated",
                                category=FutureWarning)
        return DistributedDataParallel(
            step, device_ids=[torch.device(device).index or 0] if on_gpu else None,
            broadcast_buffers=False)


def train_bpr(model: ScoringModel, interactions: sp.csr_matrix, config: TrainConfig | None = None,
              *, validate: Validator | None = None,
              negative_items: np.ndarray | None = None) -> TrainResult:
    """Train ``model`` with BPR on the positive ``interactions``.

    The model must implement ``bpr_scores(users, pos, neg) -> (pos_scores, neg_scores,
    reg_term)`` and, if it has one, ``reset_parameters()`` is called after seeding so
    that the same seed gives the same run. With ``validate``, the weights of the best
    validation epoch are restored at the end and training stops after
    ``config.patience`` evaluations without improvement.

    **Distributed** (a ``torch.distributed`` process group of ``W > 1`` ranks is
    initialised, e.g. by :func:`kgrec.distributed.init_distributed` under ``torchrun``):
    the model is wrapped in ``DistributedDataParallel``. Every rank draws the same
    permutation and negatives from the same seed and takes its slice
    :math:`b_r` (``n_r`` triples) of each batch :math:`b` of ``config.batch_size``; its
    loss is scaled by :math:`n_r W / |b|`, so the averaged gradient
    :math:`\\frac{1}{W}\\sum_r \\frac{n_r W}{|b|}\\nabla \\mathcal{L}(b_r) = \\nabla\\mathcal{L}(b)`
    is the one-process gradient of the whole batch (the regulariser is a mean over the
    batch too): same steps, same epochs, same result up to float rounding. A final batch
    smaller than ``W`` is skipped. Rank 0 validates and broadcasts the score, so every
    rank stops at the same epoch; only rank 0 writes ``config.log_path`` and progress.
    The model's forward work per step is not divided for models that propagate over the
    whole graph per batch (LightGCN): there DDP shards the data and the optimiser's
    inputs, not the propagation.

    Args:
        model: the model to train (modified in place).
        interactions: binary ``[num_users, num_items]`` CSR matrix of training positives.
        config: loop options (defaults: :class:`TrainConfig`); ``config.device``
            ``"cuda"`` falls back to the CPU with a warning when no GPU is present.
        validate: ``model -> NDCG@10`` on validation data, e.g. :func:`ndcg_validator`.
        negative_items: item indices negatives are drawn from (default: all items).
    """
    from kgrec.device import resolve_device
    from kgrec.distributed import all_reduce_sum, broadcast_float, rank_device, world
    from kgrec.progress import stage

    config = config or TrainConfig()
    interactions = sp.csr_matrix(interactions)
    if interactions.shape != (model.num_users, model.num_items):
        raise ValueError(f"interactions shape {interactions.shape} does not match the model "
                         f"({model.num_users} users x {model.num_items} items)")
    coo = interactions.tocoo()
    users_all, items_all = coo.row.astype(np.int64), coo.col.astype(np.int64)
    if len(users_all) == 0:
        raise ValueError("no training interactions")
    rank, world_size = world()
    primary = rank == 0
    device = rank_device(resolve_device(config.device, "training"))
    sampler = NegativeSampler(interactions, negative_items)
    log = (open(config.log_path, "a", encoding="utf-8")  # noqa: SIM115
           if config.log_path and primary else None)
    result = TrainResult()
    best_state: dict[str, torch.Tensor] | None = None
    bad_evals = 0
    start = time.perf_counter()
    name = type(model).__name__
    try:
        # the caller's thread count, read before the loop narrows it
        sparse = None if config.threads is not None else torch.get_num_threads()
        with num_threads(config.threads if config.threads is not None
                         else getattr(model, "preferred_threads", None)), \
                _sparse_threads(model, sparse), \
                stage(f"train {name}", config.show_progress) as progress:
            rng = seed_everything(config.seed)
            if hasattr(model, "reset_parameters"):
                model.reset_parameters()
            model.to(device)
            step: nn.Module = BPRLoss(model, config.reg)
            if world_size > 1:
                step = _data_parallel(step, device)
            optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
            from tqdm.auto import tqdm

            bar = tqdm(range(1, config.epochs + 1), desc=f"train {name}",
                       disable=None if config.show_progress and primary else True, leave=False)
            for epoch in bar:
                t0 = time.perf_counter()
                step.train()
                order = rng.permutation(len(users_all))
                negatives = sampler.sample(users_all[order], rng)
                total, batches = 0.0, 0
                for lo in range(0, len(order), config.batch_size):
                    size = min(config.batch_size, len(order) - lo)
                    if size < world_size:  # a rank would get no triple
                        continue
                    a, b = _shard(size, rank, world_size)
                    sel = order[lo + a:lo + b]
                    u = torch.from_numpy(users_all[sel]).to(device)
                    i = torch.from_numpy(items_all[sel]).to(device)
                    j = torch.from_numpy(negatives[lo + a:lo + b]).to(device)
                    optimizer.zero_grad(set_to_none=True)
                    loss = step(u, i, j)
                    (loss * ((b - a) * world_size / size)).backward()
                    optimizer.step()
                    total += float(loss.detach()) * (b - a) / size
                    batches += 1
                record: dict[str, Any] = {"epoch": epoch,
                                          "loss": all_reduce_sum(total) / max(batches, 1),
                                          "seconds": time.perf_counter() - t0}
                if validate is not None and epoch % config.eval_every == 0:
                    score = broadcast_float(float(validate(model)) if primary else float("nan"))
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
            progress["detail"] = (
                f"{len(result.history)} epochs, best epoch {result.best_epoch}"
                + (f", valid NDCG@10 {result.best_score:.4f}" if validate is not None else "")
                + (f", {world_size} ranks" if world_size > 1 else ""))
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
