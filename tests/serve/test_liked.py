"""LikedTitlesScorer: collaborative scores plus popularity and shared facts."""

from __future__ import annotations

import numpy as np
import torch

from kgrec.serve.liked import LikedTitlesScorer


def test_shared_facts_lift_related_movies(facts, title_index):
    flat = lambda h: torch.zeros(h.shape[0], facts.n)  # noqa: E731  (no collaborative signal)
    heat = title_index["Heat"]
    h = torch.zeros(1, facts.n)
    h[0, heat] = 1.0
    s = LikedTitlesScorer(flat, facts, beta=1.0).score_history(h)[0].numpy()
    related = facts.anchor_similarity([heat]) > 0
    assert s[title_index["Collateral"]] > np.percentile(s, 95)   # same director
    assert s[related].min() > s[~related].max()      # any shared fact beats none
    gated = LikedTitlesScorer(flat, facts, beta=0.0, gamma=1.0).score_history(h)[0].numpy()
    assert set(np.nonzero(gated > 0)[0]) == set(np.nonzero(related)[0])


def test_popularity_term_and_plain_collaborative(facts):
    collab = lambda h: torch.arange(facts.n, dtype=torch.float32).repeat(h.shape[0], 1)  # noqa: E731
    h = torch.zeros(2, facts.n)
    plain = LikedTitlesScorer(collab, facts, beta=0.0).score_history(h)
    assert int(plain[0].argmax()) == facts.n - 1
    pop = np.zeros(facts.n)
    pop[0] = 1000.0
    with_pop = LikedTitlesScorer(collab, facts, beta=0.0, popularity=pop, alpha=5.0).score_history(h)
    assert int(with_pop[1].argmax()) == 0
