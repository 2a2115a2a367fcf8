"""The model's own leave-one-out effect of each history movie on every item's score.

:math:`\\Delta_{j,i} = s(H)_i - s(H \\setminus \\{h_j\\})_i` for a user with rated movies
:math:`H = \\{h_1, \\dots, h_n\\}`: how much the score of item ``i`` falls when ``h_j`` is
removed from the history. :class:`~kgrec.explain.search.PathExplainer` names, as the anchor
of an item's top explanation, the path-connected liked movie with the largest
:math:`\\Delta_{\\cdot, T}`, so that the movie an explanation cites is the one the score
depends on most (what :func:`kgrec.explain.quality.fidelity` measures).

One call of the model's ``history_loo`` per user (:mod:`kgrec.models.loo`): the scores of the
full history and of the ``n`` histories with one movie left out, of which a request computes
only the columns of the items it explains. Models with a closed form (linear autoencoders,
item–item models, LightGCN's fold-in and their fusion) compute them from the history's rows;
any other model scores the ``n + 1`` histories in batches. For a linear model
(``score = x B``) the effect equals :math:`B_{h_j, i}`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["leave_one_out", "model_anchor_effect"]


def leave_one_out(score_history: Callable[[Any], Any], num_items: int, *,
                  batch_size: int = 256) -> Callable[[int, np.ndarray], np.ndarray]:
    """An ``effect(user, history) -> [n, I]`` from a history scorer.

    Args:
        score_history: ``[B, I]`` binary float tensor → ``[B, I]`` scores (a model's
            ``score_history``; called under ``torch.no_grad()``).
        num_items: ``I``.
        batch_size: histories scored per call.

    Returns:
        The effect function (``user`` is ignored: the history defines the user).
    """
    import torch

    def effect(user: int, history: np.ndarray) -> np.ndarray:
        history = np.asarray(history, dtype=np.int64)
        n = len(history)
        if n == 0:
            return np.zeros((0, num_items), dtype=np.float64)
        rows = []
        with torch.no_grad():
            full = torch.zeros(1, num_items)
            full[0, torch.from_numpy(history)] = 1.0
            base = score_history(full)[0].double()
            for lo in range(0, n, batch_size):
                hi = min(n, lo + batch_size)
                batch = full.repeat(hi - lo, 1)
                batch[torch.arange(hi - lo), torch.from_numpy(history[lo:hi])] = 0.0
                rows.append((base - score_history(batch).double()).numpy())
        return np.concatenate(rows)

    return effect


def model_anchor_effect(model: Any, num_items: int
                        ) -> Callable[[int, np.ndarray], Callable[[int], np.ndarray]] | None:
    """The model's leave-one-out effect, ``effect(user, history)`` → ``column(item) ->
    [n]`` (:math:`\\Delta_{\\cdot, i}`), through the model's ``history_loo``
    (:mod:`kgrec.models.loo`) when it has one, so that a request pays for the columns it
    explains only; else :func:`leave_one_out` of its ``score_history``. ``None`` when the
    model cannot score histories (``NotImplementedError``)."""
    import torch

    try:
        with torch.no_grad():
            model.score_history(torch.zeros(1, num_items))
    except NotImplementedError:
        return None
    history_loo = getattr(model, "history_loo", None)
    if history_loo is None:
        dense = leave_one_out(model.score_history, num_items)
        return lambda user, history: _columns_of(dense(user, history))

    def effect(user: int, history: np.ndarray) -> Callable[[int], np.ndarray]:
        history = np.asarray(history, dtype=np.int64)
        if len(history) == 0:
            return lambda item: np.zeros(0, dtype=np.float64)
        with torch.no_grad():
            loo = history_loo(torch.from_numpy(history))

        def column(item: int) -> np.ndarray:
            scores = loo.column(item)
            return scores[0] - scores[1:]

        return column

    return effect


def _columns_of(matrix: np.ndarray) -> Callable[[int], np.ndarray]:
    return lambda item: matrix[:, int(item)]
