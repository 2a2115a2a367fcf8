"""DLAE: the denoising linear autoencoder of Steck (NeurIPS 2020), exact or low-rank.

Dropout with probability :math:`p` on the input of a linear item–item autoencoder
:math:`\\hat X = X B` is, in expectation, an item-specific L2 penalty, which gives

.. math:: \\Lambda = \\lambda I + \\tfrac{p}{1-p}\\,\\mathrm{diag}(G), \\qquad G = X^\\top X,
          \\qquad B = I - (G + \\Lambda)^{-1} \\Lambda

(no zero-diagonal constraint: dropout already keeps :math:`B` away from the identity).
With :math:`p = 0` and a zero-diagonal constraint this is EASE (see
:class:`kgrec.models.baselines.EASE`). Scores are :math:`\\hat y_u = x_u B`.

**Scale.** The exact form needs the dense :math:`I \\times I` Gram matrix (8 bytes per
entry while solving: 20 GB at 50k items). Above ``max_dense_items`` items the model uses
a **low-rank Gram**: a randomised eigendecomposition :math:`G \\approx V S V^\\top`
(:math:`V \\in \\mathbb{R}^{I \\times k}`, :math:`S = \\mathrm{diag}(s)`, computed from
sparse products with :math:`X` only, :math:`O(\\mathrm{nnz}(X)\\,k)` per pass), keeping the
exact diagonal penalty :math:`\\Lambda`. The Woodbury identity then gives :math:`B` in
closed form as a rank-:math:`k` product:

.. math:: (\\Lambda + V S V^\\top)^{-1} = \\Lambda^{-1} - \\Lambda^{-1} V M V^\\top
          \\Lambda^{-1}, \\quad M = (S^{-1} + V^\\top \\Lambda^{-1} V)^{-1}
          \\;\\Rightarrow\\; B = \\Lambda^{-1} V M V^\\top = L R^\\top

with :math:`L = \\Lambda^{-1} V M` and :math:`R = V` (both ``[I, k]``), so scores are
:math:`(x_u L) R^\\top`: memory :math:`O(I k)`, never :math:`O(I^2)`. Measured on ML-100K
``random-811-seed0`` (test, 1,682 items; validation in brackets): exact NDCG@10 0.3491
[0.2679]; rank 256: 0.3454 [0.2612]; rank 512: 0.3484 [0.2686] (see BENCHMARKS.md
for the full table and the command).

User histories are kept sparse (CSR ``history_indptr [U+1]``, ``history_indices
[nnz]``) in both forms; a batch of users is densified only for its own rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from kgrec.models.base import ScoringModel
from kgrec.models.history import SparseHistory, binary_csr

#: Above this many items DLAE uses the low-rank form (exact: ``I^2`` float64 entries while
#: solving, 0.8 GB at 10k items, and ``I^3/3`` flops).
MAX_DENSE_ITEMS = 10_000


def randomized_gram_eigh(X: sp.csr_matrix, rank: int, *, power_iterations: int = 3,
                         oversample: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Top-``rank`` eigenpairs of :math:`G = X^\\top X` without forming :math:`G`.

    Randomised range finder with power iterations (Halko, Martinsson & Tropp, 2011):
    :math:`Y = G\\Omega`, then ``power_iterations`` times :math:`Y \\leftarrow G\\,
    \\mathrm{qr}(Y)`; with :math:`Q = \\mathrm{qr}(Y)` the small matrix
    :math:`(XQ)^\\top (XQ)` is diagonalised and its eigenvectors mapped back by :math:`Q`.
    Every product with :math:`G` is two sparse products ``X.T @ (X @ Y)``.

    Args:
        X: ``[U, I]`` sparse matrix.
        rank: number of eigenpairs ``k`` (capped at ``I``).
        power_iterations: passes that sharpen the spectrum (default 3).
        oversample: extra random directions (default 16).
        seed: seed of the random test matrix.

    Returns:
        ``(V [I, k], s [k])``: orthonormal eigenvectors and eigenvalues, descending.
    """
    n = X.shape[1]
    k = min(rank, n)
    width = min(n, k + oversample)
    rng = np.random.default_rng(seed)
    Xt = X.T.tocsr()
    Y = Xt @ (X @ rng.standard_normal((n, width)))
    for _ in range(power_iterations):
        Q, _ = np.linalg.qr(Y)
        Y = Xt @ (X @ Q)
    Q, _ = np.linalg.qr(Y)
    Z = X @ Q
    values, vectors = np.linalg.eigh(Z.T @ Z)
    top = np.argsort(-values)[:k]
    return Q @ vectors[:, top], np.maximum(values[top], 0.0)


