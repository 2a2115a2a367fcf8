"""Top-K ranking metrics as small vectorised functions.

Accuracy metrics take a boolean **hit matrix** ``hits [U, K]`` — ``hits[u, r]`` is true when
the item user ``u`` got at rank ``r`` (0-based) is relevant — and ``num_relevant [U]``, the
number of relevant items of each user. They return one value per user (``float64 [U]``);
:func:`kgrec.evaluate.evaluate` averages them over users. Each takes an optional ``k`` to
use only the first ``k`` columns, so one ``topk`` of the largest K serves every cut-off.
Users with no relevant item get 0 (evaluation leaves such users out anyway).

Beyond-accuracy metrics take the recommended lists ``topk_items [U, K]`` (item indices,
``-1`` pads a list shorter than K, e.g. when fewer than K items could be ranked).

Notation: :math:`\\mathrm{rel}_r \\in \\{0, 1\\}` is ``hits[u, r-1]`` for 1-based rank
:math:`r`, :math:`n` is ``num_relevant[u]``, :math:`K` the cut-off.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "hit_rate_at_k", "intra_list_diversity", "item_coverage", "map_at_k", "mrr_at_k",
    "ndcg_at_k", "novelty", "precision_at_k", "recall_at_k",
]


def _prepare(hits: Tensor, num_relevant: Tensor | None, k: int | None
             ) -> tuple[Tensor, Tensor | None]:
    """``hits[:, :k]`` as float64 and ``num_relevant`` as float64 (checked shapes)."""
    hits = torch.as_tensor(hits)
    if hits.dim() != 2:
        raise ValueError(f"hits must be a [num_users, K] matrix, got shape {tuple(hits.shape)}")
    if k is not None:
        if not 0 < k <= hits.shape[1]:
            raise ValueError(f"k={k} is not in [1, {hits.shape[1]}] (columns of hits)")
        hits = hits[:, :k]
    hits = hits.to(torch.float64)
    if num_relevant is not None:
        num_relevant = torch.as_tensor(num_relevant, device=hits.device).to(torch.float64)
        if num_relevant.shape != hits.shape[:1]:
            raise ValueError(f"num_relevant has shape {tuple(num_relevant.shape)}, "
                             f"expected ({hits.shape[0]},) like the rows of hits")
    return hits, num_relevant


def _safe_div(num: Tensor, den: Tensor) -> Tensor:
    """``num / den`` with 0 where ``den == 0``."""
    return torch.where(den > 0, num / den.clamp_min(1e-300), torch.zeros_like(num))


def recall_at_k(hits: Tensor, num_relevant: Tensor, k: int | None = None) -> Tensor:
    """Share of a user's relevant items found in the top K.

    .. math:: \\mathrm{Recall@K} = \\frac{1}{n}\\sum_{r=1}^{K} \\mathrm{rel}_r

    Args:
        hits: ``bool [U, K']`` hit matrix, ``K' >= k``.
        num_relevant: ``[U]`` relevant items per user.
        k: cut-off (default: all ``K'`` columns).

    Returns:
        ``float64 [U]``.
    """
    hits, n = _prepare(hits, num_relevant, k)
    return _safe_div(hits.sum(1), n)


def precision_at_k(hits: Tensor, num_relevant: Tensor | None = None, k: int | None = None
                   ) -> Tensor:
    """Share of the top K that is relevant.

    .. math:: \\mathrm{P@K} = \\frac{1}{K}\\sum_{r=1}^{K} \\mathrm{rel}_r

    Args:
        hits: ``bool [U, K']`` hit matrix.
        num_relevant: unused (accepted so every accuracy metric has one signature).
        k: cut-off (default ``K'``).

    Returns:
        ``float64 [U]``.
    """
    hits, _ = _prepare(hits, num_relevant, k)
    return hits.sum(1) / hits.shape[1]


def ndcg_at_k(hits: Tensor, num_relevant: Tensor, k: int | None = None) -> Tensor:
    """Normalised discounted cumulative gain with binary relevance.

    .. math:: \\mathrm{DCG@K} = \\sum_{r=1}^{K} \\frac{\\mathrm{rel}_r}{\\log_2(r+1)}, \\quad
              \\mathrm{IDCG@K} = \\sum_{r=1}^{\\min(n, K)} \\frac{1}{\\log_2(r+1)}, \\quad
              \\mathrm{NDCG@K} = \\frac{\\mathrm{DCG@K}}{\\mathrm{IDCG@K}}

    Args:
        hits: ``bool [U, K']`` hit matrix.
        num_relevant: ``[U]`` relevant items per user.
        k: cut-off (default ``K'``).

    Returns:
        ``float64 [U]`` in ``[0, 1]``.
    """
    hits, n = _prepare(hits, num_relevant, k)
    K = hits.shape[1]
    discount = 1.0 / torch.log2(torch.arange(2, K + 2, dtype=torch.float64, device=hits.device))
    dcg = hits @ discount
    ideal = torch.cat([discount.new_zeros(1), discount.cumsum(0)])  # ideal[m] = IDCG of m hits
    idcg = ideal[n.clamp(0, K).long()]
    return _safe_div(dcg, idcg)


def hit_rate_at_k(hits: Tensor, num_relevant: Tensor | None = None, k: int | None = None
                  ) -> Tensor:
    """Whether at least one relevant item is in the top K.

    .. math:: \\mathrm{Hit@K} = \\mathbb{1}\\left[\\sum_{r=1}^{K} \\mathrm{rel}_r > 0\\right]

    Args:
        hits: ``bool [U, K']`` hit matrix.
        num_relevant: unused (uniform signature).
        k: cut-off (default ``K'``).

    Returns:
        ``float64 [U]`` of 0/1.
    """
    hits, _ = _prepare(hits, num_relevant, k)
    return (hits.sum(1) > 0).to(torch.float64)


def mrr_at_k(hits: Tensor, num_relevant: Tensor | None = None, k: int | None = None) -> Tensor:
    """Reciprocal rank of the first relevant item within the top K (0 if none).

    .. math:: \\mathrm{MRR@K} = \\max_{r \\le K} \\frac{\\mathrm{rel}_r}{r}

    Args:
        hits: ``bool [U, K']`` hit matrix.
        num_relevant: unused (uniform signature).
        k: cut-off (default ``K'``).

    Returns:
        ``float64 [U]``.
    """
    hits, _ = _prepare(hits, num_relevant, k)
    if hits.shape[1] == 0:
        return hits.new_zeros(hits.shape[0])
    ranks = torch.arange(1, hits.shape[1] + 1, dtype=torch.float64, device=hits.device)
    return (hits / ranks).max(dim=1).values


def map_at_k(hits: Tensor, num_relevant: Tensor, k: int | None = None) -> Tensor:
    """Average precision at K (its mean over users is MAP@K).

    .. math:: \\mathrm{AP@K} = \\frac{1}{\\min(n, K)} \\sum_{r=1}^{K}
              \\mathrm{P@r} \\cdot \\mathrm{rel}_r, \\qquad
              \\mathrm{P@r} = \\frac{1}{r}\\sum_{s=1}^{r} \\mathrm{rel}_s

    Args:
        hits: ``bool [U, K']`` hit matrix.
        num_relevant: ``[U]`` relevant items per user.
        k: cut-off (default ``K'``).

    Returns:
        ``float64 [U]`` in ``[0, 1]``.
    """
    hits, n = _prepare(hits, num_relevant, k)
    K = hits.shape[1]
    ranks = torch.arange(1, K + 1, dtype=torch.float64, device=hits.device)
    precision_at_r = hits.cumsum(1) / ranks
    return _safe_div((precision_at_r * hits).sum(1), n.clamp(max=K))


# -- beyond accuracy ------------------------------------------------------------------------
def _check_items(topk_items: Tensor) -> Tensor:
    topk_items = torch.as_tensor(topk_items)
    if topk_items.dim() != 2:
        raise ValueError(f"topk_items must be a [num_users, K] matrix of item indices, got shape "
                         f"{tuple(topk_items.shape)}")
    return topk_items.long()


def item_coverage(topk_items: Tensor, num_items: int) -> float:
    """Share of the catalogue recommended to at least one user.

    .. math:: \\mathrm{Coverage@K} = \\frac{|\\bigcup_u L_u|}{|\\mathcal{I}|}

    where :math:`L_u` is user ``u``'s top-K list.

    Args:
        topk_items: ``long [U, K]`` recommended item indices, ``-1`` for padding.
        num_items: size of the catalogue :math:`|\\mathcal{I}|` (in the cold-start
            protocol, the number of candidate items).

    Returns:
        A float in ``[0, 1]``.
    """
    items = _check_items(topk_items)
    if num_items <= 0:
        raise ValueError(f"num_items must be positive, got {num_items}")
    items = items[items >= 0]
    if items.numel() and int(items.max()) >= num_items:
        raise ValueError(f"item index {int(items.max())} is out of range for {num_items} items")
    return float(torch.unique(items).numel() / num_items)


def novelty(topk_items: Tensor, item_popularity: Tensor, num_users: int) -> Tensor:
    """Mean self-information of each user's recommended items (popular items are not novel).

    .. math:: \\mathrm{Novelty@K}(u) = \\frac{1}{|L_u|} \\sum_{i \\in L_u}
              -\\log_2 \\frac{\\max(c_i, 1)}{N}

    where :math:`c_i` is the number of training users who rated item :math:`i` and
    :math:`N` the number of users (the count is clamped at 1 so unseen items stay finite).

    Args:
        topk_items: ``long [U, K]`` recommended item indices, ``-1`` for padding.
        item_popularity: ``[num_items]`` training interaction counts :math:`c_i`.
        num_users: :math:`N`.

    Returns:
        ``float64 [U]`` (0 for an empty list); the reported figure is its mean over users.
    """
    items = _check_items(topk_items)
    pop = torch.as_tensor(item_popularity, device=items.device).to(torch.float64)
    valid = items >= 0
    info = -torch.log2(pop.clamp_min(1.0) / float(num_users))[items.clamp_min(0)]
    info = torch.where(valid, info, torch.zeros_like(info))
    return _safe_div(info.sum(1), valid.sum(1).to(torch.float64))


def intra_list_diversity(topk_items: Tensor, item_features: Tensor) -> Tensor:
    """Mean pairwise cosine distance among the items of each list.

    .. math:: \\mathrm{ILD@K}(u) = \\frac{1}{|L_u|(|L_u|-1)} \\sum_{i \\ne j \\in L_u}
              \\left(1 - \\frac{f_i^\\top f_j}{\\lVert f_i\\rVert \\lVert f_j\\rVert}\\right)

    Computed for all users at once with one batched matrix product of the gathered,
    L2-normalised features (``[U, K, D] @ [U, D, K]``). Items with an all-zero feature row
    have cosine 0 to everything.

    Args:
        topk_items: ``long [U, K]`` recommended item indices, ``-1`` for padding.
        item_features: ``[num_items, D]`` item features (text embeddings, genre indicators...).

    Returns:
        ``float64 [U]`` (0 for lists with fewer than two items); the reported figure is its
        mean over users.
    """
    items = _check_items(topk_items)
    feats = torch.as_tensor(item_features).to(device=items.device, dtype=torch.float32)
    if feats.dim() != 2:
        raise ValueError(f"item_features must be [num_items, D], got shape {tuple(feats.shape)}")
    valid = items >= 0
    unit = torch.nn.functional.normalize(feats, dim=1)
    emb = unit[items.clamp_min(0)] * valid.unsqueeze(2)  # [U, K, D], padding rows zeroed
    sim = torch.bmm(emb, emb.transpose(1, 2))  # [U, K, K]
    n = valid.sum(1).to(torch.float64)
    num_pairs = n * (n - 1)
    # sum over ordered pairs i != j of cos = (sum of all entries) - (trace); padding adds 0
    cos_sum = sim.sum((1, 2)).to(torch.float64) - torch.diagonal(sim, dim1=1, dim2=2).sum(1)
    return _safe_div(num_pairs - cos_sum, num_pairs)
