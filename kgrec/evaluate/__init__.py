"""Evaluation stage: full-ranking top-K metrics over all (or candidate) items.

:func:`evaluate` scores users in batches, masks their known items, takes ``torch.topk`` and
reports :class:`EvalResult`; :mod:`kgrec.evaluate.metrics` holds the metric functions.
"""

from kgrec.evaluate.metrics import (
    hit_rate_at_k,
    intra_list_diversity,
    item_coverage,
    map_at_k,
    mrr_at_k,
    ndcg_at_k,
    novelty,
    precision_at_k,
    recall_at_k,
)
from kgrec.evaluate.ranking import (
    EvalResult,
    candidate_indices,
    evaluate,
    masked_topk,
    tie_break_order,
    to_csr,
)

__all__ = [
    "EvalResult", "candidate_indices", "evaluate", "hit_rate_at_k", "intra_list_diversity",
    "item_coverage", "map_at_k", "masked_topk", "mrr_at_k", "ndcg_at_k", "novelty",
    "precision_at_k", "recall_at_k", "tie_break_order", "to_csr",
]
