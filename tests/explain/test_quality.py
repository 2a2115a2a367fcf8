"""Explanation quality metrics on hand-made cases."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from kgrec.data import MovieDataset
from kgrec.explain import (
    Explanation,
    ExplanationQuality,
    PathExplainer,
    PathStep,
    coverage,
    evaluate_explanations,
    fidelity,
    mean_path_length,
    path_type_diversity,
    path_type_entropy,
)
from kgrec.graph import KnowledgeGraph


def expl(kind: str, relations: list[str], item: str = "movie:9") -> Explanation:
    """An explanation with the given relations after ``rated`` (content, kg) or a
    collaborative one; only the fields the metrics read are meaningful."""
    steps = [PathStep("user:u", "rated", "movie:1")]
    steps += [PathStep("movie:1", r, "x:y") for r in relations]
    return Explanation("user:u", item, kind, tuple(steps), "movie:1", None, 0.5, "")


def test_metrics_on_a_hand_made_case():
    director = expl("content", ["directed_by", "directed_by"])
    collab = expl("collaborative", ["rated", "rated"])
    long_path = expl("kg", ["sequel", "directed_by", "directed_by"])
    genre = expl("content", ["has_genre", "has_genre"])
    per_rec = [[director, collab], [long_path], [], [genre]]
    # list 1 = items X (director, collab) and Y (4-hop); list 2 = items Z (none), W (genre)
    per_list = [[director, collab, long_path], [genre]]
    assert coverage(per_rec) == 0.5           # X and W have a <=3-hop path; Y, Z do not
    assert coverage(per_rec, max_hops=4) == 0.75
    assert path_type_diversity(per_list) == 2.0  # (3 types + 1 type) / 2 lists
    everything = [director, collab, long_path, genre]
    assert path_type_entropy(everything) == pytest.approx(2.0)  # 4 distinct types
    assert path_type_entropy([genre, genre]) == 0.0
    assert mean_path_length(everything) == pytest.approx((3 + 3 + 4 + 3) / 4)
    assert math.isnan(coverage([])) and math.isnan(mean_path_length([]))
    assert director.path_type == "content:directed_by" and collab.path_type == "collaborative"


@pytest.fixture(scope="module")
def kg() -> KnowledgeGraph:
    items = pd.DataFrame({"item_id": ["1", "2", "3", "6"],
                          "title": ["Pulp Fiction", "Reservoir Dogs", "Heat", "Desperado"],
                          "year": 1995, "text": ""})
    triples = [("movie:1", "directed_by", "person:QT"), ("movie:2", "directed_by", "person:QT"),
               ("movie:6", "starring", "person:QT")]
    ratings = [("u1", "1", 5), ("u1", "3", 4), ("u2", "1", 5), ("u2", "2", 5), ("u2", "3", 3),
               ("u3", "3", 5), ("u5", "1", 4), ("u5", "2", 4)]
    data = MovieDataset("quality", items,
                        pd.DataFrame(ratings, columns=["user_id", "item_id", "rating"])
                        .assign(timestamp=0),
                        pd.DataFrame(triples, columns=["head", "relation", "tail"]))
    return KnowledgeGraph.from_dataset(data)


def cosine_scorer(kg: KnowledgeGraph):
    """Item-item cosine scorer: score(i) = sum over history items j of cos(j, i)."""
    x = kg.interaction_matrix().toarray().astype(float)
    norms = np.sqrt(x.sum(0))
    sim = (x.T @ x) / np.maximum(np.outer(norms, norms), 1e-12)
    np.fill_diagonal(sim, 0.0)
    return lambda user, history: sim[history].sum(0)


def test_fidelity_with_an_item_item_cosine_scorer(kg):
    explainer = PathExplainer(kg, liked=None)
    [to_dogs] = [e for e in explainer.explain("u1", "2", k=None)
                 if e.kind == "content" and e.anchor == "movie:1"]
    [to_desperado] = explainer.explain("u1", "6", k=1)  # kg path via Pulp Fiction
    assert to_desperado.kind == "kg" and to_desperado.anchor == "movie:1"
    result = fidelity(cosine_scorer(kg), [to_dogs, to_desperado], kg)
    # Pulp Fiction {u1,u2,u5} and Reservoir Dogs {u2,u5}: cos = 2/sqrt(6); Desperado has
    # no raters, so removing Pulp Fiction changes nothing
    assert result.cases == 2
    assert result.share_dropped == 0.5
    assert result.mean_drop == pytest.approx((2 / math.sqrt(6) + 0.0) / 2)
    # baseline: the only other history item is Heat {u1,u2,u3}: cos(Heat, Dogs) = 1/sqrt(6)
    assert result.mean_drop_random == pytest.approx((1 / math.sqrt(6) + 0.0) / 2)
    # against the baseline, case by case: 2/sqrt(6) > 1/sqrt(6) counts, 0 vs 0 does not
    assert result.share_above_random == 0.5 and result.share_dropped_random == 0.5
    assert "50.0%" in repr(result) and "above a random" in repr(result)


def test_evaluate_explanations_end_to_end(kg):
    explainer = PathExplainer(kg, liked=None)
    recommendations = {"u1": ["2", "6"], "u3": ["1", "2"]}
    quality = evaluate_explanations(explainer, recommendations, score_fn=cosine_scorer(kg))
    assert isinstance(quality, ExplanationQuality)
    assert quality.num_lists == 2 and quality.num_recommendations == 4
    assert quality.coverage == 1.0  # every item has a path of <= 3 hops here
    assert quality.fidelity is not None and quality.fidelity.cases == 4
    assert sum(quality.kind_shares.values()) == pytest.approx(1.0)
    data = quality.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert {"coverage", "path_type_diversity", "path_type_entropy", "mean_path_length",
            "fidelity_share_dropped", "fidelity_mean_drop"} <= set(data)
    text = repr(quality)
    assert "coverage" in text and "fidelity" in text
    same = evaluate_explanations(explainer, list(recommendations.items()),
                                 score_fn=cosine_scorer(kg))
    assert same == quality
    assert evaluate_explanations(explainer, recommendations).fidelity is None
