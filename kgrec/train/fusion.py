"""The hybrid's fusion weights, chosen on validation data.

:class:`~kgrec.models.hybrid.ScoreFusion` adds its components' per-user standardised scores
with weights :math:`w_c \\ge 0`, :math:`\\sum_c w_c = 1`. This module searches them by
coordinate ascent on validation NDCG@k; the model itself only holds them.

**Scale.** Each trial of the search ranks only candidate items: for every searched
validation user :math:`u`, the union :math:`C_u` of each component's top-``candidates``
unmasked items. The fused top-k is exact whenever it lies inside :math:`C_u` (always when
``candidates >= I``); an item outside every component's top-``candidates`` would need a
large score in several components at once to enter it. Memory is ``S * C * |C_u|``
floats instead of ``S * I * C`` (``S`` users, ``C`` components), and a trial costs
``O(S * C * candidates)`` instead of a full ranking. ``S`` is every user with a
validation positive up to ``max_users`` (default :data:`MAX_SEARCH_USERS`), a seeded
uniform sample above. Component scores are computed once, ``batch_size`` users at a
time: ``O(S * I)`` per component, linear in the catalogue.
"""

from __future__ import annotations

import itertools

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from kgrec.models.hybrid import ScoreFusion

#: Validation users the search ranks for at most (ML-100K: 943 and ML-1M: 6,040, all of them).
MAX_SEARCH_USERS = 10_000
#: Top items per component and user that form the candidate set of a trial.
SEARCH_CANDIDATES = 200


def validation_sample(valid: sp.spmatrix, max_users: int = MAX_SEARCH_USERS, *,
                      seed: int = 0) -> np.ndarray:
    """Sorted indices of the users with a positive in ``valid``: all of them when there
    are at most ``max_users``, else a seeded uniform sample of ``max_users``."""
    users = np.flatnonzero(np.diff(sp.csr_matrix(valid).indptr) > 0)
    if len(users) > max_users:
        users = np.sort(np.random.default_rng(seed).choice(users, max_users, replace=False))
    return users


def validation_subset(valid: sp.spmatrix, max_users: int = MAX_SEARCH_USERS, *,
                      seed: int = 0) -> sp.csr_matrix:
    """``valid`` with only the rows of :func:`validation_sample` kept (same shape): early
    stopping on a large catalogue then ranks at most ``max_users`` users per evaluation."""
    valid = sp.csr_matrix(valid)
    users = validation_sample(valid, max_users, seed=seed)
    if len(users) == int((np.diff(valid.indptr) > 0).sum()):
        return valid
    keep = np.zeros(valid.shape[0])
    keep[users] = 1.0
    return sp.csr_matrix(sp.diags(keep) @ valid)


def _candidate_scores(fusion: ScoreFusion, users: np.ndarray, valid: sp.csr_matrix,
                      mask: sp.csr_matrix, candidates: int, batch_size: int
                      ) -> tuple[dict[str, Tensor], Tensor, Tensor]:
    """Per component, standardised scores ``[S, M]`` at each user's candidate items, the
    ``bool [S, M]`` relevance of those items, and ``[S]`` relevant items per user.
    Candidates that repeat (in several components' top lists) or are masked get
    ``-inf`` in every component, so they never rank."""
    names = list(fusion.names)
    top = min(candidates, fusion.num_items)
    parts: dict[str, list[Tensor]] = {n: [] for n in names}
    relevant: list[Tensor] = []
    for start in range(0, len(users), batch_size):
        rows = users[start:start + batch_size]
        batch = torch.from_numpy(rows).long()
        masked = torch.from_numpy(mask[rows].toarray() > 0)
        truth = torch.from_numpy(valid[rows].toarray() > 0) & ~masked
        scores = {n: s.cpu().float() for n, s in fusion.component_scores(batch).items()}
        # in place (the standardised scores are this function's own): the masked entries
        # are void below anyway
        index = torch.cat([s.masked_fill_(masked, float("-inf")).topk(top, dim=1).indices
                           for s in scores.values()], dim=1)  # [b, M]
        index, _ = index.sort(dim=1)
        void = torch.zeros_like(index, dtype=torch.bool)
        void[:, 1:] = index[:, 1:] == index[:, :-1]
        void |= masked.gather(1, index)
        for n in names:
            parts[n].append(scores[n].gather(1, index).masked_fill(void, float("-inf")))
        relevant.append(truth.gather(1, index) & ~void)
    rows = valid[users]
    per_user = torch.from_numpy(rows.getnnz(axis=1) - rows.multiply(mask[users]).getnnz(axis=1))
    return {n: torch.cat(v) for n, v in parts.items()}, torch.cat(relevant), per_user


