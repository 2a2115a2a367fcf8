"""Few-shot new users: how well a handful of liked titles is turned into a list.

Protocol (:func:`fewshot_split`): users are split (seeded) into *fit*, *validation* and
*test* users. Models are fitted on the fit users' interactions only, so validation and
test users are new to every model. For a validation or test user with at least
``n + min_targets`` liked movies (rating ``>= min_rating``), ``n`` liked movies drawn at
random (seeded) form the history; the target is the rest of their liked movies. Every
movie except the history is ranked, and NDCG@K / Recall@K are averaged over users
(:func:`evaluate_fewshot`). Validation users choose any setting; test users report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from kgrec.evaluate.metrics import ndcg_at_k, recall_at_k

ScoreHistory = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class FewShotUsers:
    """Histories and targets of new users.

    Attributes:
        users: user ids; histories / targets: movie indices per user (aligned);
        n: history length; num_items: catalogue size.
    """

    users: tuple[str, ...]
    histories: tuple[np.ndarray, ...]
    targets: tuple[np.ndarray, ...]
    n: int
    num_items: int

    def history_matrix(self) -> torch.Tensor:
        """Binary ``float [U, I]`` histories."""
        h = torch.zeros(len(self.users), self.num_items)
        for r, items in enumerate(self.histories):
            h[r, torch.from_numpy(items.astype(np.int64))] = 1.0
        return h


@dataclass(frozen=True)
class FewShotSplit:
    """Fit interactions (fit users only) and the new users' rating tables."""

    fit: pd.DataFrame
    valid_users: pd.DataFrame
    test_users: pd.DataFrame


def fewshot_split(ratings: pd.DataFrame, *, num_valid: int = 100, num_test: int = 200,
                  seed: int = 0) -> FewShotSplit:
    """Split users (seeded) into fit / validation / test users; see the module doc.

    Raises:
        ValueError: fewer users than ``num_valid + num_test + 1``.
    """
    users = np.array(sorted(ratings["user_id"].astype(str).unique()))
    if len(users) <= num_valid + num_test:
        raise ValueError(f"{len(users)} users cannot give {num_valid} validation and "
                         f"{num_test} test users plus fit users")
    rng = np.random.default_rng(seed)
    rng.shuffle(users)
    valid, test = set(users[:num_valid]), set(users[num_valid:num_valid + num_test])
    uid = ratings["user_id"].astype(str)
    return FewShotSplit(ratings[~uid.isin(valid | test)], ratings[uid.isin(valid)],
                        ratings[uid.isin(test)])


def fewshot_users(ratings: pd.DataFrame, item_index: dict[str, int], n: int, *,
                  min_rating: float = 4.0, min_targets: int = 5, seed: int = 0
                  ) -> FewShotUsers:
    """``n`` liked movies per user as history, the rest of the liked ones as target.

    Args:
        ratings: the new users' ratings (``user_id``, ``item_id``, ``rating``).
        item_index: bare item id → movie index.
        n: history length (1, 3, 5 ...).
        min_rating: a rating at least this is "liked".
        min_targets: users with fewer than ``n + min_targets`` liked movies are skipped.
        seed: draws of the histories.
    """
    rng = np.random.default_rng(seed)
    liked = ratings[ratings["rating"] >= min_rating]
    users, hist, targ = [], [], []
    for user, group in sorted(liked.groupby(liked["user_id"].astype(str)), key=lambda t: t[0]):
        items = np.array(sorted({item_index[str(i)] for i in group["item_id"]}))
        if len(items) < n + min_targets:
            continue
        pick = rng.permutation(len(items))
        users.append(user)
        hist.append(items[pick[:n]])
        targ.append(items[pick[n:]])
    return FewShotUsers(tuple(users), tuple(hist), tuple(targ), n, len(item_index))


def evaluate_fewshot(score_history: ScoreHistory, users: FewShotUsers, k: int = 10
                     ) -> dict[str, float]:
    """Mean NDCG@k and Recall@k of ``score_history`` (``float [U, I]`` histories →
    scores ``[U, I]``) on ``users``; history movies are never ranked."""
    if not users.users:
        raise ValueError("no few-shot users to evaluate (too few liked movies?)")
    h = users.history_matrix()
    with torch.no_grad():
        scores = score_history(h).detach().to(torch.float64).clone()
    scores[h > 0] = -torch.inf
    top = torch.topk(scores, k, dim=1).indices
    target = torch.zeros_like(h, dtype=torch.bool)
    for r, items in enumerate(users.targets):
        target[r, torch.from_numpy(items.astype(np.int64))] = True
    hits = torch.gather(target, 1, top)
    num = target.sum(1)
    return {f"ndcg@{k}": float(ndcg_at_k(hits, num).mean()),
            f"recall@{k}": float(recall_at_k(hits, num).mean()), "users": len(users.users)}


def standardise(scores: torch.Tensor) -> torch.Tensor:
    """Row-wise z-scores ``[U, I]`` (rows with no spread become 0)."""
    sd = scores.std(1, keepdim=True)
    return torch.where(sd > 1e-8, (scores - scores.mean(1, keepdim=True)) / sd.clamp_min(1e-8),
                       torch.zeros_like(scores))
