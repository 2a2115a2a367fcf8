"""HeteroSAGE: shapes, gradients, inductive scoring of unrated and new movies, seeding,
and learning on a small planted-structure graph."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from kgrec.models.sage import HeteroSAGE
from kgrec.train.bpr import train_bpr
from kgrec.train.options import TrainConfig

NUM_GENRES, DIRECTORS_PER_GENRE, ITEMS_PER_GENRE, COLD_PER_GENRE = 4, 2, 12, 2
USERS_PER_GENRE = 10


def planted(seed: int = 0, feature_dim: int = 8) -> dict:
    """A tiny world where users like one genre and cold movies are reachable only through
    the KG: movie ``i`` has genre ``i % 4`` and one of that genre's two directors; text
    features are pure noise; the first ``COLD_PER_GENRE`` movies of each genre are never
    rated. Each user rates each warm movie of their genre with probability 0.7 and any
    other warm movie with probability 0.03."""
    rng = np.random.default_rng(seed)
    num_items = NUM_GENRES * ITEMS_PER_GENRE
    num_users = NUM_GENRES * USERS_PER_GENRE
    genre = np.arange(num_items) % NUM_GENRES
    director = genre * DIRECTORS_PER_GENRE + rng.integers(0, DIRECTORS_PER_GENRE, num_items)
    cold = np.concatenate([np.flatnonzero(genre == g)[:COLD_PER_GENRE] for g in range(NUM_GENRES)])
    warm = np.setdiff1d(np.arange(num_items), cold)
    user_genre = np.arange(num_users) % NUM_GENRES
    likes = user_genre[:, None] == genre[None, :]
    prob = np.where(likes, 0.7, 0.03)
    rated = (rng.random((num_users, num_items)) < prob)
    rated[:, cold] = False
    u, i = np.nonzero(rated)
    edges = {
        ("user", "rated", "movie"): torch.from_numpy(np.stack([u, i])).long(),
        ("movie", "has_genre", "genre"): torch.from_numpy(
            np.stack([np.arange(num_items), genre])).long(),
        ("movie", "directed_by", "person"): torch.from_numpy(
            np.stack([np.arange(num_items), director])).long(),
    }
    x = {"movie": torch.from_numpy(rng.normal(size=(num_items, feature_dim))).float()}
    interactions = sp.csr_matrix((np.ones(len(u), np.float32), (u, i)),
                                 shape=(num_users, num_items))
    return {"edges": edges, "x": x, "num_users": num_users, "num_items": num_items,
            "cold": cold, "warm": warm, "likes": likes, "interactions": interactions}


def make(world: dict, seed: int = 0, **kwargs) -> HeteroSAGE:
    torch.manual_seed(seed)
    kwargs.setdefault("hidden_size", 16)
    return HeteroSAGE(world["num_users"], world["num_items"], world["edges"], world["x"], **kwargs)


@pytest.fixture(scope="module")
def world() -> dict:
    return planted()


def test_shapes(world):
    model = make(world).eval()
    users = torch.tensor([0, 3, 7])
    assert model.score(users).shape == (3, world["num_items"])
    assert model.score_all(torch.arange(world["num_users"])).shape == (world["num_users"],
                                                                       world["num_items"])
    assert model.item_embeddings().shape == (world["num_items"], 16)
    assert model.user_embeddings(users).shape == (3, 16)
    model.train()
    pos, neg, reg = model.bpr_scores(users, torch.tensor([1, 2, 3]), torch.tensor([4, 5, 6]))
    assert pos.shape == neg.shape == (3,) and reg.dim() == 0 and reg > 0
    assert model.inductive


def test_reverse_edges_are_added_once(world):
    """Forward-only edges and to_hetero_data()-style (with rev_) edges build the same model."""
    both = dict(world["edges"])
    for (s, r, d), index in world["edges"].items():
        both[(d, f"rev_{r}", s)] = index.flip(0)
    a = make(world)
    b = HeteroSAGE(world["num_users"], world["num_items"], both, world["x"], hidden_size=16)
    assert a.edge_types == b.edge_types
    b.load_state_dict(a.state_dict())
    users = torch.arange(5)
    assert torch.equal(a.eval().score(users), b.eval().score(users))
    assert ("user", "rated", "movie") in a.edge_types
    # item_side_ratings=False: movies do not read their raters, users still read their movies
    kg_only = make(world, item_side_ratings=False)
    assert ("user", "rated", "movie") not in kg_only.edge_types
    assert ("movie", "rev_rated", "user") in kg_only.edge_types


def test_gradients_reach_entity_embeddings_and_text_projection(world):
    model = make(world, dropout=0.0)
    users = torch.arange(8)
    pos, neg, reg = model.bpr_scores(users, torch.arange(8), torch.arange(8, 16))
    (-torch.nn.functional.logsigmoid(pos - neg).mean() + 1e-4 * reg).backward()
    for name in ("person", "genre", "user"):
        grad = model.embedding[name].weight.grad
        assert grad is not None and grad.abs().sum() > 0, name
    assert model.text_proj["movie"].weight.grad.abs().sum() > 0
    assert "movie" not in model.embedding  # no per-movie ID embedding


def test_unrated_movie_is_scored_from_its_neighbours_and_features(world):
    """A cold movie's scores change when its director or its features change."""
    cold = int(world["cold"][0])
    assert world["interactions"][:, cold].nnz == 0
    base = make(world).eval()
    scores = base.score(torch.arange(world["num_users"]))[:, cold]

    edges = dict(world["edges"])
    directed = edges[("movie", "directed_by", "person")].clone()
    directed[1, cold] = (directed[1, cold] + 3) % (NUM_GENRES * DIRECTORS_PER_GENRE)
    edges[("movie", "directed_by", "person")] = directed
    other = HeteroSAGE(world["num_users"], world["num_items"], edges, world["x"], hidden_size=16)
    other.load_state_dict(base.state_dict())
    moved = other.eval().score(torch.arange(world["num_users"]))[:, cold]
    assert not torch.allclose(scores, moved)

    x = {"movie": world["x"]["movie"].clone()}
    x["movie"][cold] += 1.0
    refeat = HeteroSAGE(world["num_users"], world["num_items"], world["edges"], x, hidden_size=16)
    refeat.load_state_dict(base.state_dict())
    refeat_scores = refeat.eval().score(torch.arange(world["num_users"]))[:, cold]
    assert not torch.allclose(scores, refeat_scores)


