"""Evaluation stage: full-ranking top-K metrics over all (or candidate) items.

:func:`evaluate` scores users in batches, masks their known items, takes ``torch.topk`` and
reports :class:`EvalResult`; :mod:`kgrec.evaluate.metrics` holds the metric functions,
:mod:`kgrec.evaluate.segments` the per-segment breakdown (user quartiles, head/torso/tail).
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
from kgrec.evaluate.segments import (
    Segments,
    mean_segments,
    popularity_segments,
    segment_metrics,
    segment_table,
    training_segments,
    user_quantiles,
)

__all__ = [
    "EvalResult", "Segments", "mean_segments", "popularity_segments", "segment_metrics", "segment_table",
    "training_segments", "user_quantiles", "candidate_indices", "evaluate", "hit_rate_at_k", "intra_list_diversity",
    "item_coverage", "map_at_k", "masked_topk", "mrr_at_k", "ndcg_at_k", "novelty",
    "precision_at_k", "recall_at_k", "tie_break_order", "to_csr",
]
