"""Score fusion: standardisation, weighted sums, state_dict round trip, validation."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from kgrec.models.baselines import EASE, Popularity
from kgrec.models.hybrid import ScoreFusion, standardize


def _data(seed=0, users=40, items=30):
    rng = np.random.default_rng(seed)
    dense = (rng.random((users, items)) < 0.2).astype(np.float64)
    return sp.csr_matrix(dense)


def test_to_moves_the_weights_and_the_history_mask_follows():
    X = _data()
    fusion = ScoreFusion({"ease": EASE(40, 30, reg=10.0).fit(X), "pop": Popularity(40, 30).fit(X)},
                         {"ease": 0.5, "pop": 0.5}, history=X)
    fusion.set_weights({"ease": 0.25, "pop": 0.75})
    assert fusion.weight_dict() == pytest.approx({"ease": 0.25, "pop": 0.75})
    moved = fusion.to(torch.float64)
    assert moved.fusion_weights.dtype == torch.float64
    with pytest.raises(ValueError, match="non-negative"):
        fusion.set_weights({"ease": -1.0})


def test_standardize_rows_and_exclusion():
    s = torch.tensor([[1.0, 2.0, 3.0, 100.0]])
    z = standardize(s)
    assert z.mean().abs() < 1e-6
    ex = torch.tensor([[False, False, False, True]])
    z2 = standardize(s, ex)
    torch.testing.assert_close(z2[0, :3].mean(), torch.tensor(0.0), atol=1e-6, rtol=0)


def test_fusion_weights_and_state_dict_round_trip():
    X = _data()
    parts = {"ease": EASE(40, 30, reg=10.0).fit(X), "pop": Popularity(40, 30).fit(X)}
    fusion = ScoreFusion(parts, {"ease": 0.75, "pop": 0.25})
    users = torch.arange(5)
    z = fusion.component_scores(users)
    torch.testing.assert_close(fusion.score(users), 0.75 * z["ease"] + 0.25 * z["pop"])
    clone = ScoreFusion({"ease": EASE(40, 30, reg=10.0), "pop": Popularity(40, 30)})
    clone.load_state_dict(fusion.state_dict())
    assert clone.weight_dict() == pytest.approx({"ease": 0.75, "pop": 0.25})
    torch.testing.assert_close(clone.score(users), fusion.score(users))


def test_fusion_rejects_mismatched_components():
    with pytest.raises(ValueError, match="disagree"):
        ScoreFusion({"a": Popularity(3, 4), "b": Popularity(3, 5)})
    with pytest.raises(ValueError, match="unknown components"):
        ScoreFusion({"a": Popularity(3, 4)}, {"b": 1.0})


def test_history_mask_of_a_batch_is_the_users_training_rows():
    dense = _data(seed=2).toarray()
    dense[3] = 0  # a user with no history
    X = sp.csr_matrix(dense)
    fusion = ScoreFusion({"pop": Popularity(40, 30).fit(X)}, history=X)
    users = torch.tensor([7, 3, 0, 7])
    np.testing.assert_array_equal(fusion._exclude(users).numpy(),
                                  X[users.numpy()].toarray() > 0)
    assert fusion._exclude(torch.zeros(0, dtype=torch.long)).shape == (0, 30)


def test_standardize_excluding_equals_the_dense_mask_and_fusion_uses_it():
    """Row statistics from sums minus the left-out entries: the same z-scores as the
    dense mask, for repeated users and users without a history."""
    from kgrec.models.hybrid import standardize_excluding

    dense = _data(seed=4).toarray()
    dense[5] = 0
    X = sp.csr_matrix(dense)
    fusion = ScoreFusion({"ease": EASE(40, 30, reg=10.0).fit(X), "pop": Popularity(40, 30).fit(X)},
                         {"ease": 0.5, "pop": 0.5}, history=X)
    users = torch.tensor([5, 1, 1, 39])
    scores = torch.randn(4, 30, generator=torch.Generator().manual_seed(0)) * 50 + 7
    rows, cols = fusion._history_coo(users)
    exclude = fusion._exclude(users)
    torch.testing.assert_close(standardize_excluding(scores, rows, cols),
                               standardize(scores, exclude), atol=1e-5, rtol=1e-5)
    for name, z in fusion.component_scores(users).items():
        expected = standardize(fusion.components[name].score(users), exclude)
        torch.testing.assert_close(z, expected, atol=1e-5, rtol=1e-5)


def test_a_state_saved_with_fewer_components_loads_into_its_first_components():
    """A large catalogue's hybrid saved before ``hybrid_large_components`` holds only
    DLAE: it loads into the larger default fusion, which keeps that component alone;
    a state whose slots do not match is still an error."""
    from kgrec.models.linear import DLAE

    X = _data(seed=6)
    old = ScoreFusion({"dlae": DLAE(40, 30, reg=10.0, max_dense_items=0, neighbors=5).fit(X)},
                      history=X)
    new = ScoreFusion({"dlae": DLAE(40, 30, reg=10.0, max_dense_items=0, neighbors=5),
                       "pop": Popularity(40, 30)}, history=X)
    new.load_state_dict(old.state_dict(), strict=True)
    assert new.names == ["dlae"] and new.weight_dict() == pytest.approx({"dlae": 1.0})
    users = torch.arange(6)
    torch.testing.assert_close(new.score(users), old.score(users))
    other = ScoreFusion({"pop": Popularity(40, 30).fit(X)}, history=X)
    mismatched = ScoreFusion({"dlae": DLAE(40, 30, reg=10.0, max_dense_items=0, neighbors=5),
                              "pop": Popularity(40, 30)}, history=X)
    with pytest.raises(RuntimeError):
        mismatched.load_state_dict(other.state_dict(), strict=True)


def test_log_popularity_ranks_as_counts_and_zero_weights_are_not_scored():
    X = _data(seed=7)
    counts, logs = Popularity(40, 30).fit(X), Popularity(40, 30, log=True).fit(X)
    users = torch.arange(3)
    torch.testing.assert_close(logs.score(users), torch.log1p(counts.score(users)))
    assert torch.equal(logs.score(users).argsort(dim=1, stable=True),
                       counts.score(users).argsort(dim=1, stable=True))

    class Refuses(Popularity):
        def score(self, users):
            raise AssertionError("a component with weight 0 was scored")

        score_history = score

    fusion = ScoreFusion({"pop": counts, "off": Refuses(40, 30).fit(X)}, {"pop": 1.0}, history=X)
    z = standardize(counts.score(users), fusion._exclude(users))
    torch.testing.assert_close(fusion.score(users), z, atol=1e-5, rtol=1e-5)
    h = fusion.components["pop"].score_history(torch.ones(2, 30))
    assert fusion.score_history(torch.ones(2, 30)).shape == h.shape
