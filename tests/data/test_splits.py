"""kgrec.data.splits: per-user random and temporal splits, cold-start items, fixed splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kgrec.data import DataError, cold_start_split, random_split, read_split, temporal_split
from kgrec.data.splits import Split, write_split

KEY = ["user_id", "item_id"]


def make_ratings(n_users: int = 30, n_items: int = 60, seed: int = 0) -> pd.DataFrame:
    """Each user rates a random 10..40 distinct items at increasing random times."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        count = int(rng.integers(10, 41))
        items = rng.choice(n_items, size=count, replace=False)
        times = rng.permutation(count) * 100 + 1_000_000
        rows += [(str(u), str(i), float(rng.integers(1, 6)), int(t)) for i, t in zip(items, times)]
    df = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    return df.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def as_set(df: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(df["user_id"], df["item_id"]))


def assert_partition(split: Split, ratings: pd.DataFrame) -> None:
    parts = [as_set(split.train), as_set(split.valid), as_set(split.test)]
    assert sum(map(len, parts)) == len(ratings)
    assert set().union(*parts) == as_set(ratings)
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])


def test_random_split_ratios_per_user():
    ratings = make_ratings()
    split = random_split(ratings, (0.8, 0.1, 0.1), seed=3)
    assert_partition(split, ratings)
    counts = ratings.groupby("user_id").size()
    for part, ratio in ((split.train, 0.8), (split.valid, 0.1)):
        got = part.groupby("user_id").size().reindex(counts.index, fill_value=0)
        assert (got - np.rint(counts * ratio)).abs().max() <= 1
    assert set(split.train["user_id"]) == set(ratings["user_id"])  # every user trains
    assert list(split.train.columns) == ["user_id", "item_id", "rating", "timestamp"]


def test_random_split_is_seeded():
    ratings = make_ratings()
    a, b = random_split(ratings, seed=7), random_split(ratings, seed=7)
    for x, y in ((a.train, b.train), (a.valid, b.valid), (a.test, b.test)):
        pd.testing.assert_frame_equal(x, y)
    assert as_set(random_split(ratings, seed=8).test) != as_set(a.test)
    # the input order does not matter beyond the seed's permutation of it
    assert len(a.train) + len(a.valid) + len(a.test) == len(ratings)


def test_random_split_small_users_and_bad_ratios():
    ratings = pd.DataFrame({"user_id": ["a", "b", "b"], "item_id": ["1", "1", "2"],
                            "rating": [1.0, 2.0, 3.0], "timestamp": [1, 2, 3]})
    split = random_split(ratings, seed=0)
    assert as_set(split.train) >= {("a", "1")}  # a single rating always trains
    assert_partition(split, ratings)
    with pytest.raises(ValueError, match="summing to 1"):
        random_split(ratings, (0.8, 0.1, 0.2))


def test_temporal_split_orders_each_user():
    ratings = make_ratings(seed=1)
    split = temporal_split(ratings, (0.7, 0.15, 0.15))
    assert_partition(split, ratings)
    last_train = split.train.groupby("user_id")["timestamp"].max()
    first_valid = split.valid.groupby("user_id")["timestamp"].min()
    last_valid = split.valid.groupby("user_id")["timestamp"].max()
    first_test = split.test.groupby("user_id")["timestamp"].min()
    assert (last_train.reindex(first_valid.index) < first_valid).all()
    assert (last_valid.reindex(first_test.index) < first_test).all()
    assert (last_train.reindex(first_test.index) < first_test).all()


def test_cold_start_items_only_in_test():
    ratings = make_ratings(seed=2)
    split = cold_start_split(ratings, cold_fraction=0.2, valid_ratio=0.1, seed=5)
    assert_partition(split, ratings)
    assert split.is_cold_start
    n_items = ratings["item_id"].nunique()
    assert len(split.cold_items) == round(n_items * 0.2)
    cold = set(split.cold_items)
    assert set(split.test["item_id"]) == cold
    assert not cold & set(split.train["item_id"]) and not cold & set(split.valid["item_id"])
    assert len(split.test) == ratings["item_id"].isin(cold).sum()
    again = cold_start_split(ratings, cold_fraction=0.2, valid_ratio=0.1, seed=5)
    assert again.cold_items == split.cold_items
    with pytest.raises(ValueError):
        cold_start_split(ratings, cold_fraction=1.0)


