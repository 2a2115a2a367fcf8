"""The hybrid's fusion weights, chosen on validation data.

:class:`~kgrec.models.hybrid.ScoreFusion` adds its components' per-user standardised scores
with weights :math:`w_c \\ge 0`, :math:`\\sum_c w_c = 1`. This module searches them by
coordinate ascent on validation NDCG@k; the model itself only holds them.
"""

from __future__ import annotations

import itertools

import scipy.sparse as sp
import torch

from kgrec.models.hybrid import ScoreFusion


@torch.no_grad()
def fit_fusion_weights(fusion: ScoreFusion, valid: sp.spmatrix, mask: sp.spmatrix, *,
                       rounds: int = 3, steps: tuple[float, ...] = (0.4, 0.2, 0.1, 0.05),
                       k: int = 10) -> tuple[dict[str, float], float]:
    """Set ``fusion``'s weights to the best found on validation NDCG@``k``.

    Starting from equal weights, each of ``rounds`` rounds tries, for each step size in
    turn, moving each weight by ``±step`` (clipped at 0) and keeps a move when validation
    NDCG@k improves by more than 1e-5. Component scores ``[U, I]`` are computed once.
    The kept weights are normalised to sum to 1 and written into ``fusion``.

    Args:
        fusion: fitted components; its weights are replaced.
        valid: binary ``[U, I]`` validation positives.
        mask: binary ``[U, I]`` items excluded from the ranking (the training items).

    Returns:
        ``(name → weight, validation NDCG@k of those weights)``.
    """
    from kgrec.evaluate import evaluate

    users = torch.arange(fusion.num_users)
    was_training = fusion.training
    fusion.eval()
    parts = fusion.component_scores(users)
    fusion.train(was_training)
    names = list(parts)

    def ndcg(weights: dict[str, float]) -> float:
        scores = sum(weights[n] * parts[n] for n in names)
        return evaluate(lambda u: scores[u], test=valid, mask=mask, ks=(k,)).metrics[f"ndcg@{k}"]

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
