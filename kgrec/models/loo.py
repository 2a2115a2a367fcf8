"""Leave-one-out scores of one history, cheap enough to compute on every request.

Explanations name as anchor the liked movie whose removal lowers the model's score of the
explained item most (:mod:`kgrec.explain.effect`). For a history of item indices
:math:`H = (h_1, \\dots, h_n)`, row 0 of the leave-one-out scores is the score of :math:`H`
and row :math:`j` (1-based) that of :math:`H \\setminus \\{h_j\\}`: ``[n + 1, I]``.

A request explains ten items, so only ten columns of that matrix are needed, plus (for a
fusion, which standardises each component per row) each row's mean and standard deviation
over the items it does not exclude, :math:`K_0 = \\bar H` and
:math:`K_j = \\bar H \\cup \\{h_j\\}` (the shorter history no longer excludes :math:`h_j`).
:class:`HistoryLOO` gives both: ``columns(items)`` and ``moments()``.

* :class:`DenseLOO` holds the whole ``[n + 1, I]`` matrix (any model: scored in batches;
  linear models: the sum of the history's weight rows minus each row, ``O(n I)``) and
  takes the moments from it as full-row sums minus the history's columns:
  :math:`\\sum_{i \\in K_j} r_{ji} = \\sum_i r_{ji} - \\sum_{h \\in H} r_{jh} + [j > 0]\\, r_{j h_j}`.
* :class:`LinearLOO` (linear autoencoders, item–item models) computes the same moments from
  the history's weight rows without forming the matrix.
* :class:`FoldInLOO` (LightGCN's fold-in, user vector = mean of the history's item vectors)
  never forms the matrix: with :math:`u_j` the row's user vector, :math:`E` the item vectors,
  :math:`s_E = \\sum_i e_i` and :math:`G_E = E^T E`,
  :math:`\\sum_{i \\in K_j} u_j \\cdot e_i = u_j \\cdot (s_E - s_H + [j>0] e_{h_j})` and
  :math:`\\sum_{i \\in K_j} (u_j \\cdot e_i)^2 = u_j^T (G_E - G_H) u_j + [j>0] (u_j \\cdot e_{h_j})^2`:
  ``O(n d^2)`` plus ``O(n d m)`` for ``m`` columns.
* :class:`ConstantLOO` (popularity: every history gets the same row) and
  :class:`ProfileLOO` (a genre or director profile, user vector = the history's entity
  shares :math:`p_j`, scores :math:`p_j G^T`) use the same identities with
  :math:`s_G = \sum_i G_i` and :math:`G^T G` (sparse when the entities are people).
* :class:`FusionLOO` standardises each component's columns with its moments and sums them
  with the fusion weights: :math:`\\sum_c w_c (r^c_{ji} - \\mu^c_j) / \\sigma^c_j`.

All of them give the numbers the generic definition gives (tested against it).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = ["ConstantLOO", "DenseLOO", "FoldInLOO", "FusionLOO", "HistoryLOO", "LinearLOO",
           "ProfileLOO", "SparseLinearLOO"]


class HistoryLOO:
    """Leave-one-out scores of one history ``long [n]`` over ``num_items`` items."""

    history: Tensor
    num_items: int

    def columns(self, items: Tensor | None = None) -> Tensor:  # pragma: no cover - interface
        """``[n + 1, m]`` scores at ``items`` (``long [m]``; all items when ``None``)."""
        raise NotImplementedError

    def moments(self) -> tuple[Tensor, Tensor, Tensor]:  # pragma: no cover - interface
        """``(sum, sum of squares, count)``, each float64 ``[n + 1]``, of every row's scores
        over the items the row keeps (:math:`K_0 = \\bar H`, :math:`K_j = \\bar H \\cup \\{h_j\\}`)."""
        raise NotImplementedError

    def counts(self) -> Tensor:
        """float64 ``[n + 1]``: :math:`|K_j|`."""
        n = len(self.history)
        out = torch.full((n + 1,), float(self.num_items - n), dtype=torch.float64)
        out[1:] += 1.0
        return out

    def column(self, item: int) -> np.ndarray:
        """float64 ``[n + 1]``: the scores at one item, in numpy (a request asks for ten
        single columns; numpy on ``n``-vectors costs microseconds where a chain of small
        torch calls costs a fraction of a millisecond)."""
        return self.columns(torch.tensor([int(item)])).double().cpu().numpy()[:, 0]

    def _row_stats(self) -> tuple[np.ndarray, np.ndarray]:
        """float64 ``[n + 1]`` mean and standard deviation of each row over its kept items
        (computed once per history)."""
        stats = getattr(self, "_stats", None)
        if stats is None:
            total, squares, count = self.moments()
            mean = total / count
            std = (squares / count - mean * mean).clamp_min(0.0).sqrt()
            stats = (mean.numpy(), std.clamp_min(1e-8).numpy())
            self._stats = stats
        return stats

    def standardized_column(self, item: int) -> np.ndarray:
        """float64 ``[n + 1]``: :meth:`column` as per-row z-scores over the kept items."""
        mean, std = self._row_stats()
        return (self.column(item) - mean) / std

    def standardized_columns(self, items: Tensor | None = None) -> Tensor:
        """:meth:`columns` as per-row z-scores over the kept items (float64), as
        :func:`kgrec.models.hybrid.standardize` with the history excluded computes them."""
        mean, std = (torch.from_numpy(a) for a in self._row_stats())
        cols = self.columns(items).double().cpu()
        return (cols - mean[:, None]) / std[:, None]


def _index(items: Tensor | None, device: torch.device) -> Tensor | slice:
    return slice(None) if items is None else torch.as_tensor(items, dtype=torch.long).to(device)


def _with_own(total: Tensor, squares: Tensor, own: Tensor) -> tuple[Tensor, Tensor]:
    """Row sums and sums of squares ``[n + 1]`` with each shorter history's own movie
    ``own [n]`` (:math:`r_{j h_j}`, kept by row ``j``) added back to rows ``1..n``."""
    total, squares = total.clone(), squares.clone()
    total[1:] += own
    squares[1:] += own * own
    return total, squares


def _over_kept(total: Tensor, squares: Tensor, inside: Tensor) -> tuple[Tensor, Tensor]:
    """Full-row sums and sums of squares ``[n + 1]`` restricted to the kept items: minus
    the history's columns ``inside [n + 1, n]``, plus row ``j``'s own :math:`h_j`."""
    return _with_own(total - inside.sum(1), squares - (inside * inside).sum(1),
                     inside[1:].diagonal())


class DenseLOO(HistoryLOO):
    """From the whole matrix ``scores [n + 1, I]`` of ``history [n]``."""

    def __init__(self, history: Tensor, scores: Tensor):
        self.history, self.scores = history, scores
        self.num_items = scores.shape[1]
        if scores.shape[0] != len(history) + 1:
            raise ValueError(f"scores have {scores.shape[0]} rows for a history of "
                             f"{len(history)} (expected {len(history) + 1})")

    def columns(self, items: Tensor | None = None) -> Tensor:
        return self.scores[:, _index(items, self.scores.device)]

    def column(self, item: int) -> np.ndarray:
        array = getattr(self, "_array", None)
        if array is None:
            array = self._array = self.scores.detach().cpu().numpy()
        return array[:, int(item)].astype(np.float64)

    def moments(self) -> tuple[Tensor, Tensor, Tensor]:
        r = self.scores
        h = self.history.to(r.device)
        total, squares = _over_kept(r.sum(1, dtype=torch.float64),
                                    (r * r).sum(1, dtype=torch.float64),
                                    r.index_select(1, h).double())
        return total.cpu(), squares.cpu(), self.counts()


class LinearLOO(HistoryLOO):
    """A model linear in the history, :math:`s(H) = T = \\sum_{h \\in H} W_h`, from the
    history's weight rows ``rows [n, I]`` (:math:`W_H`) without forming the
    ``[n + 1, I]`` matrix: row :math:`j` is :math:`T - W_{h_j}`, so with
    :math:`\\rho_j = \\sum_i W_{h_j i}` and :math:`q_j = \\|W_{h_j}\\|^2`

    .. math:: \\sum_i r_{ji} = \\textstyle\\sum_i T_i - \\rho_j, \\qquad
              \\sum_i r_{ji}^2 = \\|T\\|^2 - 2\\, W_{h_j} \\cdot T + q_j

    and the history's own columns (``[n, n]``) are subtracted as in :class:`DenseLOO`:
    four passes over ``rows`` in all, instead of building, copying and squaring the
    whole matrix. ``row_sums`` / ``row_squares`` (``[n]``) may come precomputed."""

    def __init__(self, history: Tensor, rows: Tensor, row_sums: Tensor | None = None,
                 row_squares: Tensor | None = None):
        self.history, self.rows = history, rows
        self.num_items = rows.shape[1]
        self.total = rows.sum(0)                       # T [I]
        self.row_sums = rows.sum(1) if row_sums is None else row_sums
        self.row_squares = (rows * rows).sum(1) if row_squares is None else row_squares

    def columns(self, items: Tensor | None = None) -> Tensor:
        index = _index(items, self.rows.device)
        t = self.total[index]
        return torch.cat([t[None], t[None] - self.rows[:, index]])

    def column(self, item: int) -> np.ndarray:
        arrays = getattr(self, "_arrays", None)
        if arrays is None:
            arrays = self._arrays = (self.total.cpu().numpy(), self.rows.cpu().numpy())
        total, rows = arrays
        t = float(total[int(item)])
        return np.concatenate([[t], t - rows[:, int(item)].astype(np.float64)])

    def moments(self) -> tuple[Tensor, Tensor, Tensor]:
        total = self.total
        h = self.history.to(total.device)
        t64 = total.double()
        full_sum = t64.sum()
        full_sq = t64 @ t64
        dots = self._dots().double()                   # W_{h_j} · T
        sums = torch.cat([full_sum[None], full_sum - self.row_sums.double()])
        squares = torch.cat([full_sq[None], full_sq - 2 * dots + self.row_squares.double()])
        t_h = t64[h]                                   # T at the history's columns [n]
        inside = torch.cat([t_h[None], t_h[None] - self._at(h).double()])  # [n + 1, n]
        sums, squares = _over_kept(sums, squares, inside)
        return sums.cpu(), squares.cpu(), self.counts()

    def _dots(self) -> Tensor:
        """``[n]``: :math:`W_{h_j} \\cdot T`."""
        return self.rows @ self.total

    def _at(self, items: Tensor) -> Tensor:
        """``[n, m]``: :math:`W_{h_j, i}` at the items ``items [m]``."""
        return self.rows.index_select(1, items)


class SparseLinearLOO(LinearLOO):
    """:class:`LinearLOO` from sparse weight rows: row ``j`` (:math:`W_{h_j}`) is
    ``values[k]`` at columns ``cols[k]`` for the entries ``k`` with ``owner[k] == j``
    (grouped by row, columns ascending within a row). Every quantity is computed from
    the ``nnz`` entries, never from an ``[n, I]`` matrix (a 200-movie history of a
    50k-movie model with 100 neighbours: 20k entries instead of 10M)."""

    def __init__(self, history: Tensor, owner: Tensor, cols: Tensor, values: Tensor,
                 num_items: int):
        self.history, self.num_items = history, int(num_items)
        self.owner, self.cols, self.values = owner.long(), cols.long(), values.float()
        self.total = torch.zeros(self.num_items, dtype=self.values.dtype,
                                 device=self.values.device).index_add_(0, self.cols, self.values)
        self.row_sums = self._per_row(self.values)
        self.row_squares = self._per_row(self.values * self.values)
        #: sorted lookup keys ``owner * I + col`` of the entries
        self.keys = self.owner * self.num_items + self.cols

    def _per_row(self, values: Tensor) -> Tensor:
        return torch.zeros(len(self.history), dtype=values.dtype,
                           device=values.device).index_add_(0, self.owner, values)

    def _at(self, items: Tensor) -> Tensor:
        items = torch.as_tensor(items, dtype=torch.long, device=self.keys.device).reshape(-1)
        query = (torch.arange(len(self.history), device=self.keys.device)[:, None] * self.num_items
                 + items[None, :])                     # [n, m]
        if not len(self.keys):
            return torch.zeros(query.shape, dtype=self.values.dtype)
        pos = torch.searchsorted(self.keys, query).clamp_max(len(self.keys) - 1)
        return torch.where(self.keys[pos] == query, self.values[pos],
                           torch.zeros((), dtype=self.values.dtype))

    def _dots(self) -> Tensor:
        return self._per_row(self.values * self.total[self.cols])

    def columns(self, items: Tensor | None = None) -> Tensor:
        items = torch.arange(self.num_items) if items is None else torch.as_tensor(
            items, dtype=torch.long).reshape(-1)
        t = self.total[items]
        return torch.cat([t[None], t[None] - self._at(items)])

    def column(self, item: int) -> np.ndarray:
        # numpy: ten single columns per request, where small torch calls cost more
        arrays = getattr(self, "_arrays", None)
        if arrays is None:
            arrays = self._arrays = (self.total.cpu().numpy(), self.keys.cpu().numpy(),
                                     self.values.cpu().numpy())
        total, keys, values = arrays
        item = int(item)
        t = float(total[item])
        at = np.zeros(len(self.history), dtype=np.float64)
        if len(keys):
            query = np.arange(len(self.history), dtype=np.int64) * self.num_items + item
            pos = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
            found = keys[pos] == query
            at[found] = values[pos[found]]
        return np.concatenate([[t], t - at])


class FoldInLOO(HistoryLOO):
    """Mean-of-item-vectors fold-in: ``score = u · e_i`` with ``u`` the mean of the
    history's vectors (``item_vectors [I, d]``); ``item_sum [d]`` and ``item_gram
    [d, d]`` are :math:`s_E` and :math:`G_E` (float64, computed once per model)."""

    def __init__(self, history: Tensor, item_vectors: Tensor, item_sum: Tensor,
                 item_gram: Tensor):
        self.history, self.num_items = history, item_vectors.shape[0]
        self.vectors = item_vectors
        h = history.to(item_vectors.device)
        n = len(h)
        rows = item_vectors.index_select(0, h).double()                # [n, d]
        total = rows.sum(0, keepdim=True)
        self.users = torch.cat([total / max(n, 1), (total - rows) / max(n - 1, 1)])  # [n+1, d]
        self.rows, self.item_sum, self.item_gram = rows, item_sum, item_gram

    def columns(self, items: Tensor | None = None) -> Tensor:
        vectors = self.vectors[_index(items, self.vectors.device)]
        return (self.users.to(vectors.dtype) @ vectors.T)

    def column(self, item: int) -> np.ndarray:
        arrays = getattr(self, "_arrays", None)
        if arrays is None:
            arrays = self._arrays = (self.users.to(self.vectors.dtype).cpu().numpy(),
                                     self.vectors.detach().cpu().numpy())
        users, vectors = arrays
        return (users @ vectors[int(item)]).astype(np.float64)

    def moments(self) -> tuple[Tensor, Tensor, Tensor]:
        u, rows = self.users, self.rows
        kept = self.item_sum - rows.sum(0)             # s_E - s_H
        gram = self.item_gram - rows.T @ rows          # G_E - G_H
        total = u @ kept
        squares = ((u @ gram) * u).sum(1)
        total, squares = _with_own(total, squares, (u[1:] * rows).sum(1))  # u_j · e_{h_j}
        return total.cpu(), squares.cpu(), self.counts()


class ConstantLOO(HistoryLOO):
    """A history-independent model (popularity): every row is ``row [I]``; only the kept
    items differ between rows."""

    def __init__(self, history: Tensor, row: Tensor):
        self.history, self.num_items = history, int(row.shape[0])
        self.row = row.detach().cpu()

    def columns(self, items: Tensor | None = None) -> Tensor:
        values = self.row[_index(items, self.row.device)]
        return values.unsqueeze(0).expand(len(self.history) + 1, -1)

    def moments(self) -> tuple[Tensor, Tensor, Tensor]:
        r = self.row.double()
        n = len(self.history)
        inside = r.index_select(0, self.history.cpu()).unsqueeze(0).expand(n + 1, n)
        total, squares = _over_kept(r.sum().expand(n + 1), (r * r).sum().expand(n + 1), inside)
        return total, squares, self.counts()


class ProfileLOO(HistoryLOO):
    """A profile model :math:`s(H) = p_H G^T` with :math:`p_H = c_H / \max(|c_H|_1, 1)`
    and :math:`c_H = \sum_{h \in H} G_h` (:class:`~kgrec.models.baselines.GenreProfile`):
    the user vectors :math:`p_j` of the ``n + 1`` histories are sparse ``[n + 1, C]``
    (the entities of ``n`` movies), so columns cost ``O(nnz)`` and the moments use
    :math:`s_G` and :math:`G^T G` (computed once per model) as :class:`FoldInLOO` does.

    Args:
        history: ``long [n]``.
        genres: scipy CSR ``[I, C]`` binary item × entity matrix :math:`G`.
        entity_sums: float64 ``[C]``: :math:`s_G`, each entity's number of movies.
        gram: scipy CSR ``[C, C]``: :math:`G^T G`.
    """

    def __init__(self, history: Tensor, genres, entity_sums: np.ndarray, gram):
        import scipy.sparse as sp

        self.history, self.num_items = history, genres.shape[0]
        self.genres, self.entity_sums, self.gram = genres, entity_sums, gram
        h = history.cpu().numpy()
        n = len(h)
        own = genres[h].astype(np.float64)                          # [n, C]: G_{h_j}
        full = sp.csr_matrix(own.sum(axis=0))                       # [1, C]: c_H
        rows = sp.vstack([full, sp.csr_matrix(np.ones((n, 1))) @ full - own]).tocsr()
        totals = np.maximum(np.asarray(rows.sum(axis=1)).ravel(), 1.0)
        self.users = (sp.diags(1.0 / totals) @ rows).tocsr()        # [n + 1, C]: p_j

    def columns(self, items: Tensor | None = None) -> Tensor:
        g = self.genres if items is None else self.genres[
            torch.as_tensor(items, dtype=torch.long).reshape(-1).cpu().numpy()]
        return torch.from_numpy(np.asarray((self.users @ g.T).toarray(), dtype=np.float64))

    def moments(self) -> tuple[Tensor, Tensor, Tensor]:
        u = self.users
        total = torch.from_numpy(np.asarray(u @ self.entity_sums, dtype=np.float64).ravel())
        squares = torch.from_numpy(np.asarray((u @ self.gram).multiply(u).sum(axis=1),
                                              dtype=np.float64).ravel())
        total, squares = _over_kept(total, squares, self.columns(self.history))
        return total, squares, self.counts()


class FusionLOO(HistoryLOO):
    """Weighted sum of the components' standardised leave-one-out scores."""

    def __init__(self, history: Tensor, parts: Sequence[tuple[float, HistoryLOO]],
                 num_items: int):
        self.history, self.parts, self.num_items = history, list(parts), num_items

    def columns(self, items: Tensor | None = None) -> Tensor:
        m = self.num_items if items is None else len(items)
        out = torch.zeros(len(self.history) + 1, m, dtype=torch.float64)
        for weight, part in self.parts:
            out += weight * part.standardized_columns(items)
        return out

    def column(self, item: int) -> np.ndarray:
        out = np.zeros(len(self.history) + 1, dtype=np.float64)
        for weight, part in self.parts:
            out += weight * part.standardized_column(item)
        return out

    def moments(self) -> tuple[Tensor, Tensor, Tensor]:
        full = DenseLOO(self.history, self.columns())  # a fusion inside a fusion: rare
        return full.moments()