def test_write_and_read_split_round_trip(tmp_path):
    ratings = make_ratings(seed=4)
    split = cold_start_split(ratings, seed=0)
    write_split(split, tmp_path / "s")
    back = read_split(tmp_path / "s")
    assert back.cold_items == split.cold_items and back.name == "s"
    for part in ("train", "valid", "test"):
        pd.testing.assert_frame_equal(getattr(back, part), getattr(split, part),
                                      check_dtype=False)
        assert getattr(back, part)["timestamp"].dtype == np.int64


def test_read_split_tiny_folder_and_errors(tmp_path):
    folder = tmp_path / "tiny"
    folder.mkdir()
    header = "user_id\titem_id\trating\ttimestamp\n"
    (folder / "train.tsv").write_text(header + "1\t10\t4\t100\n1\t11\t5\t101\n2\t10\t3\t102\n")
    (folder / "valid.tsv").write_text(header)
    (folder / "test.tsv").write_text(header + "2\t11\t1\t103\n")
    split = read_split(folder)
    assert (len(split.train), len(split.valid), len(split.test)) == (3, 0, 1)
    assert split.train["item_id"].tolist() == ["10", "11", "10"] and not split.is_cold_start
    (folder / "test.tsv").write_text(header + "2\t11\tbad\t103\n")
    with pytest.raises(DataError, match=r"test\.tsv, line 2: unparsable rating 'bad'"):
        read_split(folder)
    (folder / "test.tsv").write_text("user\titem\n1\t2\n")
    with pytest.raises(DataError, match=r"test\.tsv, line 1: header lacks"):
        read_split(folder)
    (folder / "test.tsv").unlink()
    with pytest.raises(DataError, match=r"test\.tsv: split file not found"):
        read_split(folder)
    with pytest.raises(DataError, match="split folder not found"):
        read_split(tmp_path / "nope")


def test_benchmark_splits(shared_benchmarks):
    random = read_split(shared_benchmarks / "ml-100k" / "random-811-seed0")
    assert (len(random.train), len(random.valid), len(random.test)) == (79_619, 9_942, 10_439)
    assert not random.is_cold_start
    assert random.train["user_id"].nunique() == 943
    cold = read_split(shared_benchmarks / "ml-100k" / "cold-items-seed0")
    assert len(cold.cold_items) == 336
    assert (len(cold.train), len(cold.valid), len(cold.test)) == (72_159, 8_482, 19_359)
    cold_set = set(cold.cold_items)
    assert set(cold.test["item_id"]) <= cold_set
    assert not cold_set & set(cold.train["item_id"]) and not cold_set & set(cold.valid["item_id"])


def test_read_split_empty_file_is_a_data_error(tmp_path):
    header = "user_id\titem_id\trating\ttimestamp\n"
    (tmp_path / "train.tsv").write_text(header + "1\t10\t4\t100\n")
    (tmp_path / "valid.tsv").write_text(header)
    (tmp_path / "test.tsv").write_text("")
    with pytest.raises(DataError, match=r"test\.tsv"):
        read_split(tmp_path)


def test_cold_validation_split_carves_training_movies(sample_dataset):
    from kgrec.data.splits import cold_start_split, cold_validation_split

    split = cold_start_split(sample_dataset.ratings, cold_fraction=0.2, seed=0)
    carved = cold_validation_split(split, fraction=0.25, seed=3)
    drawn = set(carved.cold_items)
    train_items = set(split.train["item_id"])
    assert drawn <= train_items and not drawn & set(split.cold_items)
    assert len(drawn) == round(0.25 * len(train_items))
    # the drawn movies left training and validation; their ratings are the cold validation
    assert not drawn & set(carved.train["item_id"]) and not drawn & set(carved.valid["item_id"])
    assert set(carved.test["item_id"]) == drawn
    assert len(carved.train) + len(carved.valid) + len(carved.test) == \
        len(split.train) + len(split.valid)
    # the real cold test ratings appear nowhere
    assert not set(split.cold_items) & set(pd.concat([carved.train, carved.valid,
                                                      carved.test])["item_id"])
    assert carved.is_cold_start and carved.name.endswith("coldvalid-3")
    again = cold_validation_split(split, fraction=0.25, seed=3)
    assert again.cold_items == carved.cold_items
    assert cold_validation_split(split, fraction=0.25, seed=4).cold_items != carved.cold_items
    with pytest.raises(ValueError, match="fraction"):
        cold_validation_split(split, fraction=1.0)
