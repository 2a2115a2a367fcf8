"""Train/validation/test splits of a ratings table.

Every split is a :class:`Split` of three ratings DataFrames (same columns as
``MovieDataset.ratings``) and, for cold-start splits, the held-out item ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from kgrec.data.dataset import RATING_COLUMNS, DataError, empty_ratings


@dataclass
class Split:
    """Three disjoint parts of a ratings table.

    Attributes:
        train, valid, test: ratings DataFrames (``user_id``, ``item_id``, ``rating``,
            ``timestamp``).
        cold_items: item ids that appear only in ``test`` (cold-start protocol: the test
            ranking is over these items only). Empty for warm splits.
        name: where the split came from, for reports.
    """

    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    cold_items: list[str] = field(default_factory=list)
    name: str = "split"

    @property
    def is_cold_start(self) -> bool:
        return bool(self.cold_items)

    def __repr__(self) -> str:  # pragma: no cover - cosmetic
        cold = f", cold_items={len(self.cold_items)}" if self.cold_items else ""
        return (f"Split({self.name!r}: train={len(self.train):,}, valid={len(self.valid):,}, "
                f"test={len(self.test):,}{cold})")


def _check_ratios(ratios: tuple[float, float, float]) -> tuple[float, float, float]:
    if len(ratios) != 3 or any(r < 0 for r in ratios) or not np.isclose(sum(ratios), 1.0):
        raise ValueError(f"ratios must be three non-negative numbers summing to 1, got {ratios}")
    return ratios


def _assign(ratings: pd.DataFrame, order: np.ndarray, ratios: tuple[float, float, float],
            name: str) -> Split:
    """Cut each user's rows (in ``order``) into train/valid/test by ``ratios``."""
    df = ratings.iloc[order].reset_index(drop=True)
    position = df.groupby("user_id", sort=False).cumcount().to_numpy()
    counts = df.groupby("user_id", sort=False)["item_id"].transform("size").to_numpy()
    n_train = np.maximum(1, np.rint(counts * ratios[0])).astype(int)
    n_valid = np.minimum(counts - n_train, np.rint(counts * ratios[1])).astype(int)
    part = np.where(position < n_train, 0, np.where(position < n_train + n_valid, 1, 2))
    return Split(df[part == 0].reset_index(drop=True), df[part == 1].reset_index(drop=True),
                 df[part == 2].reset_index(drop=True), name=name)


def random_split(ratings: pd.DataFrame, ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
                 *, seed: int = 0) -> Split:
    """Per-user seeded random split: each user's ratings are shuffled and cut by ``ratios``."""
    ratios = _check_ratios(tuple(ratios))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(ratings))
    # stable sort by user keeps the random order within each user
    order = order[np.argsort(ratings["user_id"].to_numpy()[order], kind="stable")]
    return _assign(ratings, order, ratios, f"random-{seed}")


def temporal_split(ratings: pd.DataFrame, ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
                   ) -> Split:
    """Per-user temporal split: each user's oldest ratings train, the newest test."""
    ratios = _check_ratios(tuple(ratios))
    order = np.lexsort((ratings["timestamp"].to_numpy(), ratings["user_id"].to_numpy()))
    return _assign(ratings, order, ratios, "temporal")


def cold_start_split(ratings: pd.DataFrame, *, cold_fraction: float = 0.2, valid_ratio: float = 0.1,
                     seed: int = 0) -> Split:
    """Hold out whole items: every rating of a cold item goes to test.

    A seeded ``cold_fraction`` of the rated items is cold; the ratings of the remaining
    items are cut per user into train and valid (``1 - valid_ratio`` / ``valid_ratio``).
    """
    if not 0 < cold_fraction < 1:
        raise ValueError(f"cold_fraction must be in (0, 1), got {cold_fraction}")
    rng = np.random.default_rng(seed)
    items = np.sort(ratings["item_id"].unique())
    n_cold = max(1, int(round(len(items) * cold_fraction)))
    cold = set(rng.choice(items, size=n_cold, replace=False).tolist())
    is_cold = ratings["item_id"].isin(cold).to_numpy()
    warm = random_split(ratings[~is_cold].reset_index(drop=True),
                        (1 - valid_ratio, valid_ratio, 0.0), seed=seed)
    test = ratings[is_cold].reset_index(drop=True)
    train = pd.concat([warm.train, warm.test], ignore_index=True)  # rounding leftovers
    return Split(train, warm.valid, test, cold_items=sorted(cold), name=f"cold-items-{seed}")


