"""DLAE: the denoising linear autoencoder of Steck (NeurIPS 2020), closed form.

Dropout with probability :math:`p` on the input of a linear item–item autoencoder
:math:`\\hat X = X B` is, in expectation, an item-specific L2 penalty, which gives

.. math:: \\Lambda = \\lambda I + \\tfrac{p}{1-p}\\,\\mathrm{diag}(X^\\top X), \\qquad
          B = I - (X^\\top X + \\Lambda)^{-1} \\Lambda

(no zero-diagonal constraint: dropout already keeps :math:`B` away from the identity).
With :math:`p = 0` and a zero-diagonal constraint this is EASE (see
:class:`kgrec.models.baselines.EASE`). Scores are :math:`\\hat y_u = x_u B`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from kgrec.models.base import ScoringModel


class DLAE(ScoringModel):
    """Denoising linear autoencoder (closed form).

    Args:
        num_users: number of users ``U``.
        num_items: number of items ``I``.
        dropout: input dropout probability :math:`p` in ``[0, 1)`` (default 0.5).
        reg: L2 weight :math:`\\lambda` (default 300).
    """

    def __init__(self, num_users: int, num_items: int, *, dropout: float = 0.5, reg: float = 300.0):
        super().__init__()
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if reg < 0:
            raise ValueError(f"reg must be >= 0, got {reg}")
        self.num_users, self.num_items = num_users, num_items
        self.dropout, self.reg = dropout, reg
        self.register_buffer("weight", torch.zeros(num_items, num_items))
        self.register_buffer("history", torch.zeros(num_users, num_items))

    def fit(self, interactions: sp.spmatrix) -> DLAE:
        """Solve for :math:`B` from the binary ``[U, I]`` training matrix; returns self."""
        X = sp.csr_matrix(interactions, dtype=np.float64)
        if X.shape != (self.num_users, self.num_items):
            raise ValueError(f"interactions shape {X.shape} != ({self.num_users}, {self.num_items})")
        X.data[:] = 1.0
        gram = (X.T @ X).toarray()
        lam = self.reg + self.dropout / (1 - self.dropout) * np.diag(gram)
        gram[np.diag_indices_from(gram)] += lam
        B = np.eye(self.num_items) - np.linalg.solve(gram, np.diag(lam))
        self.weight = torch.from_numpy(B).float()
        self.history = torch.from_numpy(X.toarray()).float()
        return self

    def score(self, users: Tensor) -> Tensor:
        """Scores ``x_u B`` of every item: ``[B]`` → ``[B, I]``."""
        return self.history[users] @ self.weight

    def score_history(self, history: Tensor) -> Tensor:
        """Scores for arbitrary binary histories ``[B, I]`` (cold-start users)."""
        return history.float() @ self.weight