def candidate_ndcg(scores: Tensor, relevant: Tensor, num_relevant: Tensor, k: int) -> float:
    """Mean NDCG@k of ranking each row of ``scores [S, M]`` (``-inf``: never ranked) with
    binary gains ``relevant [S, M]``; the ideal DCG uses ``num_relevant [S]`` (all of a
    user's relevant items, candidates or not). Users without relevant items are skipped.

    .. math:: \\mathrm{NDCG@k}(u) = \\frac{\\sum_{r=1}^{k} rel_u(r) / \\log_2(r + 1)}
              {\\sum_{r=1}^{\\min(k, n_u)} 1 / \\log_2(r + 1)}
    """
    k = min(k, scores.shape[1])
    top = scores.topk(k, dim=1)
    gains = relevant.gather(1, top.indices) & torch.isfinite(top.values)
    discount = 1.0 / torch.log2(torch.arange(2, k + 2, dtype=torch.float64))
    dcg = (gains.double() * discount).sum(1)
    ideal = torch.cumsum(discount, 0)[(num_relevant.clamp(max=k) - 1).clamp(min=0)]
    keep = num_relevant > 0
    return float((dcg[keep] / ideal[keep]).mean()) if bool(keep.any()) else 0.0


@torch.no_grad()
def fit_fusion_weights(fusion: ScoreFusion, valid: sp.spmatrix, mask: sp.spmatrix, *,
                       rounds: int = 3, steps: tuple[float, ...] = (0.4, 0.2, 0.1, 0.05),
                       k: int = 10, max_users: int = MAX_SEARCH_USERS,
                       candidates: int = SEARCH_CANDIDATES, batch_size: int = 512,
                       seed: int = 0) -> tuple[dict[str, float], float]:
    """Set ``fusion``'s weights to the best found on validation NDCG@``k``.

    Starting from equal weights, each of ``rounds`` rounds tries, for each step size in
    turn, moving each weight by ``±step`` (clipped at 0) and keeps a move when validation
    NDCG@k improves by more than 1e-5. Trials rank candidate items of up to
    ``max_users`` validation users (see the module docstring); the kept weights are
    normalised to sum to 1 and written into ``fusion``.

    Args:
        fusion: fitted components; its weights are replaced.
        valid: binary ``[U, I]`` validation positives.
        mask: binary ``[U, I]`` items excluded from the ranking (the training items).
        max_users: validation users searched at most (seeded sample above).
        candidates: top items per component and user ranked by the trials.
        batch_size: users scored per component call.
        seed: seed of the user sample (used only when users must be sampled).

    Returns:
        ``(name → weight, validation NDCG@k of those weights on the searched users'
        candidates)``.
    """
    names = list(fusion.names)
    valid, mask = sp.csr_matrix(valid), sp.csr_matrix(mask)
    users = validation_sample(valid, max_users, seed=seed)
    was_training = fusion.training
    fusion.eval()
    parts, relevant, per_user = _candidate_scores(fusion, users, valid, mask, candidates,
                                                  batch_size)
    fusion.train(was_training)

    def ndcg(weights: dict[str, float]) -> float:
        scores = sum(weights[n] * parts[n] for n in names if weights[n] > 0)
        if not isinstance(scores, Tensor):  # every weight zero
            return 0.0
        return candidate_ndcg(scores, relevant, per_user, k)

    weights = {n: 1.0 / len(names) for n in names}
    best = ndcg(weights)
    for _, step in itertools.product(range(rounds), steps):
        for name, sign in itertools.product(names, (1.0, -1.0)):
            trial = dict(weights)
            trial[name] = max(0.0, trial[name] + sign * step)
            if sum(trial.values()) <= 0:
                continue
            value = ndcg(trial)
            if value > best + 1e-5:
                best, weights = value, trial
    total = sum(weights.values())
    fusion.set_weights({n: w / total for n, w in weights.items()})
    return fusion.weight_dict(), best
