"""Metrics per user segment and per item segment, and the long tail's share.

Side information should matter most where interactions are scarce: for users with short
histories and for rarely rated movies. :func:`training_segments` cuts both from the
*training* interactions only; :func:`segment_metrics` recomputes every accuracy metric
inside each segment from the ranked lists :func:`kgrec.evaluate.evaluate` produced.

**User segments** (``user_q1`` … ``user_q4``): quartiles of training-history length
:math:`|I_u^{train}|`. Users are ordered by (history length, user index) and cut into four
groups of equal size (the first holds the sparsest quarter), so ties at a boundary are
split by index and every quartile has :math:`\\lfloor U/4 \\rfloor` or
:math:`\\lceil U/4 \\rceil` users. A user segment's metric is the mean of the usual
per-user metric over the evaluated users of that segment.

**Item segments** (``item_head``, ``item_torso``, ``item_tail``) by training popularity
:math:`p_i` (interactions in training). Items are sorted by :math:`p_i` descending (ties by
item index) and :math:`c_i` is the share of all training interactions held by the items
*before* item :math:`i` in that order:

.. math:: \\text{head} = \\{i : c_i < h\\}, \\quad
          \\text{tail} = \\{i : c_i \\ge 1 - t\\}, \\quad \\text{torso} = \\text{the rest}

with :math:`h = t = 0.2` by default: the head is the few most popular movies that hold the
first 20% of the interactions, the long tail the many least popular movies (including
never-rated ones) that together hold the last 20% (sizes on ML-100K in BENCHMARKS.md;
:attr:`Segments.description` states them for any split). An item segment's metrics treat
only the segment's test items as relevant (the ranking is unchanged): for user :math:`u`
with :math:`n_u^s = |T_u \\cap S| > 0` relevant items in segment :math:`S`, the hit matrix
keeps only hits on items of :math:`S` and every metric uses :math:`n_u^s`; users with
:math:`n_u^s = 0` are left out of that segment. Two shares describe where the lists go:

.. math:: \\mathrm{rec\\_share}_S@K = \\frac{\\sum_u |L_u^K \\cap S|}{\\sum_u |L_u^K|},
          \\qquad
          \\mathrm{hit\\_share}_S@K = \\frac{\\sum_u |L_u^K \\cap S \\cap T_u|}
                                            {\\sum_u |L_u^K \\cap T_u|}

(:math:`L_u^K` the top-K list without padding, :math:`T_u` the relevant test items).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

ITEM_SEGMENTS = ("item_head", "item_torso", "item_tail")


@dataclass(frozen=True)
class Segments:
    """Segment labels of users and items.

    Attributes:
        user_group: ``int64 [U]`` segment of each user (index into ``user_names``;
            ``-1``: in no segment).
        user_names: names of the user segments, sparsest first.
        item_group: ``int64 [I]`` segment of each item (index into ``item_names``).
        item_names: names of the item segments, most popular first.
        description: segment name → a short human description (sizes, ranges).
    """

    user_group: np.ndarray
    user_names: tuple[str, ...]
    item_group: np.ndarray
    item_names: tuple[str, ...]
    description: dict[str, str]


def user_quantiles(history_length: np.ndarray, num_groups: int = 4) -> np.ndarray:
    """``int64 [U]``: group ``0..num_groups-1`` of each user by (history length, index).

    Equal-sized groups: ``group = floor(num_groups * rank / U)`` where ``rank`` is the
    user's position in the order of increasing history length (ties by index).
    """
    lengths = np.asarray(history_length).reshape(-1)
    if num_groups < 1:
        raise ValueError(f"num_groups must be positive, got {num_groups}")
    rank = np.empty(len(lengths), dtype=np.int64)
    rank[np.argsort(lengths, kind="stable")] = np.arange(len(lengths))
    return (num_groups * rank) // max(len(lengths), 1)


def popularity_segments(popularity: np.ndarray, head_share: float = 0.2,
                        tail_share: float = 0.2) -> np.ndarray:
    """``int64 [I]``: 0 head, 1 torso, 2 long tail, by training popularity (module doc).

    Args:
        popularity: ``[I]`` training interactions per item.
        head_share: share :math:`h` of interactions the head holds (0.2).
        tail_share: share :math:`t` of interactions the long tail holds (0.2).
    """
    pop = np.asarray(popularity, dtype=np.float64).reshape(-1)
    if not (0 < head_share and 0 < tail_share and head_share + tail_share <= 1):
        raise ValueError(f"head_share and tail_share must be positive with sum <= 1, got "
                         f"{head_share}, {tail_share}")
    if (pop < 0).any():
        raise ValueError("popularity must be non-negative")
    total = pop.sum()
    order = np.argsort(-pop, kind="stable")
    before = np.zeros(len(pop))
    if total > 0:
        before[order] = (np.cumsum(pop[order]) - pop[order]) / total
    return np.where(before < head_share, 0, np.where(before >= 1 - tail_share, 2, 1)
                    ).astype(np.int64)


def training_segments(train: sp.spmatrix, *, num_user_groups: int = 4, head_share: float = 0.2,
                      tail_share: float = 0.2) -> Segments:
    """User quartiles and head/torso/tail items from the binary ``[U, I]`` training matrix."""
    X = sp.csr_matrix(train)
    lengths = np.asarray((X != 0).sum(1)).ravel()
    popularity = np.asarray((X != 0).sum(0)).ravel()
    user_group = user_quantiles(lengths, num_user_groups)
    item_group = popularity_segments(popularity, head_share, tail_share)
    user_names = tuple(f"user_q{g + 1}" for g in range(num_user_groups))
    description: dict[str, str] = {}
    for g, name in enumerate(user_names):
        lens = lengths[user_group == g]
        if len(lens):
            description[name] = (f"{len(lens)} users with {int(lens.min())}–{int(lens.max())} "
                                 "training ratings")
    total = max(popularity.sum(), 1)
    for g, name in enumerate(ITEM_SEGMENTS):
        pops = popularity[item_group == g]
        if len(pops):
            description[name] = (f"{len(pops)} items with {int(pops.min())}–{int(pops.max())} "
                                 f"training ratings ({pops.sum() / total:.0%} of interactions)")
    return Segments(user_group, user_names, item_group, ITEM_SEGMENTS, description)


def segment_metrics(top_items: Tensor, hits: Tensor, users: np.ndarray,
                    relevant: sp.csr_matrix, segments: Segments, ks: Iterable[int]
                    ) -> dict[str, dict[str, float]]:
    """Every accuracy metric per user segment and per item segment, plus the shares.

    Args:
        top_items: ``long [N, K]`` ranked lists of the evaluated users (``-1`` pads).
        hits: ``bool [N, K]`` whether each listed item is relevant.
        users: ``int [N]`` user indices of the rows.
        relevant: binary ``[U, I]`` relevant test items (masked and non-candidate items
            already removed, as in :func:`kgrec.evaluate.evaluate`).
        segments: the segment labels (:func:`training_segments`).
        ks: cut-offs, each ``<= K``.

    Returns:
        segment name → ``{"num_users": n, "recall@10": ..., "ndcg@10": ..., ...}``; item
        segments also carry ``rec_share@k`` and ``hit_share@k``.
    """
    from kgrec.evaluate.ranking import ACCURACY_METRICS

    ks = sorted(set(int(k) for k in ks))
    users = np.asarray(users, dtype=np.int64)
    hits = torch.as_tensor(hits, dtype=torch.bool)
    top_items = torch.as_tensor(top_items, dtype=torch.long)
    if hits.shape != top_items.shape or hits.shape[0] != len(users):
        raise ValueError(f"top_items {tuple(top_items.shape)}, hits {tuple(hits.shape)} and "
                         f"users ({len(users)},) must agree")
    if (len(segments.user_group), len(segments.item_group)) != relevant.shape:
        raise ValueError(f"segments label {len(segments.user_group)} users and "
                         f"{len(segments.item_group)} items, relevant has shape {relevant.shape}")
    rel = sp.csr_matrix(relevant)[users]
    n_rel = torch.from_numpy(np.diff(rel.indptr).astype(np.int64))
    out: dict[str, dict[str, float]] = {}

    user_group = segments.user_group[users]
    for g, name in enumerate(segments.user_names):
        rows = torch.from_numpy(np.flatnonzero(user_group == g))
        out[name] = _accuracy(hits[rows], n_rel[rows], ks, ACCURACY_METRICS)

    num_seg = len(segments.item_names)
    onehot = sp.csr_matrix((np.ones(len(segments.item_group)),
                            (np.arange(len(segments.item_group)), segments.item_group)),
                           shape=(len(segments.item_group), num_seg))
    n_rel_seg = torch.from_numpy(np.asarray((rel @ onehot).todense()).astype(np.int64))
    listed = top_items >= 0
    item_group = torch.from_numpy(segments.item_group)
    list_group = torch.where(listed, item_group[top_items.clamp_min(0)], -1)
    for g, name in enumerate(segments.item_names):
        in_seg = list_group == g
        rows = torch.nonzero(n_rel_seg[:, g] > 0).reshape(-1)
        values = _accuracy((hits & in_seg)[rows], n_rel_seg[rows, g], ks, ACCURACY_METRICS)
        for k in ks:
            n_listed = int(listed[:, :k].sum())
            n_hits = int(hits[:, :k].sum())
            values[f"rec_share@{k}"] = int(in_seg[:, :k].sum()) / n_listed if n_listed else 0.0
            values[f"hit_share@{k}"] = (int((hits & in_seg)[:, :k].sum()) / n_hits
                                        if n_hits else 0.0)
        out[name] = values
    return out


def _accuracy(hits: Tensor, n_rel: Tensor, ks: list[int], metrics: Mapping) -> dict[str, float]:
    values: dict[str, float] = {"num_users": float(len(n_rel))}
    for k in ks:
        for metric, fn in metrics.items():
            values[f"{metric}@{k}"] = float(fn(hits, n_rel, k).mean()) if len(n_rel) else 0.0
    return values


def segment_table(by_model: Mapping[str, Mapping[str, Mapping[str, float]]],
                  metric: str = "ndcg@10", k: int = 10) -> str:
    """Markdown table: one row per model, ``metric`` in every segment, and the long tail's
    share of recommendations and of hits at ``k``."""
    names: list[str] = []
    for segs in by_model.values():
        names += [n for n in segs if n not in names]
    head = ["model"] + [f"{metric} {n}" for n in names] + [f"tail rec share@{k}",
                                                          f"tail hit share@{k}"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for model, segs in by_model.items():
        cells = [f"{segs[n][metric]:.4f}" if n in segs and metric in segs[n] else "–"
                 for n in names]
        tail = segs.get("item_tail", {})
        cells += [f"{tail[f'{s}@{k}']:.3f}" if f"{s}@{k}" in tail else "–"
                  for s in ("rec_share", "hit_share")]
        lines.append("| " + " | ".join([model] + cells) + " |")
    return "\n".join(lines)


def mean_segments(runs: Iterable[Mapping[str, Mapping[str, float]] | None]
                  ) -> dict[str, dict[str, float]] | None:
    """Segment metrics averaged over runs (e.g. seeds); ``None`` when no run has them."""
    runs = [r for r in runs if r]
    if not runs:
        return None
    return {name: {key: float(np.mean([r[name][key] for r in runs])) for key in runs[0][name]}
            for name in runs[0]}
