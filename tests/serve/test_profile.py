"""Taste profiles: rating-weighted, contrasted with base rates."""

from __future__ import annotations

import numpy as np
import pytest

from kgrec.serve.profile import profile


def test_western_fan_has_western_on_top(facts):
    _, genre = facts.incidence["has_genre"]
    western = facts.kg.index("genre:Western")
    is_western = np.asarray(genre[:, western].todense()).ravel() > 0
    ratings = [(int(i), 5.0) for i in np.nonzero(is_western)[0][:8]]
    ratings += [(int(i), 1.0) for i in np.nonzero(~is_western)[0][:30]]
    p = profile(ratings, facts, who="cowboy")
    assert p.top("genres", 1)[0].label == "Western"
    assert p.top("genres", 1)[0].log_lift > 1.0
    assert p.num_rated == 38
    # low ratings carry no weight: nothing from the 1-rated films can be liked
    assert all(f.support > 0 for d in p.dimensions.values() for f in d)
    assert "Western" in repr(p) and p.to_dict()["dimensions"]["genres"][0]["label"] == "Western"


def test_model_genres_from_model_picks(facts):
    _, genre = facts.incidence["has_genre"]
    horror = np.nonzero(np.asarray(genre[:, facts.kg.index("genre:Horror")].todense()).ravel())[0]
    p = profile([(0, 5.0)], facts, model_items=horror[:10].tolist())
    assert p.model_genres[0].label == "Horror"
    assert profile([(0, 5.0)], facts).model_genres == ()


def test_base_rate_contrast(facts):
    """A person liking an even spread of the catalogue likes nothing in particular."""
    ratings = [(i, 5.0) for i in range(facts.n)]
    p = profile(ratings, facts)
    assert max(abs(f.log_lift) for f in p.dimensions["genres"]) < 1e-6


def test_plot_and_unknown_dimension(facts):
    import matplotlib

    matplotlib.use("Agg")
    p = profile([(i, 5.0) for i in range(40)], facts)
    fig = p.plot()
    assert len(fig.axes) == 4
    with pytest.raises(KeyError, match="unknown dimension"):
        p.top("moods")