class DLAE(SparseHistory, ScoringModel):
    """Denoising linear autoencoder (closed form; exact or low-rank, see the module doc).

    Args:
        num_users: number of users ``U``.
        num_items: number of items ``I``.
        dropout: input dropout probability :math:`p` in ``[0, 1)`` (default 0.5).
        reg: L2 weight :math:`\\lambda` (default 300).
        max_dense_items: the exact dense solve is used up to this many items, the
            low-rank form above (default :data:`MAX_DENSE_ITEMS` = 10,000; ``0`` forces
            the low-rank form).
        rank: rank ``k`` of the low-rank Gram (default 512: the best on ML-100K
            validation among 64-512; capped at ``I``).
    """

    def __init__(self, num_users: int, num_items: int, *, dropout: float = 0.5,
                 reg: float = 300.0, max_dense_items: int = MAX_DENSE_ITEMS, rank: int = 512):
        super().__init__()
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if reg < 0:
            raise ValueError(f"reg must be >= 0, got {reg}")
        if rank < 1 or max_dense_items < 0:
            raise ValueError(f"rank must be >= 1 and max_dense_items >= 0, got {rank}, "
                             f"{max_dense_items}")
        self.num_users, self.num_items = num_users, num_items
        self.dropout, self.reg = dropout, reg
        self.low_rank = num_items > max_dense_items
        self.rank = min(rank, num_items)
        if self.low_rank:
            self.register_buffer("left", torch.zeros(num_items, self.rank))
            self.register_buffer("right", torch.zeros(num_items, self.rank))
        else:
            self.register_buffer("weight", torch.zeros(num_items, num_items))
        self._init_history()

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
        # artifacts saved before histories were sparse hold a dense [U, I] "history"
        self._adapt_history_state(state_dict, prefix, "history")
        super()._load_from_state_dict(state_dict, prefix, *args)

    def fit(self, interactions: sp.spmatrix) -> DLAE:
        """Solve for :math:`B` (or its factors) from the binary ``[U, I]`` training
        matrix; returns self."""
        X = binary_csr(interactions, self.num_users, self.num_items)
        counts = np.asarray(X.sum(axis=0)).ravel()  # diag(G)
        lam = self.reg + self.dropout / (1 - self.dropout) * counts
        if self.low_rank:
            V, s = randomized_gram_eigh(X, self.rank)
            inv_lam = 1.0 / np.maximum(lam, 1e-12)
            core = np.diag(1.0 / np.maximum(s, 1e-9)) + V.T @ (V * inv_lam[:, None])
            M = np.linalg.inv(core)
            self.left = torch.from_numpy((V * inv_lam[:, None]) @ M).float()
            self.right = torch.from_numpy(V).float()
        else:
            gram = (X.T @ X).toarray()
            gram[np.diag_indices_from(gram)] += lam
            B = np.linalg.inv(gram)  # B = I - G^-1 diag(lam), scaled column-wise in place
            B *= -lam[None, :]
            B[np.diag_indices_from(B)] += 1.0
            self.weight = torch.from_numpy(B).float()
            del gram
        self.set_history(X)
        return self

    def score(self, users: Tensor) -> Tensor:
        """Scores ``x_u B`` of every item: ``[B]`` → ``[B, I]``."""
        return self.score_history(self.history_rows(users))

    def score_history(self, history: Tensor) -> Tensor:
        """Scores for arbitrary binary histories ``[B, I]`` (cold-start users):
        ``h B``, or ``(h L) R^T`` in the low-rank form."""
        h = history.float()
        if self.low_rank:
            return (h @ self.left) @ self.right.T
        return h @ self.weight

    def extra_repr(self) -> str:
        form = f"low_rank, rank={self.rank}" if self.low_rank else "exact"
        return f"dropout={self.dropout}, reg={self.reg}, {form}"
