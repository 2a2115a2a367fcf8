"""NegativeSampler: never a positive, only candidates, seeded, clear errors."""

import numpy as np
import pytest
import scipy.sparse as sp

from kgrec.train.sampling import NegativeSampler


def _matrix(seed=0, users=30, items=12, density=0.5):
    rng = np.random.default_rng(seed)
    return sp.csr_matrix((rng.random((users, items)) < density).astype(np.float32))


def test_negatives_are_never_positives():
    X = _matrix()
    sampler = NegativeSampler(X)
    users = np.repeat(np.arange(30), 50)
    items = sampler.sample(users, np.random.default_rng(1))
    assert items.shape == users.shape
    assert not np.asarray(X[users, items]).ravel().any()
    assert sampler.is_positive(*X.nonzero()).all()


def test_candidates_restrict_the_draws_and_seed_repeats():
    X = _matrix(density=0.2)
    candidates = np.array([1, 4, 7, 9, 11])
    sampler = NegativeSampler(X, candidates)
    users = np.repeat(np.arange(30), 20)
    a = sampler.sample(users, np.random.default_rng(5))
    b = sampler.sample(users, np.random.default_rng(5))
    assert set(a) <= set(candidates.tolist())
    np.testing.assert_array_equal(a, b)


def test_a_user_who_rated_everything_is_an_error():
    X = _matrix()
    X = sp.vstack([X, sp.csr_matrix(np.ones((1, 12), dtype=np.float32))]).tocsr()
    with pytest.raises(ValueError, match="user index 30 rated every item"):
        NegativeSampler(X)