def test_embed_new_items_matches_an_unrated_movie_in_the_graph(world):
    """The last movie, unrated, embedded as part of the graph == the same movie added
    afterwards with embed_new_items to a graph that lacked it (same weights)."""
    last = world["num_items"] - 1
    keep_rated = world["edges"][("user", "rated", "movie")]
    keep_rated = keep_rated[:, keep_rated[1] != last]
    full_edges = {**world["edges"], ("user", "rated", "movie"): keep_rated}
    full = HeteroSAGE(world["num_users"], world["num_items"], full_edges, world["x"],
                      hidden_size=16, num_nodes_dict={"person": 8, "genre": 4})
    small_edges = {k: v[:, v[0] != last] if k[0] == "movie" else v for k, v in full_edges.items()}
    small = HeteroSAGE(world["num_users"], world["num_items"] - 1, small_edges,
                       {"movie": world["x"]["movie"][:last]}, hidden_size=16,
                       num_nodes_dict={"person": 8, "genre": 4})
    small.load_state_dict(full.state_dict())
    director = int(world["edges"][("movie", "directed_by", "person")][1, last])
    genre = int(world["edges"][("movie", "has_genre", "genre")][1, last])
    neighbors = {("movie", "directed_by", "person"): torch.tensor([[0], [director]]),
                 # the reverse form works too
                 ("genre", "rev_has_genre", "movie"): torch.tensor([[genre], [0]])}
    new = small.embed_new_items(world["x"]["movie"][last:], neighbors)
    assert new.shape == (1, 16)
    torch.testing.assert_close(new[0], full.item_embeddings()[last])
    users = torch.arange(4)
    torch.testing.assert_close(small.user_embeddings(users) @ new.T,
                               full.eval().score(users)[:, last:])
    with pytest.raises(ValueError, match="rating edges"):
        small.embed_new_items(world["x"]["movie"][:1],
                              {("user", "rated", "movie"): torch.tensor([[0], [0]])})
    with pytest.raises(ValueError, match="out of range"):
        small.embed_new_items(world["x"]["movie"][:1],
                              {("movie", "directed_by", "person"): torch.tensor([[0], [99]])})


