"""Typed, validated recommendation filters.

The public API takes a plain mapping, ``{"genres": [...], "min_year": int, "max_year":
int, "exclude": [item ids]}``; :meth:`Filters.parse` checks it once, at the boundary, with
errors naming the key at fault. A single string where a list is expected is one value
(``{"genres": "Crime"}`` is the genre Crime, ``{"exclude": "123"}`` the movie ``123``),
never a sequence of characters.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from kgrec.serve.catalog import Catalog

#: The keys a filters mapping may have.
FILTER_KEYS = ("genres", "min_year", "max_year", "exclude")


def _strings(value: Any, name: str) -> tuple[str, ...]:
    """One string, or an iterable of strings / integers, as a tuple of strings."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (bytes, Mapping)) or not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a string or a list of strings, got "
                        f"{type(value).__name__}")
    out = []
    for i, v in enumerate(value):
        if isinstance(v, bool) or not isinstance(v, (str, numbers.Integral)):
            raise TypeError(f"{name}[{i}] must be a string, got {type(v).__name__} {v!r}")
        out.append(str(v))
    return tuple(out)


def _year(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be an integer year, got {type(value).__name__} {value!r}")
    if not math.isfinite(value) or value != int(value):
        raise ValueError(f"{name} must be an integer year, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class Filters:
    """Hard constraints of one request.

    Attributes:
        genres: genre entity ids; a movie must have at least one (empty: any).
        min_year, max_year: inclusive release-year bounds; with ``max_year`` movies of
            unknown year are dropped, with ``min_year`` too.
        exclude: bare item ids never recommended.
    """

    genres: tuple[str, ...] = ()
    min_year: int | None = None
    max_year: int | None = None
    exclude: tuple[str, ...] = ()

    @classmethod
    def parse(cls, filters: Mapping[str, Any] | Filters | None, catalog: Catalog) -> Filters:
        """Validate a filters mapping against ``catalog``.

        Raises:
            ValueError: an unknown key, or a non-integral or inverted year bound.
            TypeError: a value of the wrong type (naming ``filters['key']``).
            KeyError: an unknown genre or item id (naming it).
        """
        if filters is None:
            return cls()
        if isinstance(filters, Filters):
            return filters
        if not isinstance(filters, Mapping):
            raise TypeError(f"filters must be a dict with keys {list(FILTER_KEYS)}, got "
                            f"{type(filters).__name__}")
        unknown = sorted(set(filters) - set(FILTER_KEYS), key=str)
        if unknown:
            raise ValueError(f"unknown filters {unknown}; valid filters: {list(FILTER_KEYS)}")
        genres = []
        for g in _strings(filters.get("genres"), "filters['genres']"):
            entity = g if g.startswith("genre:") else f"genre:{g}"
            if entity not in catalog.genres:
                names = sorted(catalog.kg.labels.get(k, k) for k in catalog.genres)
                raise KeyError(f"filters['genres']: unknown genre {g!r}; genres: {names}")
            genres.append(entity)
        exclude = _strings(filters.get("exclude"), "filters['exclude']")
        for item in exclude:
            if not catalog.kg.has(f"movie:{item}"):
                raise KeyError(f"filters['exclude']: unknown item id {item!r}")
        lo = _year(filters.get("min_year"), "filters['min_year']")
        hi = _year(filters.get("max_year"), "filters['max_year']")
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"filters: min_year {lo} is after max_year {hi}")
        return cls(tuple(genres), lo, hi, exclude)

    def __bool__(self) -> bool:
        return bool(self.genres or self.exclude) or self.min_year is not None \
            or self.max_year is not None

    def apply(self, scores: torch.Tensor, catalog: Catalog) -> None:
        """Set the scores ``[I]`` (or ``[B, I]``) of filtered-out movies to ``-inf``."""
        if not self:
            return
        drop = torch.zeros(catalog.num_items, dtype=torch.bool)
        if self.genres:
            keep = torch.zeros(catalog.num_items, dtype=torch.bool)
            for genre in self.genres:
                keep[torch.from_numpy(catalog.genre_movies(genre))] = True
            drop |= ~keep
        years = torch.from_numpy(catalog.years)
        if self.min_year is not None:
            drop |= years < self.min_year
        if self.max_year is not None:
            drop |= (years > self.max_year) | (years <= 0)
        for item in self.exclude:
            drop[catalog.kg.item_index(item)] = True
        scores[..., drop] = -torch.inf
