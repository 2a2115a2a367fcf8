"""Metric functions against values computed by hand on a tiny ranking.

Two users, five items, K = 3.

- user 0: ranking 2, 0, 4 | 1, 3; relevant {0, 3} (n = 2) → hits [0, 1, 0]
- user 1: ranking 1, 3, 0 | 2, 4; relevant {0, 1, 4} (n = 3) → hits [1, 0, 1]
"""

from __future__ import annotations

import pytest
import torch

from kgrec.evaluate import metrics as M

HITS = torch.tensor([[False, True, False], [True, False, True]])
NUM_RELEVANT = torch.tensor([2, 3])
LISTS = torch.tensor([[2, 0, 4], [1, 3, 0]])


def close(actual: torch.Tensor, expected: list[float]) -> None:
    assert actual.dtype == torch.float64
    torch.testing.assert_close(actual, torch.tensor(expected, dtype=torch.float64),
                               rtol=0, atol=1e-6)


def test_recall():
    close(M.recall_at_k(HITS, NUM_RELEVANT), [1 / 2, 2 / 3])  # 0.5, 0.666667


def test_precision():
    close(M.precision_at_k(HITS, NUM_RELEVANT), [1 / 3, 2 / 3])


def test_ndcg():
    # user 0: DCG = 1/log2(3) = 0.630930, IDCG = 1 + 0.630930 = 1.630930 → 0.386853
    # user 1: DCG = 1 + 1/log2(4) = 1.5, IDCG = 1 + 0.630930 + 0.5 = 2.130930 → 0.703918
    close(M.ndcg_at_k(HITS, NUM_RELEVANT), [0.386853, 0.703918])


def test_hit_rate():
    close(M.hit_rate_at_k(HITS, NUM_RELEVANT), [1.0, 1.0])


def test_mrr():
    close(M.mrr_at_k(HITS, NUM_RELEVANT), [0.5, 1.0])  # first hit at rank 2 / rank 1


def test_map():
    # user 0: P@2 * 1 / min(2, 3) = (1/2) / 2 = 0.25
    # user 1: (P@1 + P@3) / min(3, 3) = (1 + 2/3) / 3 = 0.555556
    close(M.map_at_k(HITS, NUM_RELEVANT), [0.25, 0.555556])


def test_cutoff_k_uses_leading_columns():
    # @1: user 0 ranks a miss first; user 1 a hit (IDCG@1 = 1, min(n, 1) = 1)
    close(M.recall_at_k(HITS, NUM_RELEVANT, k=1), [0.0, 1 / 3])
    close(M.precision_at_k(HITS, NUM_RELEVANT, k=1), [0.0, 1.0])
    close(M.ndcg_at_k(HITS, NUM_RELEVANT, k=1), [0.0, 1.0])
    close(M.map_at_k(HITS, NUM_RELEVANT, k=1), [0.0, 1.0])
    close(M.mrr_at_k(HITS, NUM_RELEVANT, k=1), [0.0, 1.0])
    # @2: user 0 hit at rank 2: ndcg = 0.630930 / 1.630930
    close(M.ndcg_at_k(HITS, NUM_RELEVANT, k=2), [0.386853, 1 / 1.630930])
    with pytest.raises(ValueError, match="k=4"):
        M.recall_at_k(HITS, NUM_RELEVANT, k=4)


def test_no_hit_and_no_relevant_give_zero():
    hits = torch.zeros(2, 3, dtype=torch.bool)
    n = torch.tensor([2, 0])
    for fn in (M.recall_at_k, M.precision_at_k, M.ndcg_at_k, M.hit_rate_at_k, M.mrr_at_k,
               M.map_at_k):
        close(fn(hits, n), [0.0, 0.0])


def test_perfect_ranking_scores_one():
    hits = torch.tensor([[True, True, False]])  # both relevant items first, n = 2 < K
    n = torch.tensor([2])
    close(M.ndcg_at_k(hits, n), [1.0])
    close(M.map_at_k(hits, n), [1.0])
    close(M.recall_at_k(hits, n), [1.0])


def test_shape_errors():
    with pytest.raises(ValueError, match="num_relevant"):
        M.recall_at_k(HITS, torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="matrix"):
        M.ndcg_at_k(torch.tensor([True, False]), torch.tensor([1]))


def test_item_coverage():
    assert M.item_coverage(LISTS, 5) == pytest.approx(1.0)  # {0, 1, 2, 3, 4}
    assert M.item_coverage(LISTS[:, :2], 5) == pytest.approx(0.8)  # {2, 0, 1, 3}
    assert M.item_coverage(torch.tensor([[2, -1], [1, 3]]), 5) == pytest.approx(0.6)
    with pytest.raises(ValueError, match="out of range"):
        M.item_coverage(LISTS, 4)


def test_novelty():
    # counts [4, 2, 1, 0, 8] of 8 users → -log2(c/8) = [1, 2, 3, 3 (clamped to 1 user), 0]
    popularity = torch.tensor([4, 2, 1, 0, 8])
    close(M.novelty(LISTS, popularity, 8), [(3 + 1 + 0) / 3, (2 + 3 + 1) / 3])  # 4/3, 2
    close(M.novelty(torch.tensor([[2, -1, -1], [-1, -1, -1]]), popularity, 8), [3.0, 0.0])


def test_intra_list_diversity():
    features = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.0], [2.0, 0.0]])
    # user 0 [2, 0, 4]: cos = 1/√2, 1/√2, 1 → distances 0.292893, 0.292893, 0 → 0.195262
    # user 1 [1, 3, 0]: cos = 0, 0, -1 → distances 1, 1, 2 → 4/3
    close(M.intra_list_diversity(LISTS, features), [0.195262, 4 / 3])
    # padding is ignored; a list of one item has no pair → 0
    close(M.intra_list_diversity(torch.tensor([[2, -1, 0], [1, -1, -1]]), features),
          [1 - 2 ** -0.5, 0.0])
