"""evaluate(): masking, cold-start candidates, agreement with a slow reference, speed."""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from kgrec.evaluate import (
    EvalResult,
    candidate_indices,
    evaluate,
    masked_topk,
    tie_break_order,
    to_csr,
)
from kgrec.graph import KnowledgeGraph

ACCURACY = ("recall", "precision", "ndcg", "hit", "mrr", "map")


def random_problem(num_users: int, num_items: int, seed: int, density: float = 0.2):
    """Random scores (no ties), disjoint random test and mask matrices."""
    rng = np.random.default_rng(seed)
    scores = torch.from_numpy(rng.random((num_users, num_items)))
    draw = rng.random((num_users, num_items))
    mask = draw < density
    test = (draw >= density) & (draw < density + 0.1)
    return scores, sp.csr_matrix(test.astype(np.float32)), sp.csr_matrix(mask.astype(np.float32))


def reference(scores: np.ndarray, test: np.ndarray, mask: np.ndarray, ks, popularity,
              features, allowed=None) -> dict[str, float]:
    """One user, one item at a time: the metrics straight from their definitions."""
    num_users, num_items = scores.shape
    allowed = np.ones(num_items, bool) if allowed is None else allowed
    sums: dict[str, float] = {}
    lists = {k: [] for k in ks}
    users = 0
    for u in range(num_users):
        rankable = [i for i in range(num_items) if not mask[u, i] and allowed[i]]
        relevant = {i for i in rankable if test[u, i]}
        if not relevant:
            continue
        users += 1
        ranking = sorted(rankable, key=lambda i: -scores[u, i])
        for k in ks:
            top = ranking[:k]
            lists[k].append(top)
            rel = [1 if i in relevant else 0 for i in top]
            n = len(relevant)
            dcg = sum(r / math.log2(pos + 2) for pos, r in enumerate(rel))
            idcg = sum(1 / math.log2(pos + 2) for pos in range(min(n, k)))
            first = next((pos for pos, r in enumerate(rel) if r), None)
            ap = sum(sum(rel[:pos + 1]) / (pos + 1) for pos, r in enumerate(rel) if r) / min(n, k)
            info = [-math.log2(max(popularity[i], 1) / num_users) for i in top]
            dist = []
            for a in top:
                for b in top:
                    if a != b:
                        fa, fb = features[a], features[b]
                        dist.append(1 - fa @ fb / (np.linalg.norm(fa) * np.linalg.norm(fb)))
            values = {"recall": sum(rel) / n, "precision": sum(rel) / k, "ndcg": dcg / idcg,
                      "hit": float(sum(rel) > 0),
                      "mrr": 0.0 if first is None else 1 / (first + 1), "map": ap,
                      "novelty": sum(info) / len(info), "diversity": sum(dist) / len(dist)}
            for name, value in values.items():
                sums[f"{name}@{k}"] = sums.get(f"{name}@{k}", 0.0) + value
    out = {key: value / users for key, value in sums.items()}
    for k in ks:
        out[f"coverage@{k}"] = len({i for top in lists[k] for i in top}) / int(allowed.sum())
    out["num_users"] = users
    return out


def test_matches_slow_reference_loop():
    scores, test, mask = random_problem(30, 50, seed=1)
    rng = np.random.default_rng(2)
    popularity = rng.integers(0, 30, size=50)
    features = rng.normal(size=(50, 8))
    result = evaluate(lambda users: scores[users], test=test, mask=mask, ks=(5, 10),
                      item_popularity=torch.from_numpy(popularity),
                      item_features=torch.from_numpy(features), batch_size=7)
    expected = reference(scores.numpy(), test.toarray() > 0, mask.toarray() > 0, (5, 10),
                         popularity, features)
    assert result.num_users == expected.pop("num_users")
    assert set(result.metrics) == set(expected)
    for key, value in expected.items():
        assert result.metrics[key] == pytest.approx(value, abs=1e-6), key


def test_batch_size_does_not_change_results():
    scores, test, mask = random_problem(30, 50, seed=3)
    a = evaluate(lambda u: scores[u], test=test, mask=mask, batch_size=4, per_user=True)
    b = evaluate(lambda u: scores[u], test=test, mask=mask, batch_size=1024, per_user=True)
    assert a.metrics == pytest.approx(b.metrics)
    np.testing.assert_array_equal(a.users, b.users)
    np.testing.assert_allclose(a.per_user["ndcg@10"], b.per_user["ndcg@10"])


