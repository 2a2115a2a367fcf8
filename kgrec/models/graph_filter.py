"""GF-CF: a training-free graph-filter collaborative model (Shen et al., CIKM 2021).

With the binary training matrix :math:`R \\in \\{0,1\\}^{U \\times I}` and its degrees
:math:`D_U = \\mathrm{diag}(R\\mathbf 1)`, :math:`D_I = \\mathrm{diag}(R^\\top \\mathbf 1)`,
the symmetrically normalised interaction matrix and item–item graph are

.. math:: \\tilde R = D_U^{-1/2} R D_I^{-1/2}, \\qquad \\tilde P = \\tilde R^\\top \\tilde R .

GF-CF scores a user's history :math:`r_u \\in \\{0,1\\}^I` with a linear low-pass filter
plus an *ideal* low-pass filter on the :math:`k` smoothest graph signals (the top-:math:`k`
eigenvectors :math:`V_k \\in \\mathbb R^{I \\times k}` of :math:`\\tilde P`, i.e. the top
right singular vectors of :math:`\\tilde R`):

.. math:: s_u = r_u \\big(\\tilde P + \\alpha\\, D_I^{-1/2} V_k V_k^\\top D_I^{1/2}\\big)
          = r_u W

(:math:`D_I^{\\pm 1/2}` treat items without training interactions as degree 0, so they
score 0: the model is not inductive). Nothing is learned by gradient descent; ``fit``
forms :math:`W` in float64 (the dense ``I × I`` filter, fine up to ~10k items, like EASE;
:math:`V_k` from a truncated SVD of :math:`\tilde R`) and stores it in float32.

Defaults :math:`\\alpha = 0.5`, :math:`k = 64` were chosen on the validation part of
``random-811-seed0`` (grid :math:`k \\in \\{0, 16, 32, 64, 128, 256\\}`,
:math:`\\alpha \\in \\{0.1, 0.3, 0.5, 1\\}`; see BENCHMARKS.md): with ML-100K's 943
users, larger :math:`k` lets the ideal filter pass noisier signals.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from kgrec.models.base import ItemItemModel


def top_right_singular_vectors(R: sp.spmatrix, k: int) -> np.ndarray:
    """``[I, k]`` top-``k`` right singular vectors of ``R [U, I]``, i.e. the top
    eigenvectors of :math:`R^\top R` (the ideal filter's :math:`V_k`).

    Truncated (ARPACK ``svds``, deterministic start vector) when
    :math:`k < \min(U, I) - 1`: :math:`O(\mathrm{nnz}(R)\,k)` per iteration instead of
    the dense :math:`O(I^3)` eigendecomposition, which is the fallback. Only
    :math:`V_k V_k^\top` is used, so signs do not matter.
    """
    n = min(R.shape)
    if k >= n - 1:
        _, vectors = np.linalg.eigh((R.T @ R).toarray())  # ascending eigenvalues
        return vectors[:, -k:]
    from scipy.sparse.linalg import svds

    start = np.full(n, 1.0 / np.sqrt(n))
    _, _, vt = svds(sp.csr_matrix(R), k=k, v0=start, tol=1e-10)
    return vt.T


class GraphFilterCF(ItemItemModel):
    """GF-CF: linear plus ideal low-pass graph filter over the item–item graph.

    Args:
        num_users: number of users :math:`U`.
        num_items: number of items :math:`I`.
        alpha: weight :math:`\\alpha \\ge 0` of the ideal low-pass filter (default 0.5).
        num_components: :math:`k`, eigenvectors kept by the ideal filter (default 64;
            0 gives the linear filter :math:`\\tilde P` alone).
    """

    inductive = False

    def __init__(self, num_users: int, num_items: int, *, alpha: float = 0.5,
                 num_components: int = 64):
        super().__init__()
        if alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {alpha}")
        if not 0 <= num_components <= num_items:
            raise ValueError(f"num_components must be in [0, {num_items}], got {num_components}")
        self.num_users, self.num_items = int(num_users), int(num_items)
        self.alpha, self.num_components = float(alpha), int(num_components)
        self.register_buffer("weight", torch.zeros(self.num_items, self.num_items))
        self.register_buffer("history", torch.zeros(self.num_users, self.num_items))

    def fit(self, interactions: Any) -> GraphFilterCF:
        """Form :math:`W` from the binary ``[U, I]`` training matrix; returns self."""
        R = sp.csr_matrix(interactions, dtype=np.float64)
        if R.shape != (self.num_users, self.num_items):
            raise ValueError(f"interactions shape {R.shape} != ({self.num_users}, "
                             f"{self.num_items})")
        R.data[:] = 1.0
        du = np.asarray(R.sum(1)).ravel()
        di = np.asarray(R.sum(0)).ravel()
        inv_sqrt_u = np.divide(1.0, np.sqrt(du), out=np.zeros_like(du), where=du > 0)
        inv_sqrt_i = np.divide(1.0, np.sqrt(di), out=np.zeros_like(di), where=di > 0)
        R_norm = sp.diags(inv_sqrt_u) @ R @ sp.diags(inv_sqrt_i)
        P = (R_norm.T @ R_norm).toarray()
        W = P.copy()
        if self.num_components and self.alpha:
            V = top_right_singular_vectors(R_norm, self.num_components)
            W += self.alpha * (inv_sqrt_i[:, None] * V) @ (V.T * np.sqrt(di)[None, :])
        self.weight = torch.from_numpy(W).float()
        self.history = torch.from_numpy(R.toarray()).float()
        return self
