"""The movie knowledge graph: one node index per node type, typed edge lists, labels.

:class:`KnowledgeGraph` is built from a :class:`~kgrec.data.MovieDataset` and the
*training* interactions only, and exports views (networkx, rdflib, PyG) instead of owning
three copies. Its node vocabulary is shared by every split: users and movies of the whole
dataset get an index, but ``rated`` edges come only from the interactions passed in, so a
graph built from a training split holds no validation or test interaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from kgrec.data.dataset import MovieDataset, entity_key, entity_type, movie_id, user_id
from kgrec.graph.schema import RATED, EdgeType

if TYPE_CHECKING:  # heavy imports stay lazy
    import networkx as nx
    import rdflib
    import scipy.sparse as sp
    from torch_geometric.data import HeteroData

__all__ = ["RATED", "EdgeType", "GraphStats", "KnowledgeGraph"]


@dataclass(frozen=True)
class GraphStats:
    """Node counts per type and edge counts per edge type."""

    nodes: dict[str, int]
    edges: dict[EdgeType, int]

    def table(self) -> str:
        """Plain-text table, as printed by ``kgrec build-graph``."""
        rows = [("node type", "count")] + [(k, f"{v:,}") for k, v in self.nodes.items()]
        rows += [("", ""), ("edge type", "count")]
        rows += [(f"{s} -{r}-> {d}", f"{v:,}") for (s, r, d), v in self.edges.items()]
        width = max(len(a) for a, _ in rows)
        return "\n".join(f"{a:<{width}}  {b:>10}" if a else "" for a, b in rows)


class KnowledgeGraph:
    """Typed nodes and edges of the movie knowledge graph.

    Args:
        nodes: node type → entity ids, in index order (index ``i`` of type ``t`` is
            ``nodes[t][i]``).
        edges: edge type ``(src_type, relation, dst_type)`` → ``int64`` array of shape
            ``[2, num_edges]`` (row 0 source indices, row 1 destination indices), no
            duplicates.
        labels: entity id → human-readable label (entities without one are absent).
        ratings: rating value of each ``("user", "rated", "movie")`` edge, aligned with
            ``edges[RATED]``.
    """

    def __init__(self, nodes: dict[str, list[str]], edges: dict[EdgeType, np.ndarray],
                 labels: dict[str, str] | None = None, ratings: np.ndarray | None = None):
        self.nodes = {t: list(ids) for t, ids in nodes.items()}
        self._index = {t: {e: i for i, e in enumerate(ids)} for t, ids in self.nodes.items()}
        self.edges = {k: np.asarray(v, dtype=np.int64).reshape(2, -1) for k, v in edges.items()}
        self.labels = dict(labels or {})
        n_rated = self.edges.get(RATED, np.zeros((2, 0))).shape[1]
        self.ratings = (np.ones(n_rated, dtype=np.float32) if ratings is None
                        else np.asarray(ratings, dtype=np.float32))
        if len(self.ratings) != n_rated:
            raise ValueError(f"{len(self.ratings)} ratings for {n_rated} rated edges")
        for (src, rel, dst), index in self.edges.items():
            for kind, row in ((src, index[0]), (dst, index[1])):
                if kind not in self.nodes:
                    raise ValueError(f"edge type {(src, rel, dst)} uses unknown node type {kind!r}")
                if row.size and (row.min() < 0 or row.max() >= len(self.nodes[kind])):
                    raise ValueError(f"edge type {(src, rel, dst)} has an index out of range")

    # -- construction ------------------------------------------------------------------
    @classmethod
    def from_dataset(cls, dataset: MovieDataset, interactions: pd.DataFrame | None = None, *,
                     min_rating: float | None = None) -> KnowledgeGraph:
        """Build the graph of ``dataset`` with ``rated`` edges from ``interactions``.

        Args:
            dataset: movies, side-information triples, labels, and (for the user
                vocabulary) ratings.
            interactions: the ratings that may enter the graph, normally a training split;
                default ``dataset.ratings`` (all of them: only for graphs that are not
                evaluated).
            min_rating: keep only interactions with ``rating >= min_rating`` as edges
                (default: keep all, every rating is an implicit positive).
        """
        if interactions is None:
            interactions = dataset.ratings
        if min_rating is not None:
            interactions = interactions[interactions["rating"] >= min_rating]
        known_items = set(dataset.items["item_id"])
        unknown = ~interactions["item_id"].astype(str).isin(known_items)
        if unknown.any():
            bad = interactions["item_id"][unknown].iloc[0]
            raise ValueError(f"interaction with item_id {bad!r}, which is not in dataset "
                             f"{dataset.name!r} ({int(unknown.sum())} such rows)")
        users = pd.unique(pd.concat([dataset.ratings["user_id"], interactions["user_id"]])
                          .astype(str))
        nodes: dict[str, list[str]] = {
            "user": [user_id(u) for u in users],
            "movie": [movie_id(i) for i in dataset.items["item_id"]],
        }
        triples = dataset.triples.drop_duplicates()
        heads = triples["head"].to_numpy(dtype=object)
        tails = triples["tail"].to_numpy(dtype=object)
        head_types = triples["head"].str.split(":", n=1).str[0].to_numpy(dtype=object)
        tail_types = triples["tail"].str.split(":", n=1).str[0].to_numpy(dtype=object)
        for kind in sorted(set(head_types) | set(tail_types)):
            if kind in ("user", "movie"):
                continue
            ents = pd.unique(np.concatenate([heads[head_types == kind], tails[tail_types == kind]]))
            nodes[kind] = sorted(ents)
        index = {t: pd.Index(ids) for t, ids in nodes.items()}
        missing_movies = set(heads[head_types == "movie"]) | set(tails[tail_types == "movie"])
        missing_movies -= set(nodes["movie"])
        if missing_movies:
            raise ValueError(f"triples mention movies not in the items table, e.g. "
                             f"{sorted(missing_movies)[0]!r}")

        edges: dict[EdgeType, np.ndarray] = {}
        inter = interactions.drop_duplicates(["user_id", "item_id"], keep="last")
        u = index["user"].get_indexer([user_id(x) for x in inter["user_id"].astype(str)])
        m = index["movie"].get_indexer([movie_id(x) for x in inter["item_id"].astype(str)])
        order = np.lexsort((m, u))
        edges[RATED] = np.stack([u[order], m[order]]).astype(np.int64)
        ratings = inter["rating"].to_numpy(dtype=np.float32)[order]

        keys = pd.DataFrame({"ht": head_types, "rel": triples["relation"].to_numpy(dtype=object),
                             "tt": tail_types})
        for (ht, rel, tt), group in keys.groupby(["ht", "rel", "tt"], sort=True):
            rows = group.index.to_numpy()
            src = index[ht].get_indexer(heads[rows])
            dst = index[tt].get_indexer(tails[rows])
            order = np.lexsort((dst, src))
            edges[(ht, rel, tt)] = np.stack([src[order], dst[order]]).astype(np.int64)

        labels = {e: lab for e, lab in dataset.labels.items()}
        return cls(nodes, edges, labels, ratings)

    # -- vocabulary --------------------------------------------------------------------
    @property
    def node_types(self) -> list[str]:
        return list(self.nodes)

    @property
    def edge_types(self) -> list[EdgeType]:
        return list(self.edges)

    def num_nodes(self, kind: str) -> int:
        return len(self.nodes.get(kind, ()))

    @property
    def num_users(self) -> int:
        return self.num_nodes("user")

    @property
    def num_items(self) -> int:
        return self.num_nodes("movie")

    @property
    def item_ids(self) -> list[str]:
        """Bare item ids in movie-index order."""
        return [entity_key(e) for e in self.nodes["movie"]]

    @property
    def user_ids(self) -> list[str]:
        """Bare user ids in user-index order."""
        return [entity_key(e) for e in self.nodes["user"]]

    def has(self, entity: str) -> bool:
        kind = entity.partition(":")[0]
        return entity in self._index.get(kind, {})

    def index(self, entity: str) -> int:
        """Index of an entity id within its node type; ``KeyError`` naming it if absent."""
        kind = entity_type(entity)
        try:
            return self._index[kind][entity]
        except KeyError:
            raise KeyError(f"{entity!r} is not a node of this graph") from None

    def entity(self, kind: str, idx: int) -> str:
        return self.nodes[kind][idx]

    def user_index(self, user: str) -> int:
        """Index of a bare user id."""
        return self.index(user_id(str(user)))

    def item_index(self, item: str) -> int:
        """Index of a bare item id."""
        return self.index(movie_id(str(item)))

    def label(self, entity: str) -> str | None:
        return self.labels.get(entity)

    def user_items(self) -> list[np.ndarray]:
        """Per user index, the movie indices they rated in this graph (sorted)."""
        u, m = self.edges[RATED]
        bounds = np.searchsorted(u, np.arange(self.num_users + 1))
        return [m[bounds[i]:bounds[i + 1]] for i in range(self.num_users)]

    def interaction_matrix(self) -> sp.csr_matrix:
        """Binary ``[num_users, num_items]`` CSR matrix of the ``rated`` edges."""
        import scipy.sparse as sp

        u, m = self.edges[RATED]
        data = np.ones(len(u), dtype=np.float32)
        return sp.csr_matrix((data, (u, m)), shape=(self.num_users, self.num_items))

    def item_entity_matrix(self, relations: tuple[str, ...] = ()
                           ) -> tuple[sp.csr_matrix, list[str]]:
        """Binary ``[num_items, E]`` matrix of movie → side-entity edges over the KG
        relations (all when ``relations`` is empty) and its column ids
        ``"<relation>|<entity id>"``; entities linked to no movie are dropped."""
        import scipy.sparse as sp

        rows, cols, entities = [], [], []
        offset = 0
        for (src, rel, dst), index in self.edges.items():
            if src != "movie" or dst in ("movie", "user") or (relations and rel not in relations):
                continue
            rows.append(index[0])
            cols.append(index[1] + offset)
            entities.extend(f"{rel}|{e}" for e in self.nodes[dst])
            offset += self.num_nodes(dst)
        if not rows:
            return sp.csr_matrix((self.num_items, 0), dtype=np.float32), []
        r, c = np.concatenate(rows), np.concatenate(cols)
        matrix = sp.csr_matrix((np.ones(len(r), np.float32), (r, c)),
                               shape=(self.num_items, offset))
        used = np.flatnonzero(np.asarray(matrix.sum(0)).ravel() > 0)
        return matrix[:, used].tocsr(), [entities[j] for j in used]

    def stats(self) -> GraphStats:
        return GraphStats({t: len(ids) for t, ids in self.nodes.items()},
                          {k: int(v.shape[1]) for k, v in self.edges.items()})

    def __repr__(self) -> str:
        nodes = ", ".join(f"{t}={len(ids):,}" for t, ids in self.nodes.items())
        n_edges = sum(v.shape[1] for v in self.edges.values())
        return f"KnowledgeGraph({nodes}; {n_edges:,} edges in {len(self.edges)} types)"

    # -- views -------------------------------------------------------------------------
    def to_networkx(self) -> nx.MultiDiGraph:
        """``MultiDiGraph`` over entity ids: node attributes ``type`` and ``label``, edge
        attribute ``relation`` (and ``rating`` on ``rated`` edges)."""
        from kgrec.graph.views import to_networkx

        return to_networkx(self)

    def to_rdf(self) -> rdflib.Graph:
        """rdflib ``Graph`` using schema.org terms where they fit (see
        :mod:`kgrec.graph.rdf`)."""
        from kgrec.graph.rdf import to_rdf

        return to_rdf(self)

    def to_hetero_data(self, *, reverse: bool = True) -> HeteroData:
        """PyG ``HeteroData``: ``num_nodes`` per node type, ``edge_index`` (``long``) per
        edge type, and with ``reverse=True`` a ``rev_<relation>`` edge type for each."""
        import torch
        from torch_geometric.data import HeteroData

        data = HeteroData()
        for kind, ids in self.nodes.items():
            data[kind].num_nodes = len(ids)
        for (src, rel, dst), index in self.edges.items():
            data[src, rel, dst].edge_index = torch.from_numpy(index.copy()).long()
            if reverse:
                data[dst, f"rev_{rel}", src].edge_index = torch.from_numpy(index[::-1].copy()).long()
        data["user", "rated", "movie"].rating = torch.from_numpy(self.ratings.copy())
        return data
