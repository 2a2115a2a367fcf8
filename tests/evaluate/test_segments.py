"""Segment metrics against values computed by hand on a 4-user, 6-item ranking."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from kgrec.evaluate import (
    evaluate,
    popularity_segments,
    segment_table,
    training_segments,
    user_quantiles,
)

L3 = 1 / math.log2(3)  # discount of rank 2


def tiny_problem():
    """Train histories of length 1..4; items 0..5 with training popularity 4,3,2,1,0,0.

    Head (first 20% of interactions): item 0; tail (items after 80%): 3, 4, 5.
    Top-2 lists (train masked): u0 [2, 5], u1 [4, 3], u2 [3, 5], u3 [5, 4].
    """
    train = np.zeros((4, 6), np.float32)
    for u in range(4):
        train[u, :u + 1] = 1
    test = np.zeros((4, 6), np.float32)
    for u, items in {0: (4, 2), 1: (3,), 2: (4, 5), 3: (5,)}.items():
        test[u, list(items)] = 1
    order = {0: [2, 5, 4, 1, 3], 1: [4, 3, 2, 5], 2: [3, 5, 4], 3: [5, 4]}
    scores = np.zeros((4, 6))
    for u, items in order.items():
        for rank, i in enumerate(items):
            scores[u, i] = 10.0 - rank
    return sp.csr_matrix(train), sp.csr_matrix(test), torch.from_numpy(scores)


def test_cuts():
    assert popularity_segments(np.array([4, 3, 2, 1, 0, 0])).tolist() == [0, 1, 1, 2, 2, 2]
    # the head needs at least one item; ties are cut by index
    assert popularity_segments(np.array([1, 1, 1, 1, 1])).tolist() == [0, 1, 1, 1, 2]
    groups = user_quantiles(np.array([5, 1, 9, 1, 3, 7, 2, 8]))
    assert groups.tolist() == [2, 0, 3, 0, 1, 2, 1, 3]
    assert np.bincount(user_quantiles(np.arange(10) % 3)).tolist() == [3, 2, 3, 2]
    with pytest.raises(ValueError, match="head_share"):
        popularity_segments(np.ones(3), 0.7, 0.5)


def test_segment_metrics_match_hand_computed_values():
    train, test, scores = tiny_problem()
    segs = training_segments(train)
    assert segs.user_group.tolist() == [0, 1, 2, 3]
    assert segs.item_group.tolist() == [0, 1, 1, 2, 2, 2]
    res = evaluate(lambda users: scores[users], test=test, mask=train, ks=(2,), segments=segs)
    s = res.segments
    # user quartiles: one user each, the plain per-user metric
    assert s["user_q1"]["recall@2"] == pytest.approx(0.5)
    assert s["user_q1"]["ndcg@2"] == pytest.approx(1 / (1 + L3))
    assert s["user_q2"]["ndcg@2"] == pytest.approx(L3)
    assert s["user_q3"]["ndcg@2"] == pytest.approx(L3 / (1 + L3))
    assert s["user_q4"]["mrr@2"] == pytest.approx(1.0)
    assert np.mean([s[f"user_q{q}"]["ndcg@2"] for q in range(1, 5)]) == \
        pytest.approx(res["ndcg@2"])
    # long tail: only tail test items are relevant (u0: {4}, u1: {3}, u2: {4, 5}, u3: {5})
    tail = s["item_tail"]
    assert tail["num_users"] == 4
    assert tail["recall@2"] == pytest.approx((0 + 1 + 0.5 + 1) / 4)
    assert tail["ndcg@2"] == pytest.approx((0 + L3 + L3 / (1 + L3) + 1) / 4)
    assert tail["precision@2"] == pytest.approx((0 + 0.5 + 0.5 + 0.5) / 4)
    assert tail["rec_share@2"] == pytest.approx(7 / 8)
    assert tail["hit_share@2"] == pytest.approx(3 / 4)
    torso = s["item_torso"]
    assert torso["num_users"] == 1 and torso["ndcg@2"] == pytest.approx(1.0)
    assert torso["rec_share@2"] == pytest.approx(1 / 8)
    assert torso["hit_share@2"] == pytest.approx(1 / 4)
    assert s["item_head"]["num_users"] == 0 and s["item_head"]["rec_share@2"] == 0
    table = segment_table({"tiny": s}, metric="ndcg@2", k=2)
    assert "| tiny |" in table and "0.875" in table and "0.750" in table
    assert "items with 1–4 training ratings" not in segs.description["item_head"]
    assert segs.description["item_tail"].startswith("3 items with 0–1 training ratings")


def test_segments_must_match_the_matrix():
    train, test, scores = tiny_problem()
    segs = training_segments(train[:3])
    with pytest.raises(ValueError, match="segments label 3 users"):
        evaluate(lambda users: scores[users], test=test, mask=train, ks=(2,), segments=segs)