def test_masked_items_are_never_ranked():
    torch.manual_seed(0)
    scores = torch.rand(40, 60)
    exclude = torch.rand(40, 60) < 0.5
    top = masked_topk(scores, exclude, 20)
    assert top.shape == (40, 20)
    assert not exclude.gather(1, top.clamp_min(0))[top >= 0].any()
    # the lists are the best unmasked items, best first
    expected = scores.masked_fill(exclude, -math.inf).topk(20, dim=1)
    assert torch.equal(top[top >= 0], expected.indices[top >= 0])
    assert scores.isfinite().all()  # caller's tensor untouched


def test_masked_top_scored_items_do_not_count():
    # masked items get the highest scores; every unmasked item is relevant, so with a
    # working mask the top 10 is all hits (precision 1).
    scores, _, mask = random_problem(30, 50, seed=4, density=0.3)
    original = scores.clone()
    boosted = scores + torch.from_numpy(mask.toarray()) * 10
    test = sp.csr_matrix(1 - mask.toarray())
    result = evaluate(lambda u: boosted[u], test=test, mask=mask, ks=(10,))
    assert result["precision@10"] == pytest.approx(1.0)
    assert torch.equal(scores, original)


def test_test_items_inside_the_mask_are_not_relevant():
    scores = torch.tensor([[0.9, 0.8, 0.1, 0.0]])
    test = sp.csr_matrix([[1, 0, 1, 0]])
    mask = sp.csr_matrix([[1, 0, 0, 0]])  # item 0 is masked: only item 2 is relevant
    result = evaluate(lambda u: scores[u], test=test, mask=mask, ks=(1, 2))
    assert result["recall@2"] == pytest.approx(1.0)  # items 1, 2 listed; 1 of 1 relevant
    assert result["precision@1"] == 0.0
    only_masked = sp.csr_matrix([[1, 0, 0, 0]])
    with pytest.raises(ValueError, match="no user has a relevant"):
        evaluate(lambda u: scores[u], test=only_masked, mask=mask)


def test_cold_start_candidates_restrict_the_ranking():
    scores, test, mask = random_problem(30, 50, seed=5)
    candidates = torch.arange(0, 50, 3)  # 17 candidate items
    allowed = np.zeros(50, bool)
    allowed[candidates.numpy()] = True
    top = masked_topk(scores, torch.from_numpy(~allowed), 10)
    assert allowed[top.numpy()].all()
    rng = np.random.default_rng(6)
    features = rng.normal(size=(50, 4))
    popularity = rng.integers(0, 30, size=50)
    result = evaluate(lambda u: scores[u], test=test, mask=mask, ks=(5, 10),
                      candidates=candidates, item_features=torch.from_numpy(features),
                      item_popularity=popularity)
    expected = reference(scores.numpy(), test.toarray() > 0, mask.toarray() > 0, (5, 10),
                         popularity, features, allowed)
    assert result.num_users == expected.pop("num_users")
    for key, value in expected.items():
        assert result.metrics[key] == pytest.approx(value, abs=1e-6), key
    # a boolean candidate mask is the same protocol
    again = evaluate(lambda u: scores[u], test=test, mask=mask, ks=(5, 10),
                     candidates=torch.from_numpy(allowed), item_features=features,
                     item_popularity=popularity)
    assert again.metrics == pytest.approx(result.metrics)


def test_ties_are_not_broken_by_item_index():
    # every user's relevant items are the five lowest indices; a constant scorer must not
    # find them by index order (torch.topk alone would list items 0-4 first: NDCG 1)
    test = sp.csr_matrix(np.tile(np.arange(100) < 5, (20, 1)).astype(np.float32))
    result = evaluate(lambda u: torch.zeros(len(u), 100), test=test, mask=None, ks=(5,))
    assert result["ndcg@5"] < 0.5
    assert result["coverage@5"] == pytest.approx(0.05)  # one shared (pseudo-random) list
    order = tie_break_order(100)
    assert sorted(order.tolist()) == list(range(100))
    assert torch.equal(order, tie_break_order(100))  # fixed, so evaluation is repeatable
    top = masked_topk(torch.zeros(2, 100), torch.zeros(100, dtype=torch.bool), 3, order)
    assert top[0].tolist() == top[1].tolist() and set(top[0].tolist()) != {0, 1, 2}
    # strict score order still wins over the tie order
    scores = torch.arange(100.0).repeat(2, 1)
    assert masked_topk(scores, torch.zeros(100, dtype=torch.bool), 3, order).tolist() == \
        [[99, 98, 97]] * 2


