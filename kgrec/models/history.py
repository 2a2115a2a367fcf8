"""Sparse user histories for item-item models: CSR buffers, densified per batch.

A fitted item-item model scores a user from their training row :math:`X_u`. Keeping
:math:`X` dense costs ``U * I`` entries (60k users x 50k movies: 3 GB as bool, 12 GB as
float32); as CSR buffers it costs ``U + 1 + nnz`` integers, and only a batch of users is
densified (``[B, I]``) when scored.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor


def csr_positions(indptr: Tensor, rows: Tensor) -> tuple[Tensor, Tensor]:
    """``(owner, positions)``: the positions of every CSR entry of ``rows [B]`` (each row's
    entries contiguous and in order) and, per position, which of ``rows`` it belongs to."""
    start, stop = indptr[rows], indptr[rows + 1]
    sizes = stop - start
    owner = torch.repeat_interleave(torch.arange(len(rows), device=indptr.device), sizes)
    first = torch.repeat_interleave(start - (sizes.cumsum(0) - sizes), sizes)
    return owner, first + torch.arange(len(owner), device=indptr.device)


def binary_csr(interactions: Any, num_users: int, num_items: int) -> sp.csr_matrix:
    """Any non-zero of ``interactions`` (scipy sparse, numpy, dense or sparse torch) as a
    canonical binary float64 CSR ``[num_users, num_items]`` (sorted, no duplicates)."""
    if isinstance(interactions, Tensor):
        interactions = (interactions.to_dense() if interactions.layout != torch.strided
                        else interactions).detach().cpu().numpy()
    X = sp.csr_matrix(interactions, dtype=np.float64)
    if X.shape != (num_users, num_items):
        raise ValueError(f"interactions shape {X.shape} != ({num_users}, {num_items})")
    X.sum_duplicates()
    X.eliminate_zeros()
    X.data[:] = 1.0
    X.sort_indices()
    return X


class SparseHistory:
    """Mixin for a ``torch.nn.Module`` with ``num_users``/``num_items``: the training
    histories as buffers ``history_indptr [U + 1]`` and ``history_indices [nnz]``
    (``long``), so they move with ``.to()`` and travel in ``state_dict()``.

    Call :meth:`_init_history` in the constructor and :meth:`set_history` in ``fit``; a
    subclass's ``_load_from_state_dict`` calls :meth:`_adapt_history_state` first.
    """

    num_users: int
    num_items: int
    history_indptr: Tensor
    history_indices: Tensor

    def _init_history(self) -> None:
        self.register_buffer("history_indptr", torch.zeros(self.num_users + 1, dtype=torch.long))
        self.register_buffer("history_indices", torch.zeros(0, dtype=torch.long))

    def set_history(self, X: sp.csr_matrix) -> None:
        """Store the binary CSR ``X [U, I]`` (from :func:`binary_csr`) as the histories."""
        self.history_indptr = torch.from_numpy(X.indptr.astype(np.int64))
        self.history_indices = torch.from_numpy(X.indices.astype(np.int64))

    def _adapt_history_state(self, state_dict: dict[str, Any], prefix: str,
                             dense_key: str) -> None:
        """Accept artifacts that stored a dense ``[U, I]`` history under ``dense_key``,
        and size ``history_indices`` to the saved one (known only after fit)."""
        dense = state_dict.pop(prefix + dense_key, None)
        if dense is not None:
            csr = sp.csr_matrix(dense.cpu().numpy() != 0)
            state_dict[prefix + "history_indptr"] = torch.from_numpy(csr.indptr.astype(np.int64))
            state_dict[prefix + "history_indices"] = torch.from_numpy(csr.indices.astype(np.int64))
        key = prefix + "history_indices"
        if key in state_dict:
            self.history_indices = torch.zeros_like(state_dict[key])

    def _history_coo(self, users: Tensor) -> tuple[Tensor, Tensor]:
        """``(rows, cols)``: the training histories of ``users [B]`` as coordinates
        (row ``b`` of ``users`` rated item ``cols[k]`` where ``rows[k] == b``)."""
        users = torch.as_tensor(users).long().reshape(-1).to(self.history_indptr.device)
        if len(users) and (users.min() < 0 or users.max() >= self.num_users):
            bad = users[(users < 0) | (users >= self.num_users)][0]
            raise IndexError(f"user index {int(bad)} out of range [0, {self.num_users})")
        rows, positions = csr_positions(self.history_indptr, users)
        return rows, self.history_indices[positions]

    def history_rows(self, users: Tensor) -> Tensor:
        """Dense binary float rows ``[B, I]`` of the training histories of ``users [B]``."""
        rows, cols = self._history_coo(users)
        out = torch.zeros(len(torch.as_tensor(users).reshape(-1)), self.num_items,
                          device=self.history_indptr.device)
        out[rows, cols] = 1.0
        return out
