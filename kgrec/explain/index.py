"""Adjacency of a knowledge graph precomputed for path search (:class:`GraphIndex`).

Everything is a CSR array pair (numpy): ``ptr [rows + 1]`` and the column indices sorted
by (row, column), so the neighbours of row ``r`` are ``cols[ptr[r]:ptr[r + 1]]``.

* **Likes**: user → liked movies (with the rating weight :math:`w(r)`) and movie → users
  who liked it. A rating is a *like* when it is at least the rater's own mean rating
  (``liked="user_mean"``, the default), at least a fixed threshold, or always
  (``liked=None``: every rating is an implicit positive).
* **Content sources**: one :class:`MovieEntityRelation` per movie–entity edge type
  (either storage direction) and one :class:`MovieLink` per movie → movie edge type and
  direction (sequels). Every (relation, entity) pair is a *slot*; ``movie_slots`` lists
  the slots of each movie and ``slot_movies`` the movies of each slot, so the movies that
  share any entity with a movie are two CSR gathers away.
* **Item-side graph**: one undirected adjacency over all non-user nodes, in one global
  numbering (node types one after another), for the longer ``"kg"`` path search; built on
  first use (:attr:`GraphIndex.item_adjacency`), since most requests never search it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from kgrec.arrays import row_pointer, sorted_unique
from kgrec.graph.knowledge_graph import RATED, EdgeType
from kgrec.lazy import built_once

if TYPE_CHECKING:
    from kgrec.graph.knowledge_graph import KnowledgeGraph

__all__ = ["GraphIndex", "MovieEntityRelation", "MovieLink", "csr", "gather", "rarity"]


def _sorted(values: np.ndarray) -> bool:
    return bool(values.size < 2 or (values[1:] >= values[:-1]).all())


def csr(rows: np.ndarray, cols: np.ndarray, n_rows: int, *extra: np.ndarray
        ) -> tuple[np.ndarray, ...]:
    """``(ptr [n_rows + 1], cols sorted by (row, col), *extra in the same order)``.

    Entries already in (row, col) order are kept as they are, and entries ordered by
    column (a transposed CSR, e.g. a movie's raters from the user-sorted ratings) need
    only a stable sort by row: both give the order of the two-key sort, in linear time."""
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    ptr = row_pointer(rows, n_rows)
    if _sorted(rows) and bool(((cols[1:] >= cols[:-1]) | (rows[1:] != rows[:-1])).all()):
        return (ptr, cols, *(np.asarray(e) for e in extra))
    order = np.argsort(rows, kind="stable") if _sorted(cols) else np.lexsort((cols, rows))
    return (ptr, cols[order], *(np.asarray(e)[order] for e in extra))


def gather(ptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of all CSR entries of ``rows`` and, per position, which of ``rows`` (an
    index into ``rows``) it belongs to; each row's entries stay contiguous and in order."""
    starts = ptr[rows]
    lengths = ptr[rows + 1] - starts
    total = int(lengths.sum())
    if total == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    row_of = np.repeat(np.arange(len(rows), dtype=np.int64), lengths)
    offsets = np.cumsum(lengths) - lengths
    positions = np.arange(total, dtype=np.int64) + np.repeat(starts - offsets, lengths)
    return positions, row_of


def rarity(degree: np.ndarray, num_items: int) -> np.ndarray:
    """``log(1 + I / max(degree, 1)) / log(1 + I)``: 1 for an entity of one movie."""
    if num_items <= 1:
        return np.ones(len(degree), dtype=np.float64)
    return np.log1p(num_items / np.maximum(degree, 1)) / math.log1p(num_items)


class MovieEntityRelation:
    """A relation between movies and side entities, usable for content paths: its
    entity → movies CSR and each entity's rarity.

    Attributes:
        edge_type: ``(head type, relation, tail type)`` as in ``kg.edges``.
        relation: the relation name.
        movie_is_head: the movie is the edge's head (``movie -r-> entity``).
        entity_type: node type of the entity end.
        entity_ptr, entity_movies: CSR entity → movies.
        rarity: per entity, :func:`rarity` of its number of movies.
    """

    def __init__(self, edge_type: EdgeType, movie_is_head: bool, index: np.ndarray,
                 num_items: int, num_entities: int):
        self.edge_type = edge_type
        self.relation = edge_type[1]
        self.movie_is_head = movie_is_head
        self.entity_type = edge_type[2] if movie_is_head else edge_type[0]
        movies, entities = (index[0], index[1]) if movie_is_head else (index[1], index[0])
        self.entity_ptr, self.entity_movies = csr(entities, movies, num_entities)
        self.rarity = rarity(np.diff(self.entity_ptr), num_items)


class MovieLink:
    """A movie → movie relation seen from the target movie ``T``: ``incoming`` means the
    edges ``A -r-> T`` (the anchor points at the target), else ``T -r-> A``.

    Attributes:
        ptr, neighbours: CSR target → anchors.
    """

    def __init__(self, edge_type: EdgeType, incoming: bool, index: np.ndarray, num_items: int):
        self.edge_type = edge_type
        self.relation = edge_type[1]
        self.incoming = incoming
        targets, anchors = (index[1], index[0]) if incoming else (index[0], index[1])
        self.ptr, self.neighbours = csr(targets, anchors, num_items)


Source = MovieEntityRelation | MovieLink


class GraphIndex:
    """The CSR structures of one graph (see the module docstring).

    Args:
        kg: the knowledge graph.
        liked: which ratings are likes: ``"user_mean"`` (rating at least the user's own
            mean), a number (rating at least that), or ``None`` (every rating).
    """

    def __init__(self, kg: KnowledgeGraph, liked: str | float | None = "user_mean"):
        if isinstance(liked, str) and liked != "user_mean":
            raise ValueError(f"liked must be 'user_mean', a rating threshold or None, "
                             f"got {liked!r}")
        self.kg = kg
        self.num_items = kg.num_items
        self.num_users = kg.num_users
        self._build_likes(liked)
        self._build_sources()
        self._build_item_graph()

    # -- likes ---------------------------------------------------------------------------
    def _build_likes(self, liked: str | float | None) -> None:
        index = self.kg.edges.get(RATED, np.zeros((2, 0), dtype=np.int64))
        ratings = self.kg.ratings.astype(np.float64)
        users, movies = index[0], index[1]
        lo, hi = (float(ratings.min()), float(ratings.max())) if ratings.size else (1.0, 1.0)
        weight = (ratings - lo + 1.0) / (hi - lo + 1.0)
        totals = np.bincount(users, weights=ratings, minlength=self.num_users)
        #: each user's mean rating [U]
        self.user_mean = totals / np.maximum(np.bincount(users, minlength=self.num_users), 1)
        if liked is None:
            keep = np.ones(len(ratings), dtype=bool)
        elif liked == "user_mean":
            # a small tolerance so that float32 ratings equal to the mean count as liked
            keep = ratings >= self.user_mean[users] - 1e-9
        else:
            keep = ratings >= float(liked)
        #: every rated movie per user (the model's history), CSR user → movies
        self.rated_ptr, self.rated_movies = csr(users, movies, self.num_users)
        self.liked_ptr, self.liked_movies, self.liked_weight = csr(
            users[keep], movies[keep], self.num_users, weight[keep])
        self.liker_ptr, self.likers = csr(movies[keep], users[keep], self.num_items)
        self.num_likers = np.diff(self.liker_ptr)

    # -- content sources -----------------------------------------------------------------
    def _build_sources(self) -> None:
        """Movie–entity relations (both storage directions) and movie–movie links (both
        directions), sorted by relation name; the slot structures."""
        relations: list[MovieEntityRelation] = []
        links: list[MovieLink] = []
        n = self.num_items
        for edge_type, index in self.kg.edges.items():
            src, _, dst = edge_type
            if "user" in (src, dst):
                continue
            if src == "movie" and dst == "movie":
                links.append(MovieLink(edge_type, True, index, n))
                links.append(MovieLink(edge_type, False, index, n))
            elif src == "movie":
                relations.append(MovieEntityRelation(edge_type, True, index, n,
                                                     self.kg.num_nodes(dst)))
            elif dst == "movie":
                relations.append(MovieEntityRelation(edge_type, False, index, n,
                                                     self.kg.num_nodes(src)))
        relations.sort(key=lambda s: (s.relation, s.entity_type, not s.movie_is_head))
        links.sort(key=lambda k: (k.relation, not k.incoming))
        self.links = links
        self.sources: list[Source] = sorted([*relations, *links],
                                            key=lambda s: (s.relation, isinstance(s, MovieLink)))
        self.source_number = {id(s): i for i, s in enumerate(self.sources)}
        names = sorted({s.relation for s in self.sources})
        self.relation_rank = {r: i for i, r in enumerate(names)}
        #: per source (and one extra for "none"): rank of its relation name
        self.source_relation = np.array([self.relation_rank[s.relation] for s in self.sources]
                                        + [0], dtype=np.int64)
        slot_movies, slot_ids, slot_source, slot_entity, slot_rarity = [], [], [], [], []
        n_slots = 0
        for relation in relations:
            degree = np.diff(relation.entity_ptr)
            present = np.flatnonzero(degree)
            local = np.full(len(degree), -1, dtype=np.int64)
            local[present] = n_slots + np.arange(len(present))
            entities = np.repeat(np.arange(len(degree)), degree)
            slot_movies.append(relation.entity_movies)
            slot_ids.append(local[entities])
            slot_source.append(np.full(len(present), self.source_number[id(relation)], np.int64))
            slot_entity.append(present)
            slot_rarity.append(relation.rarity[present])
            n_slots += len(present)

        def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
            return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)

        movies, ids = cat(slot_movies, np.int64), cat(slot_ids, np.int64)
        self.movie_slot_ptr, self.movie_slots = csr(movies, ids, n)
        self.slot_movie_ptr, self.slot_movies = csr(ids, movies, n_slots)
        self.slot_source = cat(slot_source, np.int64)
        self.slot_entity = cat(slot_entity, np.int64)
        self.slot_rarity = cat(slot_rarity, np.float64)

    # -- item-side graph -----------------------------------------------------------------
    def _build_item_graph(self) -> None:
        """The global node numbering (cheap); the adjacency itself is
        :attr:`item_adjacency`, built on first use (only ``"kg"`` path searches need it)."""
        kg = self.kg
        self.node_types = list(kg.nodes)
        sizes = np.array([kg.num_nodes(t) for t in self.node_types], dtype=np.int64)
        self.type_starts = np.concatenate([[0], np.cumsum(sizes)])
        self.offset = {t: int(self.type_starts[i]) for i, t in enumerate(self.node_types)}
        self.num_nodes = int(self.type_starts[-1])
        self.edge_types = [et for et in kg.edges if "user" not in (et[0], et[2])]
        self.source_offsets = np.array(
            [self.offset[s.entity_type] if isinstance(s, MovieEntityRelation) else 0
             for s in self.sources] + [0], dtype=np.int64)

    @built_once
    def item_adjacency(self) -> dict[str, np.ndarray]:
        """The undirected item-side graph in the global numbering, built on first use:
        ``ptr``, ``neighbours`` (sorted by node, neighbour, edge type, forward first),
        ``edge_type`` (index into :attr:`edge_types`), ``forward`` (the stored direction),
        ``degree`` and ``rarity`` (:func:`rarity` of each node's number of distinct movie
        neighbours; 1 for movies). Also readable as ``node_ptr``, ``node_neighbours``,
        ``node_edge_type``, ``node_edge_forward``, ``node_degree``, ``node_rarity``."""
        kg = self.kg
        n_nodes = self.num_nodes
        rows, cols, types, forward = [], [], [], []
        for number, (src, rel, dst) in enumerate(self.edge_types):
            index = kg.edges[(src, rel, dst)]
            heads, tails = index[0] + self.offset[src], index[1] + self.offset[dst]
            rows += [heads, tails]
            cols += [tails, heads]
            types += [np.full(len(heads), number, dtype=np.int64)] * 2
            forward += [np.ones(len(heads), dtype=bool), np.zeros(len(heads), dtype=bool)]
        if rows:
            r, c = np.concatenate(rows), np.concatenate(cols)
            e, f = np.concatenate(types), np.concatenate(forward)
        else:
            r = c = e = np.zeros(0, dtype=np.int64)
            f = np.zeros(0, dtype=bool)
        order = np.lexsort((~f, e, c, r))
        r, c, e, f = r[order], c[order], e[order], f[order]
        ptr = np.zeros(n_nodes + 1, dtype=np.int64)
        np.cumsum(np.bincount(r, minlength=n_nodes), out=ptr[1:])
        movie_lo = self.offset["movie"]
        movie_hi = movie_lo + self.num_items
        width = max(n_nodes, 1)
        pairs = sorted_unique(r * width + c)
        pair_rows, pair_cols = pairs // width, pairs % width
        to_movie = (pair_cols >= movie_lo) & (pair_cols < movie_hi)
        movie_degree = np.bincount(pair_rows[to_movie], minlength=n_nodes)
        node_rarity = rarity(movie_degree, self.num_items)
        node_rarity[movie_lo:movie_hi] = 1.0
        return {"ptr": ptr, "neighbours": c, "edge_type": e, "forward": f,
                "degree": np.diff(ptr), "rarity": node_rarity}

    node_ptr = property(lambda self: self.item_adjacency["ptr"])
    node_neighbours = property(lambda self: self.item_adjacency["neighbours"])
    node_edge_type = property(lambda self: self.item_adjacency["edge_type"])
    node_edge_forward = property(lambda self: self.item_adjacency["forward"])
    node_degree = property(lambda self: self.item_adjacency["degree"])
    node_rarity = property(lambda self: self.item_adjacency["rarity"])

    def node_entity(self, node: int) -> str:
        """Entity id of a node of the global numbering."""
        t = int(np.searchsorted(self.type_starts, node, side="right")) - 1
        return self.kg.nodes[self.node_types[t]][node - int(self.type_starts[t])]
