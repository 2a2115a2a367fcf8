"""The hybrid's fusion weights, chosen on validation data.

:class:`~kgrec.models.hybrid.ScoreFusion` adds its components' per-user standardised scores
with weights :math:`w_c \\ge 0`, :math:`\\sum_c w_c = 1`. This module searches them by
coordinate ascent on validation NDCG@k; the model itself only holds them.

**Scale.** The search holds the standardised scores ``[S, I]`` of every component for a
set of ``S`` validation users. ``S`` is all users with a validation positive while
``S * I * C`` (``C`` components) stays within ``max_entries`` (default
:data:`MAX_SCORE_ENTRIES`, 512 MB of float32), and a seeded random sample of that many
users otherwise, so memory is bounded by ``max_entries`` whatever the catalogue size and
time is linear in ``S * I`` per trial. Scores are computed in batches of users.
"""

from __future__ import annotations

import itertools

import numpy as np
import scipy.sparse as sp
import torch

from kgrec.models.hybrid import ScoreFusion

#: Component scores (validation users x items x components) held at once during the
#: search: 2^27 float32 entries = 512 MB (ML-100K: 943 x 1,682 x 2 = 3.2M, all users).
MAX_SCORE_ENTRIES = 2**27


def validation_sample(valid: sp.csr_matrix, num_items: int, num_components: int, *,
                      max_entries: int = MAX_SCORE_ENTRIES, seed: int = 0) -> np.ndarray:
    """Sorted indices of the validation users the weight search scores: every user with a
    positive in ``valid`` when ``users * num_items * num_components <= max_entries``,
    else a seeded uniform sample of ``max_entries // (num_items * num_components)``
    (at least 1) of them."""
    users = np.flatnonzero(np.diff(sp.csr_matrix(valid).indptr) > 0)
    cap = max(1, max_entries // max(1, num_items * num_components))
    if len(users) > cap:
        users = np.sort(np.random.default_rng(seed).choice(users, cap, replace=False))
    return users


@torch.no_grad()
def fit_fusion_weights(fusion: ScoreFusion, valid: sp.spmatrix, mask: sp.spmatrix, *,
                       rounds: int = 3, steps: tuple[float, ...] = (0.4, 0.2, 0.1, 0.05),
                       k: int = 10, max_entries: int = MAX_SCORE_ENTRIES,
                       batch_size: int = 1024, seed: int = 0) -> tuple[dict[str, float], float]:
    """Set ``fusion``'s weights to the best found on validation NDCG@``k``.

    Starting from equal weights, each of ``rounds`` rounds tries, for each step size in
    turn, moving each weight by ``±step`` (clipped at 0) and keeps a move when validation
    NDCG@k improves by more than 1e-5. Component scores ``[S, I]`` of the searched
    validation users (:func:`validation_sample`) are computed once, ``batch_size`` users
    at a time. The kept weights are normalised to sum to 1 and written into ``fusion``.

    Args:
        fusion: fitted components; its weights are replaced.
        valid: binary ``[U, I]`` validation positives.
        mask: binary ``[U, I]`` items excluded from the ranking (the training items).
        max_entries: bound on ``S * I * C`` held in memory (see the module docstring).
        batch_size: users scored per component call.
        seed: seed of the user sample (used only when users must be sampled).

    Returns:
        ``(name → weight, validation NDCG@k of those weights on the searched users)``.
    """
    from kgrec.evaluate import evaluate

    names = list(fusion.names)
    valid, mask = sp.csr_matrix(valid), sp.csr_matrix(mask)
    users = validation_sample(valid, fusion.num_items, len(names), max_entries=max_entries,
                              seed=seed)
    parts = {n: torch.empty(len(users), fusion.num_items) for n in names}
    was_training = fusion.training
    fusion.eval()
    for start in range(0, len(users), batch_size):
        batch = torch.from_numpy(users[start:start + batch_size]).long()
        for n, scores in fusion.component_scores(batch).items():
            parts[n][start:start + len(batch)] = scores.cpu()
    fusion.train(was_training)
    sub_valid, sub_mask = valid[users], mask[users]

    def ndcg(weights: dict[str, float]) -> float:
        def scores(u: torch.Tensor) -> torch.Tensor:
            return sum(weights[n] * parts[n][u] for n in names)

        return evaluate(scores, test=sub_valid, mask=sub_mask, ks=(k,)).metrics[f"ndcg@{k}"]

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
