"""Node text: one short English description per knowledge-graph node.

The text of a node is what the encoder embeds (:mod:`kgrec.text.encoder`):

* movie: ``"Title (year). Genres: A, B. Directed by X. Starring P, Q, R. <description>"``,
  see :func:`movie_text`; missing parts are left out.
* person: ``"<name>. Director of T1, T2. Actor in T3, T4."`` (up to ``max_titles``
  titles per role; roles come from ``directed_by``, ``starring``, ``written_by`` and
  ``produced_by`` edges).
* genre: ``"<name> films"``.
* any other type (country, tag, language, ...): its label, else its key.
* user: ``""``: users have no text; callers give them learned embeddings.

Names come from ``kg.labels``. An entity without a label is named by its key
(``person:Quentin Tarantino`` → ``Quentin Tarantino``), except when the key is an opaque
knowledge-base id (Freebase ``m.0abc12``/``g.…``, Wikidata ``Q42``, a bare number): such
entities are left out of movie and person texts.

Lists (genres, directors, cast, a person's titles) follow the order of
``dataset.triples`` (sources list cast in billing order), then node index; everything
is grouped with vectorised numpy sorts, linear in the number of edges.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from kgrec.data.dataset import entity_key, movie_id

if TYPE_CHECKING:
    from kgrec.data.dataset import MovieDataset
    from kgrec.graph.knowledge_graph import EdgeType, KnowledgeGraph

#: Relations (movie → entity) that name a person's role, with the phrase used in the
#: person's text.
ROLE_PHRASES: dict[str, str] = {
    "directed_by": "Director of",
    "starring": "Actor in",
    "written_by": "Writer of",
    "produced_by": "Producer of",
}

_OPAQUE_KEY = re.compile(r"^(?:/?m[./]0[0-9a-z_]+|/?g[./][0-9a-z_]+|Q\d+|\d+)$")


def is_opaque_key(key: str) -> bool:
    """Whether an entity key is a knowledge-base id rather than a name
    (``m.0bln8``, ``/m/0bln8``, ``g.11b6``, ``Q42``, ``42``)."""
    return bool(_OPAQUE_KEY.match(key))


def _sentence(text: str) -> str:
    text = text.strip()
    if text and text[-1] not in ".!?":
        text += "."
    return text


def _year_str(year: Any) -> str:
    if year is None:
        return ""
    try:
        if pd.isna(year):
            return ""
        return str(int(year))
    except (TypeError, ValueError):
        return str(year).strip()


def _clean(names: Iterable[Any], limit: int | None = None) -> list[str]:
    """Non-empty, stripped, de-duplicated names in order, at most ``limit``."""
    out: list[str] = []
    if limit is not None and limit <= 0:
        return out
    seen: set[str] = set()
    for name in names:
        if name is None:
            continue
        name = str(name).strip()
        if name and name not in seen:
            seen.add(name)
            out.append(name)
            if limit is not None and len(out) >= limit:
                break
    return out


def movie_text(title: str, year: int | None = None, genres: Sequence[str] = (),
               directors: Sequence[str] = (), actors: Sequence[str] = (),
               description: str = "", *, max_cast: int = 5) -> str:
    """Text of one movie, for movies in the graph and cold-start movies alike.

    ``"Title (year). Genres: A, B. Directed by X. Starring P, Q, R. <description>"``;
    empty parts are left out, and ``(year)`` is not repeated when the title already ends
    with it (MovieLens titles do).

    Args:
        title: movie title.
        year: release year, or ``None``/NA.
        genres: genre names, in order.
        directors: director names, in order.
        actors: cast in billing order; only the first ``max_cast`` are kept.
        description: free text (plot, overview), appended as is.
        max_cast: how many actors (and directors) to name at most.
    """
    title = "" if title is None else str(title).strip()
    y = _year_str(year)
    head = title
    if y and not title.endswith(f"({y})"):
        head = f"{title} ({y})" if title else f"({y})"
    parts = [_sentence(head)]
    genre_names = _clean(genres)
    if genre_names:
        parts.append(_sentence("Genres: " + ", ".join(genre_names)))
    director_names = _clean(directors, max_cast)
    if director_names:
        parts.append(_sentence("Directed by " + ", ".join(director_names)))
    cast = _clean(actors, max_cast)
    if cast:
        parts.append(_sentence("Starring " + ", ".join(cast)))
    if description is not None and not (isinstance(description, float) and np.isnan(description)):
        parts.append(str(description).strip())
    return " ".join(p for p in parts if p)


class _Grouper:
    """Vectorised grouping of typed edges, ordered like the source triples."""

    def __init__(self, kg: KnowledgeGraph, dataset: MovieDataset):
        self.kg = kg
        self.triples = dataset.triples
        self._index: dict[str, pd.Index] = {}
        self._names: dict[str, np.ndarray] = {}

    def index(self, kind: str) -> pd.Index:
        if kind not in self._index:
            self._index[kind] = pd.Index(self.kg.nodes.get(kind, []))
        return self._index[kind]

    def names(self, kind: str) -> np.ndarray:
        """Per node of ``kind``: its display name, or ``None`` when it has none."""
        if kind not in self._names:
            labels = self.kg.labels
            out = np.empty(self.kg.num_nodes(kind), dtype=object)
            for i, entity in enumerate(self.kg.nodes.get(kind, [])):
                label = labels.get(entity)
                if label is not None and str(label).strip():
                    out[i] = str(label).strip()
                else:
                    key = entity_key(entity)
                    out[i] = None if is_opaque_key(key) else key
            self._names[kind] = out
        return self._names[kind]

    def rank(self, etype: EdgeType) -> np.ndarray:
        """Per edge of ``etype``: its first row among the source triples of that relation
        (edges absent from the triples come last, by destination index)."""
        src_t, rel, dst_t = etype
        src, dst = self.kg.edges[etype]
        n_dst = max(self.kg.num_nodes(dst_t), 1)
        sub = self.triples[self.triples["relation"].to_numpy() == rel]
        h = self.index(src_t).get_indexer(sub["head"].to_numpy(dtype=object))
        t = self.index(dst_t).get_indexer(sub["tail"].to_numpy(dtype=object))
        pos = np.arange(len(sub), dtype=np.int64)
        ok = (h >= 0) & (t >= 0)
        keys = pd.Index(h[ok].astype(np.int64) * n_dst + t[ok])
        first = ~keys.duplicated(keep="first")
        keys, pos = keys[first], pos[ok][first]
        found = keys.get_indexer(src.astype(np.int64) * n_dst + dst)
        return np.where(found >= 0, pos[np.maximum(found, 0)], len(sub) + dst)

    def groups(self, etype: EdgeType, by: int) -> tuple[np.ndarray, np.ndarray]:
        """``(bounds, members)``: node ``i`` of side ``by`` (0 = source, 1 = destination)
        is linked to ``members[bounds[i]:bounds[i + 1]]`` on the other side, in triple
        order. Shapes ``[num_nodes + 1]`` and ``[num_edges]``."""
        index = self.kg.edges[etype]
        group, other = index[by], index[1 - by]
        order = np.lexsort((self.rank(etype), group))
        n = self.kg.num_nodes(etype[0] if by == 0 else etype[2])
        bounds = np.searchsorted(group[order], np.arange(n + 1))
        return bounds, other[order]


def node_texts(kg: KnowledgeGraph, dataset: MovieDataset, *, max_cast: int = 5,
               max_titles: int = 5) -> dict[str, list[str]]:
    """Text of every node, per node type, in node-index order.

    Args:
        kg: the knowledge graph (its node vocabulary, ``edges`` and ``labels``).
        dataset: the dataset the graph was built from (titles, years, descriptions, and
            the triple order used to list cast in billing order).
        max_cast: directors/actors named per movie at most.
        max_titles: titles listed per role of a person at most.

    Returns:
        ``{node_type: [text of node 0, text of node 1, ...]}`` for every node type of
        ``kg``; users get ``""``.
    """
    g = _Grouper(kg, dataset)
    out: dict[str, list[str]] = {}

    # movie fields, aligned with the movie node index
    n_movies = kg.num_nodes("movie")
    items = dataset.items
    rows = pd.Index([movie_id(i) for i in items["item_id"]]).get_indexer(kg.nodes.get("movie", []))
    item_titles = items["title"].to_numpy(dtype=object)
    item_years = items["year"].to_numpy(dtype=object, na_value=None)
    item_text = items["text"].to_numpy(dtype=object)
    titles = np.empty(n_movies, dtype=object)
    years = np.full(n_movies, None, dtype=object)
    descriptions = np.full(n_movies, "", dtype=object)
    have = rows >= 0
    titles[have] = item_titles[rows[have]]
    years[have] = item_years[rows[have]]
    descriptions[have] = item_text[rows[have]]
    for i in np.flatnonzero(~have):
        entity = kg.nodes["movie"][i]
        titles[i] = kg.labels.get(entity) or entity_key(entity)
    titles = np.array([("" if t is None or (isinstance(t, float) and np.isnan(t)) else str(t))
                       for t in titles], dtype=object)

    # per movie: names linked through each relation used in movie text
    movie_lists: dict[str, list[list[str]]] = {r: [[] for _ in range(n_movies)]
                                                for r in ("has_genre", "directed_by", "starring")}
    for etype in kg.edge_types:
        src_t, rel, dst_t = etype
        if src_t != "movie" or rel not in movie_lists:
            continue
        bounds, members = g.groups(etype, by=0)
        names = g.names(dst_t)[members]
        target = movie_lists[rel]
        for i in np.flatnonzero(np.diff(bounds)):
            target[i].extend(n for n in names[bounds[i]:bounds[i + 1]] if n is not None)

    # per entity: the titles of its movies, per role
    roles: dict[str, dict[int, list[str]]] = {}
    for etype in kg.edge_types:
        src_t, rel, dst_t = etype
        if src_t != "movie" or rel not in ROLE_PHRASES:
            continue
        bounds, members = g.groups(etype, by=1)
        phrase = ROLE_PHRASES[rel]
        per_node = roles.setdefault(dst_t, {})
        for j in np.flatnonzero(np.diff(bounds)):
            chosen = _clean(titles[members[bounds[j]:bounds[j + 1]]], max_titles)
            if chosen:
                per_node.setdefault(int(j), []).append(f"{phrase} {', '.join(chosen)}")

    for kind, ids in kg.nodes.items():
        if kind == "user":
            out[kind] = [""] * len(ids)
        elif kind == "movie":
            genres, directors, cast = (movie_lists[r] for r in ("has_genre", "directed_by", "starring"))
            out[kind] = [movie_text(titles[i], years[i], genres[i], directors[i], cast[i],
                                    descriptions[i], max_cast=max_cast) for i in range(n_movies)]
        elif kind == "genre":
            out[kind] = [f"{kg.labels.get(e) or entity_key(e)} films" for e in ids]
        elif kind in roles:
            names = g.names(kind)
            per_node = roles[kind]
            out[kind] = [" ".join(_sentence(p) for p in [names[i] or "", *per_node.get(i, ())] if p)
                         for i in range(len(ids))]
        else:
            out[kind] = [str(kg.labels.get(e) or entity_key(e)) for e in ids]
    return out
