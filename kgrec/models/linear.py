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

**Neighbourhood form** (the default above ``max_dense_items``, ``large_form="neighbors"``).
Since :math:`B = (G + \Lambda)^{-1} G`, column :math:`j` solves
:math:`(G + \Lambda) b_j = G e_j`. Restricting :math:`b_j` to the set :math:`N_j` of
item :math:`j` and its ``neighbors - 1`` most co-occurring items gives an
``neighbors x neighbors`` system per item,

.. math:: b_j[N_j] = (G_{N_j N_j} + \Lambda_{N_j})^{-1} G_{N_j j}, \qquad
          b_j[i] = 0 \;(i \notin N_j),

so :math:`B` is sparse (``I * neighbors`` entries) and exact when ``neighbors >= I``.
Cost: the sparse Gram :math:`G = X^\top X` (``sum_u n_u^2`` products, not linear in
ratings: it grows with the square of heavy users' history lengths) and ``I`` small solves
(``O(I * neighbors^3)``, linear in items). Scores are one sparse product. The low-rank
form loses the tail of the spectrum where a sparse catalogue's signal lives: on the
synthetic 250k-rating catalogue (12,500 movies) rank 512 scored validation NDCG@10 0.0157,
no better than popularity (0.0159); see BENCHMARKS.md for the neighbourhood form.

User histories are kept sparse (CSR ``history_indptr [U+1]``, ``history_indices
[nnz]``) in both forms; a batch of users is densified only for its own rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from kgrec.models.base import ScoringModel, linear_loo
from kgrec.models.history import SparseHistory, binary_csr, csr_positions

if TYPE_CHECKING:
    from kgrec.models.loo import HistoryLOO

#: Above this many items DLAE uses its large form (exact: ``I^2`` float64 entries while
#: solving, 0.8 GB at 10k items, and ``I^3/3`` flops).
MAX_DENSE_ITEMS = 10_000
#: Forms DLAE can take above ``max_dense_items``.
LARGE_FORMS = ("neighbors", "low_rank")


def capped_gram(X: sp.csr_matrix, max_history: int, *, seed: int = 0) -> sp.csr_matrix:
    """Sparse co-occurrence counts :math:`G = X^\top X` ``[I, I]`` over at most
    ``max_history`` items per user (a seeded random subset of longer histories).

    The product costs ``sum_u n_u^2``: on the 1M-rating synthetic catalogue 125M pairs
    (the longest history has 4,961 items), 38M with a cap of 200, which keeps 94.6% of
    the ratings."""
    counts = np.diff(X.indptr)
    if counts.max(initial=0) > max_history:
        rng = np.random.default_rng(seed)
        keep = np.ones(X.nnz, dtype=bool)
        for u in np.flatnonzero(counts > max_history):
            lo = X.indptr[u]
            drop = rng.choice(counts[u], counts[u] - max_history, replace=False)
            keep[lo + drop] = False
        rows = np.repeat(np.arange(X.shape[0]), counts)[keep]
        X = sp.csr_matrix((X.data[keep], (rows, X.indices[keep])), shape=X.shape)
    Xf = X.astype(np.float32)
    G = (Xf.T @ Xf).tocsr()
    G.sort_indices()
    return G


def neighborhood_solve(X: sp.csr_matrix, lam: np.ndarray, neighbors: int, *,
                       max_history: int = 200, batch_size: int = 256) -> sp.csr_matrix:
    """The neighbourhood-restricted DLAE weights (module docstring) as a sparse CSR
    :math:`B^\top` ``[I, I]``: row ``j`` holds column ``j`` of :math:`B` on :math:`N_j`.

    Args:
        X: binary ``[U, I]`` CSR training matrix.
        lam: ``[I]`` diagonal penalty :math:`\Lambda`.
        neighbors: size of :math:`N_j` (item ``j`` included; capped at ``I``). Items with
            fewer co-occurring items get smaller sets.
        max_history: items per user counted in :math:`G` (:func:`capped_gram`).
        batch_size: items solved per batched ``torch.linalg.solve`` call.
    """
    n = X.shape[1]
    size = min(neighbors, n)
    G = capped_gram(X, max_history)
    sets = np.full((n, size), n, dtype=np.int64)  # n = padding, sorted last
    for j in range(n):
        lo, hi = G.indptr[j], G.indptr[j + 1]
        cols, vals = G.indices[lo:hi], G.data[lo:hi]
        if size == n:  # every item: the exact solution
            cols, vals = np.arange(n), np.ones(n)
        others = cols != j
        cols, vals = cols[others], vals[others]
        if len(cols) > size - 1:
            cols = cols[np.argpartition(-vals, size - 2)[:size - 1]] if size > 1 else cols[:0]
        sets[j, 0] = j
        sets[j, 1:1 + len(cols)] = cols
    sets.sort(axis=1)  # each set ascending: the lookups below are runs of increasing keys
    own = np.argmax(sets == np.arange(n)[:, None], axis=1)  # where item j is in its set
    # G's entries by key row * n + col (sorted, as CSR rows and columns are); 32-bit
    # keys when they fit (n < 65,536), which halves the memory the search reads
    key_type = np.uint32 if n * n < 2 ** 32 else np.int64
    keys = (np.repeat(np.arange(n, dtype=key_type), np.diff(G.indptr)) * key_type(n)
            + G.indices.astype(key_type))
    upper_i, upper_j = np.triu_indices(size)  # G is symmetric: look up one triangle
    rows_out, cols_out, vals_out = [], [], []
    for lo in range(0, n, batch_size):
        block = sets[lo:lo + batch_size]  # [b, N], n = padding
        valid = block < n
        safe = np.where(valid, block, 0).astype(key_type)
        query = (safe[:, upper_i] * key_type(n) + safe[:, upper_j]).ravel()
        # sorted queries: the binary searches then walk the keys in order (~2.5x faster)
        order = np.argsort(query, kind="stable")
        pos = np.empty(len(query), dtype=np.int64)
        pos[order] = np.searchsorted(keys, query[order])
        pos = np.minimum(pos, len(keys) - 1)
        upper = np.where(keys[pos] == query, G.data[pos], 0.0).reshape(len(block), -1)
        upper *= valid[:, upper_i] & valid[:, upper_j]
        A = np.zeros((len(block), size, size))
        A[:, upper_i, upper_j] = upper
        A[:, upper_j, upper_i] = upper
        rhs = A[np.arange(len(block)), :, own[lo:lo + batch_size]].copy()  # G[N_j, j]
        A[:, np.arange(size), np.arange(size)] += np.where(valid, lam[np.where(valid, block, 0)],
                                                           1.0)  # padding: identity rows
        beta = torch.linalg.solve(torch.from_numpy(A), torch.from_numpy(rhs)).numpy()
        rows_out.append(np.repeat(np.arange(lo, lo + len(block)), valid.sum(1)))
        cols_out.append(block[valid])
        vals_out.append(beta[valid])
    Bt = sp.csr_matrix((np.concatenate(vals_out), (np.concatenate(rows_out),
                                                   np.concatenate(cols_out))), shape=(n, n))
    Bt.sort_indices()
    return Bt


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


#: Batches of at most this many users are scored by summing rows of the weights
#: (see :meth:`DLAE.score`); larger ones by the dense product.
SPARSE_SCORE_USERS = 32


def _transpose_csr(indptr: Tensor, indices: Tensor, values: Tensor, n: int
                   ) -> tuple[Tensor, Tensor, Tensor]:
    """The CSR ``(indptr, indices, values)`` of the transpose of a square ``[n, n]`` CSR
    matrix (sorted indices)."""
    M = sp.csr_matrix((values.cpu().numpy(), indices.cpu().numpy(), indptr.cpu().numpy()),
                      shape=(n, n)).T.tocsr()
    M.sort_indices()
    return (torch.from_numpy(M.indptr.astype(np.int64)),
            torch.from_numpy(M.indices.astype(np.int64)),
            torch.from_numpy(M.data.astype(np.float32)))


class DLAE(SparseHistory, ScoringModel):
    """Denoising linear autoencoder (closed form; exact or low-rank, see the module doc).

    Args:
        num_users: number of users ``U``.
        num_items: number of items ``I``.
        dropout: input dropout probability :math:`p` in ``[0, 1)`` (default 0.5).
        reg: L2 weight :math:`\\lambda` (default 300).
        max_dense_items: the exact dense solve is used up to this many items,
            ``large_form`` above (default :data:`MAX_DENSE_ITEMS` = 10,000; ``0`` forces
            ``large_form``).
        large_form: ``"neighbors"`` (default) or ``"low_rank"`` (module docstring).
        rank: rank ``k`` of the low-rank Gram (default 512: the best on ML-100K
            validation among 64-512; capped at ``I``).
        neighbors: items per column of :math:`B` in the neighbourhood form (default 100).
    """

    def __init__(self, num_users: int, num_items: int, *, dropout: float = 0.5,
                 reg: float = 300.0, max_dense_items: int = MAX_DENSE_ITEMS, rank: int = 512,
                 large_form: str = "neighbors", neighbors: int = 100):
        super().__init__()
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if reg < 0:
            raise ValueError(f"reg must be >= 0, got {reg}")
        if rank < 1 or max_dense_items < 0:
            raise ValueError(f"rank must be >= 1 and max_dense_items >= 0, got {rank}, "
                             f"{max_dense_items}")
        if large_form not in LARGE_FORMS or neighbors < 1:
            raise ValueError(f"large_form must be one of {LARGE_FORMS} and neighbors >= 1, "
                             f"got {large_form!r}, {neighbors}")
        self.num_users, self.num_items = num_users, num_items
        self.dropout, self.reg = dropout, reg
        large = num_items > max_dense_items
        self.low_rank = large and large_form == "low_rank"
        self.sparse_weights = large and large_form == "neighbors"
        self.rank = min(rank, num_items)
        self.neighbors = min(neighbors, num_items)
        if self.sparse_weights:  # CSR of B^T and of B, their sizes known after fit
            for kind in ("weight", "row"):
                self.register_buffer(f"{kind}_indptr", torch.zeros(num_items + 1, dtype=torch.long))
                self.register_buffer(f"{kind}_indices", torch.zeros(0, dtype=torch.long))
                self.register_buffer(f"{kind}_values", torch.zeros(0))
        elif self.low_rank:
            self.register_buffer("left", torch.zeros(num_items, self.rank))
            self.register_buffer("right", torch.zeros(num_items, self.rank))
        else:
            self.register_buffer("weight", torch.zeros(num_items, num_items))
        self._init_history()

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
        # artifacts saved before histories were sparse hold a dense [U, I] "history"
        self._adapt_history_state(state_dict, prefix, "history")
        if self.sparse_weights and prefix + "weight_indptr" in state_dict \
                and prefix + "row_indptr" not in state_dict:  # saved before the row copy
            rows = _transpose_csr(state_dict[prefix + "weight_indptr"],
                                  state_dict[prefix + "weight_indices"],
                                  state_dict[prefix + "weight_values"], self.num_items)
            for kind, value in zip(("indptr", "indices", "values"), rows):
                state_dict[f"{prefix}row_{kind}"] = value
        for name in ("weight_indices", "weight_values", "row_indices", "row_values"):
            if self.sparse_weights and prefix + name in state_dict:
                setattr(self, name, torch.zeros_like(state_dict[prefix + name]))
        super()._load_from_state_dict(state_dict, prefix, *args)

    def fit(self, interactions: sp.spmatrix) -> DLAE:
        """Solve for :math:`B` (or its factors) from the binary ``[U, I]`` training
        matrix; returns self."""
        X = binary_csr(interactions, self.num_users, self.num_items)
        counts = np.asarray(X.sum(axis=0)).ravel()  # diag(G)
        lam = self.reg + self.dropout / (1 - self.dropout) * counts
        if self.sparse_weights:
            Bt = neighborhood_solve(X, lam, self.neighbors)
            self.weight_indptr = torch.from_numpy(Bt.indptr.astype(np.int64))
            self.weight_indices = torch.from_numpy(Bt.indices.astype(np.int64))
            self.weight_values = torch.from_numpy(Bt.data.astype(np.float32))
            self.row_indptr, self.row_indices, self.row_values = _transpose_csr(
                self.weight_indptr, self.weight_indices, self.weight_values, self.num_items)
        elif self.low_rank:
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
        """Scores ``x_u B`` of every item: ``[B]`` → ``[B, I]``.

        Up to :data:`SPARSE_SCORE_USERS` users (a request), the sum of the history's rows
        of :math:`B` (or of :math:`L`, then one product with :math:`R^T`):
        ``O(nnz I)`` instead of the dense ``O(B I^2)`` product, same numbers. The
        neighbourhood form always sums the rows of its sparse :math:`B`: the cost is
        the entries of those rows (``history x neighbors`` per user), where the sparse
        ``B^T h^T`` product of :meth:`score_history` touches every entry of :math:`B`
        for each user (10,000 validation users of the 1M catalogue: minutes)."""
        users = torch.as_tensor(users).long().reshape(-1)
        if self.sparse_weights:
            rows, cols = self._history_coo(users)
            return self._sparse_rows_sum(rows, cols, len(users))
        if len(users) > SPARSE_SCORE_USERS:
            return self.score_history(self.history_rows(users))
        rows, cols = self._history_coo(users)
        factor = self.left if self.low_rank else self.weight
        rows, cols = rows.to(factor.device), cols.to(factor.device)
        summed = torch.zeros(len(users), factor.shape[1], device=factor.device)
        summed.index_add_(0, rows, factor.index_select(0, cols).float())
        return summed @ self.right.T.float() if self.low_rank else summed

    def _sparse_rows_sum(self, rows: Tensor, cols: Tensor, count: int) -> Tensor:
        """``[count, I]``: row ``b`` is the sum of the rows ``B[cols[k]]`` with
        ``rows[k] == b`` (neighbourhood form; cost: those rows' entries)."""
        entry_of, at = csr_positions(self.row_indptr, cols.to(self.row_indptr.device))
        owner = rows.to(at.device)[entry_of]
        out = torch.zeros(count, self.num_items, device=self.row_values.device)
        out.index_put_((owner, self.row_indices[at]), self.row_values[at], accumulate=True)
        return out

    def score_history(self, history: Tensor) -> Tensor:
        """Scores for arbitrary binary histories ``[B, I]`` (cold-start users):
        ``h B``, ``(B^T h^T)^T`` with a sparse CSR ``B^T`` in the neighbourhood form, or
        ``(h L) R^T`` in the low-rank form."""
        h = history.float()
        if self.sparse_weights:
            Bt = torch.sparse_csr_tensor(self.weight_indptr, self.weight_indices,
                                         self.weight_values, (self.num_items, self.num_items),
                                         check_invariants=False)  # sorted CSR, built in fit
            return (Bt @ h.T).T.contiguous()
        if self.low_rank:
            return (h @ self.left) @ self.right.T
        return h @ self.weight

    def history_loo(self, history: Tensor, batch_size: int = 256) -> HistoryLOO:
        """Leave-one-out scores of one history ``long [n]`` in closed form
        (:func:`~kgrec.models.base.linear_loo` of the rows :math:`B_h`, or
        :math:`L_h R^T` in the low-rank form): ``O(n I)``; in the neighbourhood form the
        rows come from the sparse row-major copy of :math:`B`."""
        if self.sparse_weights:  # from the rows' entries: no [n, I] matrix
            from kgrec.models.loo import SparseLinearLOO

            h = torch.as_tensor(history, dtype=torch.long).reshape(-1)
            owner, at = csr_positions(self.row_indptr, h.to(self.row_indptr.device))
            return SparseLinearLOO(h, owner, self.row_indices[at], self.row_values[at],
                                   self.num_items)
        if self.low_rank:
            return linear_loo(history, lambda h: self.left.index_select(0, h.to(self.left.device)).float()
                              @ self.right.T.float())
        from kgrec.models.loo import LinearLOO

        h = torch.as_tensor(history, dtype=torch.long).reshape(-1)
        on = h.to(self.weight.device)
        sums, squares = self._weight_row_stats()
        return LinearLOO(h, self.weight.index_select(0, on).float(), sums[on], squares[on])

    def _weight_row_stats(self) -> tuple[Tensor, Tensor]:
        """``[I]`` sum and sum of squares of each row of :math:`B` (float32, the numbers
        :class:`~kgrec.models.loo.LinearLOO` computes from a history's rows), computed
        once per weight instead of on every request's rows."""
        weight = self.weight
        stats = getattr(self, "_weight_stats", None)
        if stats is None or stats[0] is not weight or stats[1] != weight._version:
            rows = weight.float()
            stats = (weight, weight._version, rows.sum(1), (rows * rows).sum(1))
            self._weight_stats = stats  # one assignment: concurrent readers see a whole tuple
        return stats[2], stats[3]

    def extra_repr(self) -> str:
        form = (f"low_rank, rank={self.rank}" if self.low_rank else
                f"neighbors={self.neighbors}" if self.sparse_weights else "exact")
        return f"dropout={self.dropout}, reg={self.reg}, {form}"
