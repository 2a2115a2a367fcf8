"""The one schema every source is read into: :class:`MovieDataset`.

Entity ids are typed strings ``"<type>:<key>"``: ``movie:1``, ``person:Quentin Tarantino``,
``genre:Crime``, ``country:USA``, ``tag:42``, ``user:7``. Item ids and user ids in the
``items``/``ratings`` tables are the bare source keys (``"1"``, ``"7"``); :func:`movie_id`
and :func:`user_id` give their entity ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

ITEM_COLUMNS = ("item_id", "title", "year", "text")
RATING_COLUMNS = ("user_id", "item_id", "rating", "timestamp")
TRIPLE_COLUMNS = ("head", "relation", "tail")

#: Relations between a movie (head) and side-information entities (tail) that kgrec knows
#: how to name in explanations. Sources may add others.
KNOWN_RELATIONS = {
    "directed_by": "person",
    "starring": "person",
    "written_by": "person",
    "produced_by": "person",
    "has_genre": "genre",
    "from_country": "country",
    "has_tag": "tag",
    "in_language": "language",
}


_PLURALS = {"country": "countries", "entity": "entities", "person": "persons"}


class DataError(ValueError):
    """Malformed input: the message names the file and, where known, the line."""

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None):
        where = ""
        if path is not None:
            where = f"{path}"
            if line is not None:
                where += f", line {line}"
            where += ": "
        super().__init__(where + message)
        self.path = None if path is None else Path(path)
        self.line = line


def movie_id(item_id: str) -> str:
    """Entity id of a movie from its bare item id (``"1"`` → ``"movie:1"``)."""
    return f"movie:{item_id}"


def user_id(user: str) -> str:
    """Entity id of a user from its bare user id (``"7"`` → ``"user:7"``)."""
    return f"user:{user}"


def entity_type(entity: str) -> str:
    """Type prefix of an entity id (``"person:Quentin Tarantino"`` → ``"person"``)."""
    kind, sep, _ = entity.partition(":")
    if not sep or not kind:
        raise ValueError(f"entity id {entity!r} has no type prefix (expected 'type:key')")
    return kind


def entity_key(entity: str) -> str:
    """The part of an entity id after its type prefix."""
    return entity.partition(":")[2]


@dataclass
class MovieDataset:
    """Movies, their ratings and side information, in one validated schema.

    Attributes:
        name: Source name (``"sample"``, ``"ml-100k"``, a folder path, ...).
        items: One row per movie: ``item_id`` (str, unique), ``title`` (str), ``year``
            (nullable ``Int64``), ``text`` (str, description or ``""``).
        ratings: ``user_id`` (str), ``item_id`` (str, present in ``items``), ``rating``
            (float), ``timestamp`` (int64). One row per (user, item).
        triples: ``head``, ``relation``, ``tail``: typed entity ids, e.g.
            (``movie:1``, ``directed_by``, ``person:John Lasseter``).
        labels: Human-readable label per entity id (movies, people, genres, ...). Entities
            with no label (e.g. Freebase ids) are simply absent.
        notes: What the loader decided on the caller's behalf (e.g. "interactions are
            user-tag assignments"), shown by ``kgrec data`` and ``build-graph``.
    """

    name: str
    items: pd.DataFrame
    ratings: pd.DataFrame
    triples: pd.DataFrame = field(default_factory=lambda: empty_triples())
    labels: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for column in ITEM_COLUMNS:
            if column not in self.items.columns:
                raise DataError(f"items table of dataset {self.name!r} lacks column {column!r}")
        for column in RATING_COLUMNS:
            if column not in self.ratings.columns:
                raise DataError(f"ratings table of dataset {self.name!r} lacks column {column!r}")
        for column in TRIPLE_COLUMNS:
            if column not in self.triples.columns:
                raise DataError(f"triples table of dataset {self.name!r} lacks column {column!r}")
        self.items = self.items.loc[:, list(ITEM_COLUMNS)].reset_index(drop=True)
        self.ratings = self.ratings.loc[:, list(RATING_COLUMNS)].reset_index(drop=True)
        self.triples = self.triples.loc[:, list(TRIPLE_COLUMNS)].reset_index(drop=True)
        self.items["item_id"] = self.items["item_id"].astype(str)
        self.items["year"] = self.items["year"].astype("Int64")
        self.items["text"] = self.items["text"].fillna("").astype(str)
        self.ratings["user_id"] = self.ratings["user_id"].astype(str)
        self.ratings["item_id"] = self.ratings["item_id"].astype(str)
        self.ratings["rating"] = self.ratings["rating"].astype(float)
        self.ratings["timestamp"] = self.ratings["timestamp"].astype(np.int64)
        for item, title in zip(self.items["item_id"].tolist(), self.items["title"].tolist()):
            self.labels.setdefault(movie_id(item), str(title))

    # -- convenience views -------------------------------------------------------------
    @property
    def num_items(self) -> int:
        return len(self.items)

    @property
    def num_users(self) -> int:
        return int(self.ratings["user_id"].nunique())

    @property
    def num_ratings(self) -> int:
        return len(self.ratings)

    def entities(self, kind: str) -> list[str]:
        """Sorted distinct entity ids of one type that occur in the triples."""
        values = pd.concat([self.triples["head"], self.triples["tail"]]).unique()
        prefix = kind + ":"
        return sorted(v for v in values if v.startswith(prefix))

    def label(self, entity: str) -> str | None:
        """Human label of an entity id, or ``None`` when the source gives none."""
        return self.labels.get(entity)

    def summary(self) -> dict[str, int]:
        """Counts per table and entity type, for ``kgrec data`` and logs."""
        out = {"users": self.num_users, "movies": self.num_items, "ratings": self.num_ratings,
               "triples": len(self.triples)}
        tails = self.triples["tail"].drop_duplicates()
        kinds = tails.str.partition(":")[0]
        for kind, count in kinds.value_counts().sort_index().items():
            if kind != "movie":
                out[_PLURALS.get(kind, kind if kind.endswith("s") else f"{kind}s")] = int(count)
        return out

    def __repr__(self) -> str:  # pragma: no cover - cosmetic
        parts = ", ".join(f"{k}={v:,}" for k, v in self.summary().items())
        return f"MovieDataset({self.name!r}: {parts})"


def empty_triples() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=str) for c in TRIPLE_COLUMNS})


def empty_ratings() -> pd.DataFrame:
    return pd.DataFrame({"user_id": pd.Series(dtype=str), "item_id": pd.Series(dtype=str),
                         "rating": pd.Series(dtype=float), "timestamp": pd.Series(dtype=np.int64)})