def test_same_seed_same_scores(world):
    users = torch.arange(world["num_users"])
    a, b, c = make(world, seed=3), make(world, seed=3), make(world, seed=4)
    assert torch.equal(a.eval().score(users), b.eval().score(users))
    assert not torch.equal(a.score(users), c.eval().score(users))
    config = TrainConfig(epochs=2, batch_size=64, learning_rate=0.01, seed=5,
                         show_progress=False, threads=1)
    runs = []
    for _ in range(2):
        model = make(world, seed=0, rated_dropout=0.2)
        train_bpr(model, world["interactions"], config)
        runs.append(model.score_all(users))
    assert torch.equal(runs[0], runs[1])


def test_constructor_errors_name_the_culprit(world):
    with pytest.raises(ValueError, match="x_dict\\['movie'\\]"):
        HeteroSAGE(world["num_users"], world["num_items"], world["edges"],
                   {"movie": torch.zeros(3, 8)})
    bad = dict(world["edges"])
    bad[("movie", "has_genre", "genre")] = torch.tensor([[0], [7]])
    with pytest.raises(ValueError, match="has_genre"):
        HeteroSAGE(world["num_users"], world["num_items"], bad, world["x"],
                   num_nodes_dict={"genre": 4})


@pytest.mark.parametrize("item_side_ratings", [False, True])
def test_training_beats_random_on_held_out_cold_items(world, item_side_ratings):
    """After a few epochs of BPR, users' own-genre cold movies outrank the others
    (ROC AUC over cold movies; random is 0.5; this seed gives about 0.98). Features are
    noise: only the KG helps."""
    model = make(world, dropout=0.0, item_side_ratings=item_side_ratings,
                 rated_dropout=0.3 if item_side_ratings else 0.0)
    config = TrainConfig(epochs=20, batch_size=128, learning_rate=0.02, seed=0,
                         show_progress=False, threads=1)
    # negatives among rated movies only: never-rated ones are unknown, not disliked
    train_bpr(model, world["interactions"], config, negative_items=world["warm"])
    users = torch.arange(world["num_users"])
    scores = model.score_all(users)[:, world["cold"]].numpy()
    likes = world["likes"][:, world["cold"]]
    auc = np.mean([(scores[u, likes[u]][:, None] > scores[u, ~likes[u]][None, :]).mean()
                   for u in range(len(users))])
    assert auc > 0.85, auc


def test_one_propagation_per_batch_and_rating_dropout_only_in_training(world):
    model = make(world, rated_dropout=0.5)
    calls = []
    original = model.propagate

    def counting(*args, **kwargs):
        calls.append(model.training)
        return original(*args, **kwargs)

    model.propagate = counting
    config = TrainConfig(epochs=1, batch_size=64, seed=0, show_progress=False, threads=1)
    train_bpr(model, world["interactions"], config)
    batches = -(-world["interactions"].nnz // 64)
    assert calls == [True] * batches
    users = torch.arange(world["num_users"])
    model.train()
    assert not torch.equal(model.score(users), model.score(users))  # edges dropped at random
    model.eval()
    assert torch.equal(model.score(users), model.score(users))
