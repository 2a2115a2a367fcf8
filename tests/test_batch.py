"""Batch recommendation (``kgrec recommend --all-users``): shards cover every user exactly
once, the output of 2 gloo ranks under torchrun is identical to one process's, and the
manifest's hashes catch a modified shard."""

from __future__ import annotations

import json

import pytest
import torch

from kgrec.batch import MANIFEST, read_recommendations, recommend_all_users, shard_chunks


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory, sample_dataset):
    """A DLAE recommender fitted on the sample and saved (closed form: seconds)."""
    from kgrec.config import KGRecConfig
    from kgrec.recommender import Recommender

    torch.set_num_threads(1)
    config = KGRecConfig().replace(model={"name": "dlae"},
                                   train={"show_progress": False},
                                   text={"show_progress": False})
    folder = tmp_path_factory.mktemp("batch") / "model"
    Recommender(config).fit(sample_dataset).save(folder)
    return folder


@pytest.mark.parametrize("num_users, batch_size, world", [
    (450, 64, 1), (450, 64, 2), (450, 64, 3), (450, 1000, 2), (7, 2, 5), (0, 4, 2), (1, 1, 1)])
def test_shards_cover_every_user_exactly_once(num_users, batch_size, world):
    users = [u for rank in range(world)
             for chunk in shard_chunks(num_users, batch_size, rank, world) for u in chunk]
    assert users == list(range(num_users))  # each once, in index order, rank after rank
    # the chunks, and so each user's scoring batch, do not depend on the number of ranks
    alone = [tuple(c) for c in shard_chunks(num_users, batch_size, 0, 1)]
    assert [tuple(c) for r in range(world) for c in shard_chunks(num_users, batch_size, r, world)
            ] == alone


def test_shard_chunks_rejects_bad_arguments():
    with pytest.raises(ValueError, match="batch_size"):
        shard_chunks(10, 0, 0, 1)
    with pytest.raises(ValueError, match="rank 2"):
        shard_chunks(10, 3, 2, 2)


def test_one_process_writes_every_user_once(saved_model, tmp_path):
    from kgrec.recommender import Recommender

    rec = Recommender.load(saved_model)
    result = recommend_all_users(rec, tmp_path / "out", k=5, batch_size=100, show_progress=False)
    frame = read_recommendations(tmp_path / "out")
    assert result.users == rec.kg_.num_users == frame["user_id"].nunique()
    assert sorted(frame["user_id"].unique()) == sorted(rec.kg_.user_ids)
    assert all(r == [1, 2, 3, 4, 5] for r in frame.groupby("user_id")["rank"].apply(list))
    # the rows are the recommender's own top-5 for each user
    for user in ("u1", rec.kg_.user_ids[-1]):
        want = [r.item_id for r in rec.recommend_batch([user], 5)[user]]
        assert frame.loc[frame["user_id"] == user, "item_id"].tolist() == want
    # seen movies are excluded
    seen = rec._seen_ratings
    pairs = set(zip(seen["user_id"], seen["item_id"]))
    assert not any(p in pairs for p in zip(frame["user_id"], frame["item_id"]))


def test_two_ranks_write_the_one_process_output(saved_model, tmp_path, launch):
    one, two = tmp_path / "one", tmp_path / "two"
    command = ["-m", "kgrec", "recommend", "--model", str(saved_model), "--all-users",
               "--batch-size", "64", "-k", "10", "--out"]
    launch([*command, str(one)])
    launch([*command, str(two)], ranks=2)
    manifest = json.loads((two / MANIFEST).read_text())
    assert manifest["world_size"] == 2 and len(manifest["shards"]) == 2
    assert all(s["users"] > 0 for s in manifest["shards"])
    assert sum(s["users"] for s in manifest["shards"]) == manifest["users"]
    a, b = read_recommendations(one), read_recommendations(two)
    assert len(a) == 10 * manifest["users"]
    assert a.equals(b)  # same rows, same order, same float64 scores


def test_a_modified_shard_is_refused(saved_model, tmp_path):
    from kgrec.recommender import Recommender

    out = tmp_path / "out"
    recommend_all_users(Recommender.load(saved_model), out, k=3, show_progress=False)
    shard = next(out.glob("part-*.parquet"))
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="sha256"):
        read_recommendations(out)
    (out / MANIFEST).unlink()
    with pytest.raises(FileNotFoundError, match="manifest"):
        read_recommendations(out)


def test_a_rerun_replaces_stale_shards(saved_model, tmp_path):
    from kgrec.recommender import Recommender

    out = tmp_path / "out"
    out.mkdir()
    (out / "part-00001-of-00002.parquet").write_bytes(b"old run")
    recommend_all_users(Recommender.load(saved_model), out, k=2, show_progress=False)
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "part-00000-of-00001.parquet"]
