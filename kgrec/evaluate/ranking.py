"""Full-ranking evaluation: score every item, mask the known ones, take the top K.

Protocol (see ``shared/benchmarks/README.md``): for each user with at least one relevant
test item, every item is scored; the items in ``mask`` (the user's training items, plus
validation items when testing) get :math:`-\\infty`; the top :math:`K` of what is left is
compared with the test items. In the cold-start protocol only the ``candidates`` (the
held-out items) are ranked. Everything is matrix operations over batches of users — there
is no loop over items.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

import numpy as np
import torch
from torch import Tensor

from kgrec.evaluate import metrics as M

if TYPE_CHECKING:
    import pandas as pd
    import scipy.sparse as sp

    from kgrec.evaluate.segments import Segments
    from kgrec.graph import KnowledgeGraph
    from kgrec.models.base import ScoringModel

ScoresFn = Callable[[Tensor], Union[Tensor, np.ndarray]]

#: seed of the item order that breaks score ties in :func:`evaluate`
TIE_SEED = 0

#: per-user accuracy metrics, in report order: name → function(hits, num_relevant, k)
ACCURACY_METRICS: dict[str, Callable[..., Tensor]] = {
    "recall": M.recall_at_k,
    "precision": M.precision_at_k,
    "ndcg": M.ndcg_at_k,
    "hit": M.hit_rate_at_k,
    "mrr": M.mrr_at_k,
    "map": M.map_at_k,
}


@dataclass(frozen=True)
class EvalResult:
    """Metrics of one evaluation, averaged over the evaluated users.

    Attributes:
        metrics: ``"name@k"`` → value, e.g. ``{"recall@10": 0.21, "ndcg@10": 0.25, ...}``:
            ``recall``, ``precision``, ``ndcg``, ``hit``, ``mrr``, ``map``, ``coverage``,
            ``novelty`` and (with item features) ``diversity`` at every K.
        num_users: users evaluated (those with at least one relevant test item).
        per_user: with ``evaluate(..., per_user=True)``, ``"name@k"`` → ``float64
            [num_users]`` values for every per-user metric (all but coverage), aligned with
            ``users``; otherwise ``None``.
        users: user indices aligned with ``per_user`` (``None`` without it).
        segments: with ``evaluate(..., segments=...)``, segment name → its metrics
            (:func:`kgrec.evaluate.segments.segment_metrics`); otherwise ``None``.
    """

    metrics: dict[str, float]
    num_users: int
    per_user: dict[str, np.ndarray] | None = field(default=None, compare=False)
    users: np.ndarray | None = field(default=None, compare=False)
    segments: dict[str, dict[str, float]] | None = field(default=None, compare=False)

    def __getitem__(self, name: str) -> float:
        try:
            return self.metrics[name]
        except KeyError:
            raise KeyError(f"no metric {name!r}; have {', '.join(self.metrics)}") from None

    def to_dict(self) -> dict[str, float | int]:
        """JSON-ready ``{"num_users": ..., "recall@10": ..., ...}``."""
        return {"num_users": self.num_users, **self.metrics}

    def table(self) -> str:
        """Metrics as a plain-text table, one row per metric and one column per K."""
        names: dict[str, None] = {}
        cutoffs: dict[str, None] = {}
        for key in self.metrics:
            name, _, k = key.partition("@")
            names[name] = None
            cutoffs[k] = None
        header = ["metric"] + [f"@{k}" for k in cutoffs]
        rows = [header]
        for name in names:
            rows.append([name] + [f"{self.metrics[f'{name}@{k}']:.4f}"
                                  if f"{name}@{k}" in self.metrics else "" for k in cutoffs])
        widths = [max(len(r[c]) for r in rows) for c in range(len(header))]
        lines = ["  ".join(cell.ljust(w) if c == 0 else cell.rjust(w)
                           for c, (cell, w) in enumerate(zip(r, widths))) for r in rows]
        return f"{self.num_users:,} users\n" + "\n".join(lines)

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={v:.4f}" for k, v in self.metrics.items())
        return f"EvalResult(num_users={self.num_users}, {body})"


# -- input normalisation ---------------------------------------------------------------------
def _binary_csr(matrix: object, name: str, shape: tuple[int, int] | None = None
                ) -> sp.csr_matrix:
    """A copy of ``matrix`` as a CSR matrix with 1 at every non-zero entry."""
    import scipy.sparse as sp

    if isinstance(matrix, Tensor):
        matrix = matrix.to_dense().cpu().numpy() if matrix.layout != torch.strided \
            else matrix.cpu().numpy()
    out = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    out.sum_duplicates()
    out.eliminate_zeros()
    out.data[:] = 1.0
    if shape is not None and out.shape != shape:
        raise ValueError(f"{name} has shape {out.shape}, expected {shape} like test")
    return out


def _check_ks(ks: int | Iterable[int]) -> list[int]:
    ks = [ks] if isinstance(ks, int) else list(ks)
    if not ks or any(not isinstance(k, (int, np.integer)) or k < 1 for k in ks):
        raise ValueError(f"ks must be positive integers, got {ks}")
    return sorted({int(k) for k in ks})


def _allowed_items(candidates: Tensor | np.ndarray | Sequence[int] | None,
                   num_items: int) -> np.ndarray:
    """``bool [num_items]``: which items may be ranked."""
    if candidates is None:
        return np.ones(num_items, dtype=bool)
    cand = torch.as_tensor(candidates).cpu()
    if cand.dtype == torch.bool:
        if cand.shape != (num_items,):
            raise ValueError(f"boolean candidates must have shape ({num_items},), "
                             f"got {tuple(cand.shape)}")
        return cand.numpy().copy()
    cand = cand.long().reshape(-1)
    if cand.numel() == 0:
        raise ValueError("candidates is empty: nothing to rank")
    bad = (cand < 0) | (cand >= num_items)
    if bad.any():
        raise IndexError(f"candidate item index {int(cand[bad][0])} is out of range for "
                         f"{num_items} items")
    allowed = np.zeros(num_items, dtype=bool)
    allowed[cand.numpy()] = True
    return allowed


def _dense_rows(matrix: sp.csr_matrix, rows: np.ndarray) -> Tensor:
    """``bool [len(rows), num_cols]``: the given rows of a binary CSR matrix, dense."""
    sub = matrix[rows]
    out = torch.zeros(len(rows), matrix.shape[1], dtype=torch.bool)
    r = np.repeat(np.arange(len(rows), dtype=np.int64), np.diff(sub.indptr))
    out[torch.from_numpy(r), torch.from_numpy(sub.indices.astype(np.int64))] = True
    return out


def _scorer(model_or_scores_fn: ScoringModel | ScoresFn, batch_size: int
            ) -> Callable[[Tensor], Tensor]:
    """``users [B] -> scores [B, I]`` for a model (eval mode, its device) or a callable."""
    if hasattr(model_or_scores_fn, "score_all"):
        model: ScoringModel = model_or_scores_fn  # type: ignore[assignment]
        tensors = list(model.parameters()) + list(model.buffers())
        device = tensors[0].device if tensors else torch.device("cpu")
        return lambda users: model.score_all(users.to(device), batch_size=batch_size)
    if callable(model_or_scores_fn):
        fn = model_or_scores_fn
        return lambda users: torch.as_tensor(fn(users))
    raise TypeError(f"expected a ScoringModel or a callable users -> scores, got "
                    f"{type(model_or_scores_fn).__name__}")


# -- evaluation ------------------------------------------------------------------------------
def masked_topk(scores: Tensor, exclude: Tensor, k: int, tie_order: Tensor | None = None
                ) -> Tensor:
    """Indices of the ``k`` best items per row, never an excluded one.

    .. math:: S'_{ui} = -\\infty \\text{ if } \\mathrm{exclude}_{ui} \\text{ else } S_{ui},
              \\qquad L_u = \\operatorname{topk}(S'_u, k)

    Args:
        scores: ``[B, I]`` scores (not modified).
        exclude: ``bool [B, I]`` (or broadcastable, e.g. ``[I]``) items not to rank.
        k: list length.
        tie_order: optional permutation of the ``I`` items; ``torch.topk`` runs on the
            columns in this order, so which of several equal-scored items wins no longer
            depends on their index (plain ``topk`` favours low indices in practice).

    Returns:
        ``long [B, k]`` item indices, best first; ``-1`` pads positions where fewer than
        ``k`` items are rankable (or their score is :math:`-\\infty`).
    """
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")
    exclude = exclude.expand_as(scores)
    if tie_order is not None:
        tie_order = tie_order.to(scores.device)
        scores, exclude = scores[:, tie_order], exclude[:, tie_order]
    scores = scores.masked_fill(exclude, float("-inf"))  # out of place
    top_scores, top_items = torch.topk(scores, min(k, scores.shape[1]), dim=1)
    if tie_order is not None:
        top_items = tie_order[top_items]
    top_items = torch.where(top_scores > float("-inf"), top_items, -1)
    if top_items.shape[1] < k:  # catalogue smaller than k: pad
        top_items = torch.cat([top_items, top_items.new_full(
            (top_items.shape[0], k - top_items.shape[1]), -1)], dim=1)
    return top_items


def tie_break_order(num_items: int, seed: int = TIE_SEED) -> Tensor:
    """The fixed pseudo-random item order :func:`evaluate` resolves score ties in."""
    return torch.from_numpy(np.random.default_rng(seed).permutation(num_items))


@torch.no_grad()
def evaluate(model_or_scores_fn: ScoringModel | ScoresFn, *, test: sp.spmatrix,
             mask: sp.spmatrix | None, ks: int | Iterable[int] = (10, 20),
             candidates: Tensor | None = None, item_features: Tensor | None = None,
             item_popularity: Tensor | np.ndarray | None = None, batch_size: int = 1024,
             per_user: bool = False, segments: Segments | None = None) -> EvalResult:
    """Full-ranking top-K evaluation of a model (or any ``users -> scores`` function).

    For a batch of users :math:`B` with scores :math:`S \\in \\mathbb{R}^{B \\times I}`:
    :math:`S_{ui} \\leftarrow -\\infty` where ``mask[u, i]`` or :math:`i` is not a candidate;
    ``torch.topk(S, K)`` gives the lists; the hit matrix is the test matrix gathered at the
    listed items. A test item that is masked or not a candidate cannot be ranked and is not
    counted as relevant; users left with no relevant item are not evaluated. Listed items
    whose score is :math:`-\\infty` (fewer than K rankable items) are padding, never hits.
    Equal scores are ordered by a fixed pseudo-random permutation of the items
    (:func:`tie_break_order`), not by item index: MovieLens item ids correlate with
    popularity, so index order would reward a model that scores items alike (e.g. a
    non-inductive model on cold-start items).

    Args:
        model_or_scores_fn: a :class:`~kgrec.models.base.ScoringModel` (scored with
            ``score_all`` in eval mode, on the model's device) or a callable mapping
            ``long [B]`` user indices to ``[B, num_items]`` scores.
        test: binary ``[U, I]`` CSR matrix of relevant items (any non-zero counts).
        mask: binary ``[U, I]`` CSR matrix of items never to rank for a user: training
            items (and validation items when testing). ``None`` masks nothing.
        ks: cut-offs K; metrics are reported at each (default ``(10, 20)``).
        candidates: cold-start protocol: ``long`` indices (or a ``bool [I]`` mask) of the only
            items that are ranked; every other item gets :math:`-\\infty`. Coverage is then
            measured against the candidates.
        item_features: ``[I, D]`` item features for intra-list diversity (omitted without).
        item_popularity: ``[I]`` training interaction counts for novelty (default: the
            column counts of ``mask``, i.e. the interactions the model was given).
        batch_size: users scored per batch.
        per_user: keep the per-user values in :attr:`EvalResult.per_user`.
        segments: user and item segments (:func:`kgrec.evaluate.segments.training_segments`);
            every accuracy metric is then also reported per segment, with the item
            segments' shares of recommendations and hits, in :attr:`EvalResult.segments`.

    Returns:
        An :class:`EvalResult` with ``recall``, ``precision``, ``ndcg``, ``hit``, ``mrr``,
        ``map``, ``coverage``, ``novelty`` (and ``diversity``) at each K.
    """
    import scipy.sparse as sp

    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    test = _binary_csr(test, "test")
    num_users, num_items = test.shape
    mask = (sp.csr_matrix((num_users, num_items), dtype=np.float32) if mask is None
            else _binary_csr(mask, "mask", (num_users, num_items)))
    ks = _check_ks(ks)
    k_max = max(ks)
    allowed = _allowed_items(candidates, num_items)
    relevant = (test - test.multiply(mask)).tocsr() @ sp.diags(allowed.astype(np.float32))
    relevant = sp.csr_matrix(relevant)
    relevant.eliminate_zeros()
    num_relevant = np.diff(relevant.indptr)
    users = np.flatnonzero(num_relevant > 0)
    if len(users) == 0:
        raise ValueError("no user has a relevant test item that can be ranked (test is empty, "
                         "or every test item is masked or not a candidate)")

    if item_popularity is None:
        popularity = torch.from_numpy(np.asarray(mask.sum(axis=0)).ravel().astype(np.float64))
    else:
        popularity = torch.as_tensor(item_popularity).to(torch.float64).cpu().reshape(-1)
        if popularity.shape != (num_items,):
            raise ValueError(f"item_popularity has shape {tuple(popularity.shape)}, "
                             f"expected ({num_items},)")
    features = None
    if item_features is not None:
        features = torch.as_tensor(item_features)
        if features.dim() != 2 or features.shape[0] != num_items:
            raise ValueError(f"item_features has shape {tuple(features.shape)}, "
                             f"expected ({num_items}, D)")

    score = _scorer(model_or_scores_fn, batch_size)
    excluded_items = torch.from_numpy(~allowed)
    tie_order = tie_break_order(num_items)
    values: dict[str, list[Tensor]] = {}
    lists: list[Tensor] = []
    hit_rows: list[Tensor] = []
    for lo in range(0, len(users), batch_size):
        batch = users[lo:lo + batch_size]
        scores = score(torch.from_numpy(batch))
        if scores.shape != (len(batch), num_items):
            raise ValueError(f"scores for {len(batch)} users have shape {tuple(scores.shape)}, "
                             f"expected ({len(batch)}, {num_items}) (items in test)")
        device = scores.device
        nan_rows = torch.isnan(scores).any(dim=1)
        if nan_rows.any():
            raise ValueError(f"scores of user index {int(batch[int(nan_rows.nonzero()[0])])} "
                             "contain NaN")
        exclude = _dense_rows(mask, batch).to(device) | excluded_items.to(device)
        top_items = masked_topk(scores, exclude, k_max, tie_order).cpu()
        rel = _dense_rows(relevant, batch)
        hits = rel.gather(1, top_items.clamp_min(0)) & (top_items >= 0)
        n_rel = torch.from_numpy(num_relevant[batch])
        for k in ks:
            for name, fn in ACCURACY_METRICS.items():
                values.setdefault(f"{name}@{k}", []).append(fn(hits, n_rel, k))
            values.setdefault(f"novelty@{k}", []).append(
                M.novelty(top_items[:, :k], popularity, num_users))
            if features is not None:
                values.setdefault(f"diversity@{k}", []).append(
                    M.intra_list_diversity(top_items[:, :k], features))
        lists.append(top_items)
        hit_rows.append(hits)

    per_user_values = {name: torch.cat(parts).numpy() for name, parts in values.items()}
    all_lists = torch.cat(lists)
    result: dict[str, float] = {}
    for k in ks:
        for name in ACCURACY_METRICS:
            result[f"{name}@{k}"] = float(per_user_values[f"{name}@{k}"].mean())
    for k in ks:
        result[f"coverage@{k}"] = _candidate_coverage(all_lists[:, :k], allowed)
        result[f"novelty@{k}"] = float(per_user_values[f"novelty@{k}"].mean())
        if features is not None:
            result[f"diversity@{k}"] = float(per_user_values[f"diversity@{k}"].mean())
    by_segment = None
    if segments is not None:
        from kgrec.evaluate.segments import segment_metrics

        by_segment = segment_metrics(all_lists, torch.cat(hit_rows), users, relevant, segments, ks)
    return EvalResult(result, len(users),
                      per_user=per_user_values if per_user else None,
                      users=users.astype(np.int64) if per_user else None, segments=by_segment)


def _candidate_coverage(topk_items: Tensor, allowed: np.ndarray) -> float:
    """Coverage of the rankable catalogue (all items, or the candidates): listed items are
    allowed by construction, so this is :func:`~kgrec.evaluate.metrics.item_coverage` with
    the allowed items re-indexed ``0..n-1``."""
    position = np.full(len(allowed), -1, dtype=np.int64)
    position[allowed] = np.arange(int(allowed.sum()))
    items = topk_items.numpy()
    remapped = np.where(items >= 0, position[np.maximum(items, 0)], -1)
    return M.item_coverage(torch.from_numpy(remapped), int(allowed.sum()))


# -- id mapping ------------------------------------------------------------------------------
def to_csr(ratings: pd.DataFrame, kg: KnowledgeGraph) -> sp.csr_matrix:
    """Binary ``[kg.num_users, kg.num_items]`` CSR matrix of a ratings table.

    Args:
        ratings: DataFrame with ``user_id`` and ``item_id`` columns (bare ids, as in
            ``MovieDataset.ratings`` and :class:`~kgrec.data.Split` parts).
        kg: the graph whose user and movie vocabulary gives the indices.

    Raises:
        KeyError: naming the first user or item id that is not in the graph.
    """
    import pandas as pd
    import scipy.sparse as sp

    from kgrec.data.dataset import movie_id, user_id

    def indices(column: str, kind: str, to_entity: Callable[[str], str]) -> np.ndarray:
        ids = ratings[column].astype(str)
        # each distinct id is looked up once (a ratings table repeats its users and items)
        codes, distinct = pd.factorize(ids)
        known = pd.Index(kg.nodes[kind]).get_indexer([to_entity(x) for x in distinct.tolist()])
        idx = known[codes] if len(codes) else np.zeros(0, dtype=np.int64)
        if (idx < 0).any():
            bad = ids.iloc[int(np.flatnonzero(idx < 0)[0])]
            raise KeyError(f"{column} {bad!r} is not in the graph's {kind} vocabulary "
                           f"({int((idx < 0).sum())} such rows)")
        return idx.astype(np.int64)

    for column in ("user_id", "item_id"):
        if column not in ratings.columns:
            raise KeyError(f"ratings has no {column!r} column (columns: {list(ratings.columns)})")
    u = indices("user_id", "user", user_id)
    i = indices("item_id", "movie", movie_id)
    out = sp.csr_matrix((np.ones(len(u), dtype=np.float32), (u, i)),
                        shape=(kg.num_users, kg.num_items))
    out.sum_duplicates()
    out.data[:] = 1.0
    return out


def candidate_indices(item_ids: Iterable[str], kg: KnowledgeGraph) -> Tensor:
    """``long`` movie indices of bare item ids (e.g. ``Split.cold_items``), for ``candidates``.

    Raises:
        KeyError: naming the first item id that is not in the graph.
    """
    return torch.tensor([kg.item_index(str(i)) for i in item_ids], dtype=torch.long)
