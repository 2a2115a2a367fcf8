"""The loaded model's movies and entity names, for display and title completion.

Built once per worker from the public fitted attributes of a loaded
:class:`kgrec.Recommender` (``dataset_``: its :class:`~kgrec.data.MovieDataset`; ``kg_``:
its :class:`~kgrec.graph.KnowledgeGraph`) and read-only afterwards, so concurrent
requests share it safely.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kgrec.recommender import Recommender


@dataclass(frozen=True)
class Movie:
    """A movie as the API shows it."""

    item_id: str
    title: str
    year: int | None
    genres: tuple[str, ...]
    popularity: int

    def as_dict(self) -> dict:
        return {"item_id": self.item_id, "title": self.title, "year": self.year,
                "genres": list(self.genres)}


class Catalog:
    """Movies by item id, entity labels, and a title search.

    Args:
        rec: a fitted or loaded recommender.
    """

    def __init__(self, rec: Recommender):
        import pandas as pd

        from kgrec.query import normalize

        dataset = rec.dataset_
        self.labels: dict[str, str] = dict(dataset.labels)
        triples = dataset.triples
        genre_rows = triples[triples["relation"] == "has_genre"]
        genres: dict[str, list[str]] = {}
        for head, tail in zip(genre_rows["head"], genre_rows["tail"]):
            genres.setdefault(head, []).append(self.labels.get(tail, tail.partition(":")[2]))
        counts = dataset.ratings["item_id"].value_counts()
        self.movies: dict[str, Movie] = {}
        for item, title, year in zip(dataset.items["item_id"], dataset.items["title"],
                                     dataset.items["year"]):
            self.movies[item] = Movie(item, str(title), None if pd.isna(year) else int(year),
                                      tuple(sorted(genres.get(f"movie:{item}", ()))),
                                      int(counts.get(item, 0)))
            self.labels.setdefault(f"movie:{item}", str(title))
        self.genres = sorted({g for m in self.movies.values() for g in m.genres})
        # search index: normalised title, most rated movies first
        ranked = sorted(self.movies.values(), key=lambda m: (-m.popularity, m.title))
        self._search = [(normalize(m.title), m) for m in ranked]
        self._normalize = normalize

    def label(self, entity: str) -> str:
        """Readable name of an entity id (``"user:7"`` → ``"user 7"``)."""
        if entity in self.labels:
            return self.labels[entity]
        kind, _, key = entity.partition(":")
        return f"{kind} {key}" if kind in ("user", "decade") else key or entity

    def find(self, movie: str) -> str:
        """Item id of ``movie`` given as an item id, ``movie:ID`` or an exact title (case
        and accents ignored); ``movie`` itself when none matches."""
        bare = movie.partition(":")[2] if movie.startswith("movie:") else movie
        if bare in self.movies:
            return bare
        key = self._normalize(movie)
        return next((m.item_id for k, m in self._search if k == key), movie)

    def search(self, text: str, limit: int) -> list[Movie]:
        """Movies whose title contains ``text`` (case and accents ignored): titles that
        start with it first, then by number of ratings; the most rated movies when
        ``text`` is empty."""
        needle = self._normalize(text)
        if not needle:
            return [m for _, m in self._search[:limit]]
        starts, contains = [], []
        for key, movie in self._search:
            if key.startswith(needle):
                starts.append(movie)
                if len(starts) >= limit:
                    break
            elif needle in key and len(contains) < limit:
                contains.append(movie)
        return (starts + contains)[:limit]
