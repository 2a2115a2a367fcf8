"""Scores for a new user who names a few liked titles: collaborative plus shared facts.

.. math:: s(h) = z\\big(f(h)\\big) + \\alpha\\, z(\\mathrm{pop})
          + \\beta\\, z\\Big(\\sum_{a \\in h} l^{(a)}\\Big)
          + \\gamma\\, [\\exists a \\in h: i \\text{ shares a genre or creator with } a]

with ``h`` the liked movies, ``f`` a collaborative model's ``score_history`` (EASE,
ItemKNN, the fitted recommender), ``pop`` the movies' training popularity, ``l^(a)`` the shared-genre/creator similarity to
movie ``a`` (:meth:`kgrec.serve.intent_scoring.ItemFacts.anchor_similarity`) and ``z``
row-wise standardisation. With only a few titles the collaborative part drifts to
popular films; the second term keeps the list on the kind of film and the makers the
person named, and the indicator (weight ``γ``) lifts every movie that shares anything with
a liked title above those that share nothing. ``α``, ``β``, ``γ`` and the collaborative model are chosen on validation users (``scripts/fewshot_benchmark.py``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from kgrec.evaluate.fewshot import standardise
from kgrec.serve.intent_scoring import ItemFacts


class LikedTitlesScorer:
    """``score_history`` for few liked titles (see the module formula).

    Args:
        collaborative: ``float [B, I]`` histories → scores ``[B, I]``.
        facts: the catalogue's facts (genres, people per movie).
        beta: weight ``β`` of the shared-facts term.
        popularity: ``[I]`` training interaction counts, or ``None``.
        alpha: weight ``α`` of the popularity term.
        gamma: weight ``γ`` of the shares-something indicator.
    """

    def __init__(self, collaborative: Callable[[torch.Tensor], torch.Tensor],
                 facts: ItemFacts, beta: float = 1.0, *, popularity: np.ndarray | None = None,
                 alpha: float = 0.0, gamma: float = 0.0):
        self.collaborative, self.facts, self.beta = collaborative, facts, float(beta)
        self.alpha, self.gamma = float(alpha), float(gamma)
        self.popularity = (None if popularity is None else
                           standardise(torch.as_tensor(np.asarray(popularity, dtype=np.float64))[None]))

    def content(self, history: torch.Tensor) -> torch.Tensor:
        """Shared-facts similarity ``[B, I]`` of each history row."""
        rows = [self.facts.anchor_similarity(np.nonzero(h.numpy() > 0)[0].tolist())
                if h.any() else np.zeros(self.facts.n, dtype=np.float32) for h in history]
        return torch.from_numpy(np.stack(rows)).to(torch.float64)

    def score_history(self, history: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            collab = standardise(self.collaborative(history).to(torch.float64))
        if self.alpha and self.popularity is not None:
            collab = collab + self.alpha * self.popularity
        if self.beta == 0 and self.gamma == 0:
            return collab
        content = self.content(history)
        out = collab + self.beta * standardise(content) if self.beta else collab
        return out + self.gamma * (content > 0).to(out.dtype) if self.gamma else out
