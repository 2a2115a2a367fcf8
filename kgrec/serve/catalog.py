"""The movies as a request sees them: titles, years and KG links, built once per model.

A :class:`Catalog` is read-only after construction, so concurrent requests share it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from kgrec.arrays import row_pointer, sorted_unique
from kgrec.graph.knowledge_graph import KnowledgeGraph

_EMPTY = np.array([], dtype=np.int64)


@dataclass(frozen=True)
class Catalog:
    """Per-movie display fields and the movie → entity links of a knowledge graph.

    Attributes:
        kg: the training graph (its movie index is the catalogue's index).
        item_ids, titles: bare item id and title per movie index.
        years: ``[I]`` int64 release years, ``-1`` when unknown.
        links: binary ``[I, C]`` CSC matrix, one column per (relation, entity) pair.
        relations, entities: the relation and entity id of each column.
    """

    kg: KnowledgeGraph
    item_ids: tuple[str, ...]
    titles: tuple[str, ...]
    years: np.ndarray
    links: sp.csc_matrix
    relations: tuple[str, ...]
    entities: tuple[str, ...]
    #: entity id → its group number (entities numbered in the order of their first column)
    _group: dict[str, int]
    #: CSR group → its columns of :attr:`links` (ascending): ``(ptr, columns)``
    _group_columns: tuple[np.ndarray, np.ndarray]
    #: CSR group → the movies any of its columns links (sorted, distinct)
    _group_movies: tuple[np.ndarray, np.ndarray]
    #: genre entity → group, for the entities with a ``has_genre`` column
    _genres: dict[str, int]

    @classmethod
    def build(cls, kg: KnowledgeGraph, items: pd.DataFrame, item_years: np.ndarray) -> Catalog:
        """From the graph, the dataset's ``items`` table (titles) and ``[I]`` years
        (vectorised: no Python loop over the entities)."""
        matrix, ids = kg.item_entity_matrix()
        links = matrix.tocsc()
        relations = tuple(i.partition("|")[0] for i in ids)
        entities = tuple(i.partition("|")[2] for i in ids)
        codes, uniques = pd.factorize(np.asarray(entities, dtype=object))
        codes = codes.astype(np.int64)
        n_groups = len(uniques)
        group_columns = (row_pointer(codes, n_groups), np.argsort(codes, kind="stable"))
        column_of = np.repeat(np.arange(len(entities), dtype=np.int64), np.diff(links.indptr))
        pairs = sorted_unique(codes[column_of] * max(kg.num_items, 1) + links.indices)
        groups, movies = np.divmod(pairs, max(kg.num_items, 1))
        group = dict(zip(uniques.tolist(), range(n_groups)))
        is_genre = np.array([r == "has_genre" for r in relations], dtype=bool)
        genre_groups = sorted_unique(codes[is_genre])
        genres = {str(uniques[g]): int(g) for g in genre_groups}
        titles = items.set_index("item_id")["title"].reindex(kg.item_ids)
        return cls(kg, tuple(kg.item_ids), tuple("" if pd.isna(t) else str(t) for t in titles),
                   np.asarray(item_years, dtype=np.int64), links, relations, entities,
                   group, group_columns, (row_pointer(groups, n_groups), movies.astype(np.int64)),
                   genres)

    @property
    def num_items(self) -> int:
        return len(self.item_ids)

    def year(self, item: int) -> int | None:
        """Release year of movie index ``item`` (``None`` when unknown)."""
        year = int(self.years[item])
        return year if year > 0 else None

    def _movies_of_group(self, group: int | None) -> np.ndarray:
        if group is None:
            return _EMPTY
        ptr, movies = self._group_movies
        return movies[ptr[group]:ptr[group + 1]]

    def movies_of(self, entity: str) -> np.ndarray:
        """Movie indices linked to ``entity`` by any relation (sorted; empty if none)."""
        return self._movies_of_group(self._group.get(entity))

    def genre_movies(self, genre: str) -> np.ndarray:
        """Movie indices of genre entity ``genre`` (an entity with ``has_genre`` edges:
        the movies any relation links it to)."""
        return self._movies_of_group(self._genres.get(genre))

    @property
    def genres(self) -> tuple[str, ...]:
        """Genre entity ids that have movies."""
        return tuple(self._genres)

    def link(self, item: int, entity: str) -> tuple[str, int] | None:
        """The first relation (in the graph's edge-type order) linking movie ``item`` to
        ``entity``, with the number of movies that relation links to ``entity``."""
        group = self._group.get(entity)
        ptr, columns = self._group_columns
        for j in (() if group is None else columns[ptr[group]:ptr[group + 1]].tolist()):
            lo, hi = self.links.indptr[j], self.links.indptr[j + 1]
            rows = self.links.indices[lo:hi]
            if np.any(rows == item):
                return self.relations[j], int(hi - lo)
        return None

    def entity_matrix(self, relations: tuple[str, ...]) -> sp.csr_matrix:
        """Binary ``[I, E]`` movie → entity matrix over ``relations`` (the columns of
        :attr:`links` with one of them)."""
        cols = [j for j, r in enumerate(self.relations) if r in relations]
        return self.links[:, cols].tocsr()

    def decade_mask(self, decades: list[int]) -> torch.Tensor:
        """``[I]`` bool: movies released in one of ``decades`` (``1990`` = the 1990s)."""
        known = self.years > 0
        return torch.from_numpy(known & np.isin(self.years // 10 * 10, decades))
