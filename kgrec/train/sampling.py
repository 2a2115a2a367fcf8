"""Vectorised negative sampling that never returns one of the user's positives."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


class NegativeSampler:
    """Uniform negative items for (user, positive) pairs, rejecting the user's positives.

    Positives are encoded as sorted keys ``user * num_items + item``; a candidate is a
    positive iff its key is found by binary search. Colliding draws are redrawn, all at
    once, until none is left (users who rated every item raise ``ValueError``).

    Args:
        interactions: binary ``[num_users, num_items]`` CSR matrix of positives.
        candidates: item indices negatives are drawn from (default: every item), e.g.
            only items with training interactions, so that an inductive model is not
            taught that items it never saw rated are bad.
    """

    def __init__(self, interactions: sp.csr_matrix, candidates: np.ndarray | None = None):
        interactions = sp.csr_matrix(interactions)
        self.num_users, self.num_items = interactions.shape
        coo = interactions.tocoo()
        self._keys = np.sort(coo.row.astype(np.int64) * self.num_items + coo.col)
        self.candidates = None if candidates is None else np.asarray(candidates, dtype=np.int64)
        full = np.diff(interactions.indptr) >= self.num_items
        if full.any():
            raise ValueError(f"user index {int(np.flatnonzero(full)[0])} rated every item: "
                             "no negative exists")

    def is_positive(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        keys = users.astype(np.int64) * self.num_items + items
        pos = np.searchsorted(self._keys, keys)
        pos = np.minimum(pos, len(self._keys) - 1)
        return self._keys[pos] == keys if len(self._keys) else np.zeros(len(keys), bool)

    def sample(self, users: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One negative item index per entry of ``users``."""
        items = self._draw(rng, len(users))
        bad = np.flatnonzero(self.is_positive(users, items))
        while len(bad):
            items[bad] = self._draw(rng, len(bad))
            bad = bad[self.is_positive(users[bad], items[bad])]
        return items

    def _draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.candidates is None:
            return rng.integers(0, self.num_items, size=n)
        return self.candidates[rng.integers(0, len(self.candidates), size=n)]