def cold_validation_split(split: Split, *, fraction: float = 0.2, seed: int = 0) -> Split:
    """Carve cold *validation* movies out of the training movies, for honest selection.

    A cold-start model's settings must be chosen on movies it has never seen rated, but a
    cold-start split's ``valid`` holds warm movies only and its ``test`` is for reporting.
    This draws a seeded ``fraction`` of the movies rated in ``split.train`` (never one of
    ``split.cold_items``); every train and valid rating of a drawn movie moves to the
    returned split's ``test`` part, so the drawn movies leave the training graph:

    - ``train``: ``split.train`` without the drawn movies' ratings;
    - ``valid``: ``split.valid`` without them (warm validation, e.g. for early stopping);
    - ``test``: the drawn movies' ratings: the **cold validation** set (ranked among
      ``cold_items``, the drawn movies, by the usual cold-start protocol);
    - ``split.test`` (the real cold test ratings) is left out entirely.

    Written with :func:`write_split`, the result is a cold-start split folder, so a
    benchmark run on it is a validation run. With ``fraction=0.2`` the carved movies are
    about as many, relative to the catalogue, as ``cold_start_split``'s default 20%.

    Args:
        split: a split whose ``train`` is carved (typically a cold-start split).
        fraction: share of the training movies to carve, in ``(0, 1)``.
        seed: seed of the draw.

    Returns:
        A :class:`Split` named ``"<name>-coldvalid-<seed>"``.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    excluded = set(map(str, split.cold_items))
    items = np.sort([i for i in split.train["item_id"].astype(str).unique() if i not in excluded])
    if len(items) < 2:
        raise ValueError(f"split {split.name!r} has {len(items)} training movies: too few to carve")
    n = min(len(items) - 1, max(1, int(round(len(items) * fraction))))
    carved = set(np.random.default_rng(seed).choice(items, size=n, replace=False).tolist())
    in_train = split.train["item_id"].astype(str).isin(carved).to_numpy()
    in_valid = split.valid["item_id"].astype(str).isin(carved).to_numpy()
    cold_valid = pd.concat([split.train[in_train], split.valid[in_valid]], ignore_index=True)
    return Split(split.train[~in_train].reset_index(drop=True),
                 split.valid[~in_valid].reset_index(drop=True), cold_valid,
                 cold_items=sorted(carved), name=f"{split.name}-coldvalid-{seed}")


def _read_part(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise DataError("split file not found", path=path)
    try:
        df = pd.read_csv(path, sep="\t", dtype={"user_id": str, "item_id": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot parse split file: {exc}", path=path) from exc
    missing = [c for c in RATING_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"header lacks {missing}; expected 'user_id item_id rating timestamp' "
                        "(TAB-separated)", path=path, line=1)
    for column in ("rating", "timestamp"):
        values = pd.to_numeric(df[column], errors="coerce")
        bad = values.isna().to_numpy().nonzero()[0]
        if len(bad):
            raise DataError(f"unparsable {column} {df[column].iloc[bad[0]]!r}", path=path,
                            line=int(bad[0]) + 2)
        df[column] = values
    if df.empty:
        return empty_ratings()
    return df.loc[:, list(RATING_COLUMNS)].astype({"rating": float, "timestamp": np.int64})


def read_split(folder: str | Path) -> Split:
    """Read a fixed split from ``train.tsv``/``valid.tsv``/``test.tsv`` in ``folder``.

    The files are TAB-separated with header ``user_id item_id rating timestamp`` (the format
    of ``shared/benchmarks/``). An optional ``cold_items.tsv`` (header ``item_id``) marks a
    cold-start split.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError("split folder not found (expected train.tsv, valid.tsv, test.tsv)",
                        path=folder)
    parts = [_read_part(folder / f"{part}.tsv") for part in ("train", "valid", "test")]
    cold: list[str] = []
    cold_path = folder / "cold_items.tsv"
    if cold_path.exists():
        cold_df = pd.read_csv(cold_path, sep="\t", dtype=str)
        if "item_id" not in cold_df.columns:
            raise DataError("header must be 'item_id'", path=cold_path, line=1)
        cold = cold_df["item_id"].tolist()
    return Split(*parts, cold_items=cold, name=folder.name)


def write_split(split: Split, folder: str | Path) -> None:
    """Write a split in the format :func:`read_split` reads (atomically per file)."""
    from kgrec.io import atomic_write_text

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for part in ("train", "valid", "test"):
        atomic_write_text(folder / f"{part}.tsv",
                          getattr(split, part).to_csv(sep="\t", index=False))
    if split.cold_items:
        atomic_write_text(folder / "cold_items.tsv",
                          "item_id\n" + "".join(f"{i}\n" for i in split.cold_items))