def test_fewer_rankable_items_than_k_are_padding_not_hits():
    scores = torch.tensor([[0.5, 0.4, 0.3, 0.2]])
    test = sp.csr_matrix([[0, 1, 0, 0]])
    result = evaluate(lambda u: scores[u], test=test, mask=None, ks=(10,),
                      candidates=torch.tensor([1, 3]))
    assert result["hit@10"] == 1.0
    assert result["precision@10"] == pytest.approx(0.1)  # nominal K in the denominator
    assert result["coverage@10"] == pytest.approx(1.0)  # both candidates listed


def test_scoring_model_and_default_popularity():
    from kgrec.models.baselines import Popularity

    _, test, mask = random_problem(20, 30, seed=7)
    model = Popularity(20, 30).fit(mask)
    model.train()
    by_model = evaluate(model, test=test, mask=mask, ks=(5,))
    by_fn = evaluate(lambda u: model.score(u), test=test, mask=mask, ks=(5,),
                     item_popularity=np.asarray(mask.sum(0)).ravel())
    assert by_model.metrics == pytest.approx(by_fn.metrics)
    assert model.training  # score_all restored the mode


def test_bad_inputs_are_named():
    scores, test, mask = random_problem(10, 12, seed=8)
    with pytest.raises(ValueError, match="expected"):
        evaluate(lambda u: scores[u][:, :5], test=test, mask=mask)
    nan_scores = scores.clone()
    nan_scores[:, 3] = math.nan
    with pytest.raises(ValueError, match="NaN"):
        evaluate(lambda u: nan_scores[u], test=test, mask=mask)
    with pytest.raises(ValueError, match="mask has shape"):
        evaluate(lambda u: scores[u], test=test, mask=sp.csr_matrix((10, 11)))
    with pytest.raises(IndexError, match="12"):
        evaluate(lambda u: scores[u], test=test, mask=mask, candidates=torch.tensor([1, 12]))
    with pytest.raises(ValueError, match="ks"):
        evaluate(lambda u: scores[u], test=test, mask=mask, ks=(0,))


def test_result_is_readable():
    scores, test, mask = random_problem(10, 12, seed=9)
    result = evaluate(lambda u: scores[u], test=test, mask=mask)
    assert isinstance(result, EvalResult)
    assert list(result.metrics)[:6] == [f"{m}@10" for m in ACCURACY]
    assert "coverage@20" in result.metrics and "diversity@10" not in result.metrics
    assert repr(result).startswith(f"EvalResult(num_users={result.num_users}, recall@10=")
    assert "ndcg" in result.table() and "@20" in result.table()
    assert result.to_dict()["num_users"] == result.num_users
    assert result.per_user is None
    with pytest.raises(KeyError, match="ndcg@5"):
        result["ndcg@5"]


def small_graph() -> KnowledgeGraph:
    return KnowledgeGraph({"user": ["user:a", "user:b"],
                           "movie": ["movie:10", "movie:20", "movie:30"]}, {})


def test_to_csr_maps_ids_to_graph_indices():
    kg = small_graph()
    ratings = pd.DataFrame({"user_id": ["b", "a", "b", "b"], "item_id": ["30", "10", "30", "10"],
                            "rating": [4.0, 5.0, 3.0, 1.0]})
    matrix = to_csr(ratings, kg)
    assert matrix.shape == (2, 3)
    np.testing.assert_array_equal(matrix.toarray(), [[1, 0, 0], [1, 0, 1]])  # binary
    with pytest.raises(KeyError, match="'99'"):
        to_csr(pd.DataFrame({"user_id": ["a"], "item_id": ["99"]}), kg)
    with pytest.raises(KeyError, match="'zed'"):
        to_csr(pd.DataFrame({"user_id": ["zed"], "item_id": ["10"]}), kg)
    assert candidate_indices(["30", "10"], kg).tolist() == [2, 0]


def test_full_ml100k_sized_problem_is_fast():
    """943 users x 1682 items, the ML-100K shape: well under a second."""
    scores, test, mask = random_problem(943, 1682, seed=10, density=0.06)
    scores = scores.float()
    evaluate(lambda u: scores[u], test=test, mask=mask)  # warm-up
    best = math.inf
    for _ in range(3):
        start = time.perf_counter()
        result = evaluate(lambda u: scores[u], test=test, mask=mask)
        best = min(best, time.perf_counter() - start)
    assert result.num_users == 943
    assert best < 1.0, f"evaluate took {best:.3f}s"
