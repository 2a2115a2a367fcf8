"""Few-shot new-user protocol: disjoint users, histories of n liked movies, metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kgrec.evaluate.fewshot import evaluate_fewshot, fewshot_split, fewshot_users


def test_split_and_histories(sample_dataset):
    split = fewshot_split(sample_dataset.ratings, num_valid=50, num_test=100, seed=3)
    fit, valid, test = (set(f["user_id"]) for f in (split.fit, split.valid_users, split.test_users))
    assert not fit & valid and not fit & test and not valid & test
    assert len(valid) == 50 and len(test) == 100
    index = {item: i for i, item in enumerate(sample_dataset.items["item_id"])}
    users = fewshot_users(split.test_users, index, 3, seed=0)
    assert users.users and all(len(h) == 3 for h in users.histories)
    for h, t in zip(users.histories, users.targets):
        assert len(t) >= 5 and not set(h) & set(t)
    again = fewshot_users(split.test_users, index, 3, seed=0)
    assert all((a == b).all() for a, b in zip(users.histories, again.histories))


def test_evaluate_oracle_and_history_masking():
    from kgrec.evaluate.fewshot import FewShotUsers

    users = FewShotUsers(("a",), (np.array([0]),), (np.array([1, 2]),), 1, 5)
    oracle = lambda h: torch.tensor([[9.0, 5.0, 4.0, 0.0, 0.0]])  # noqa: E731
    r = evaluate_fewshot(oracle, users, k=2)
    assert r["ndcg@2"] == pytest.approx(1.0) and r["recall@2"] == pytest.approx(1.0)
    worst = lambda h: torch.tensor([[9.0, 0.0, 0.0, 5.0, 4.0]])  # noqa: E731
    assert evaluate_fewshot(worst, users, k=2)["ndcg@2"] == 0.0
