"""Scores and explanations that obey a :class:`~kgrec.serve.intent.QueryIntent`.

Hard constraints filter, soft ones rank, the user's history personalises within them:

.. math::

    s_i = w_t\\,z(t)_i + \\sum_{g \\in G^+} c_g B_g [i \\in g]
          + \\sum_{p \\in P} c_p B_p\\,\\rho_p(i) + w_l\\,z(l)_i
          + B_y\\,\\mathrm{soft}_i + w_u\\,z(u)_i

with :math:`z` the per-request standardisation (mean 0, sd 1 over the movies left), ``t``
the text similarity of the query remainder (optional), ``G+`` the included genres with
confidences ``c``, ``P`` the people (``ρ_p(i)``: 1 when ``i`` is linked to ``p`` by the
asked role; with no role asked, 1 by the person's main role and 0.4 by another, see
:meth:`ItemFacts.person_scores`), ``l`` the like-anchor similarity (:meth:`ItemFacts.anchor_similarity`, plus
a model similarity when given), ``soft`` the era preference (``recent``: 1 from the
catalogue's last 3 years, fading to 0 ten years back; ``old``: 1 at 30+ years before the
newest film, fading to 0 at 15) and ``u`` the user's own scores. Movies failing a hard
constraint (an excluded genre/person/title, a year bound, a named decade, the anchors
themselves) get ``-inf``; so do movies without a known year when a bound is given.

Every returned movie gets an explanation of the part of the request it satisfies, built
only from true facts: graph edges (``movie -has_genre-> genre``, ``-directed_by->``,
shared entities with a like-anchor) and the movie's release year.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from kgrec.serve.intent import QueryIntent

if TYPE_CHECKING:
    from kgrec.explain import Explanation
    from kgrec.graph.knowledge_graph import KnowledgeGraph

#: Weight of each relation in the like-anchor similarity (times the entity's idf).
RELATION_WEIGHTS = {"directed_by": 3.0, "written_by": 2.0, "starring": 1.5,
                    "produced_by": 1.0, "has_genre": 1.0, "sequel": 3.0, "prequel": 3.0}
#: Weight of any other relation (awards, countries, languages, studios ...): facts that
#: many unrelated films share, so they barely make two films alike.
OTHER_RELATION_WEIGHT = 0.0
#: Weight of a movie linked to a person named without a role by a role other than their
#: main one (:meth:`ItemFacts.person_scores`).
OTHER_ROLE_WEIGHT = 0.4
_PHRASES = {"directed_by": "directed by {}", "starring": "starring {}",
            "written_by": "written by {}", "produced_by": "produced by {}"}


@dataclass(frozen=True)
class IntentWeights:
    """Weights of :func:`score_intent` (see the module formula)."""

    text: float = 1.0
    text_when_matched: float = 0.5
    genre: float = 2.5
    person: float = 4.0
    like: float = 1.5
    soft_year: float = 1.0
    user: float = 0.75


class ItemFacts:
    """Per-movie facts requests are scored and explained with (built once per graph).

    Args:
        kg: the graph (``movie -rel-> entity`` edges, labels).
        years: release year per movie index (``-1`` unknown), shape ``[num_items]``.
    """

    def __init__(self, kg: KnowledgeGraph, years: Sequence[int] | np.ndarray):
        self.kg = kg
        self.n = kg.num_items
        self.years = np.asarray(years, dtype=np.int64)
        if self.years.shape != (self.n,):
            raise ValueError(f"years has shape {self.years.shape}, expected ({self.n},)")
        self.titles = [kg.labels.get(m, m) for m in kg.nodes["movie"]]
        #: relation → movie × entity incidence (CSR), entity column = index in its type
        self.incidence: dict[str, tuple[str, sp.csr_matrix]] = {}
        self._by_entity: dict[str, sp.csc_matrix] = {}
        self.idf: dict[str, np.ndarray] = {}
        for (src, rel, dst), index in kg.edges.items():
            if src != "movie" or dst in ("user", "movie"):
                continue
            m = sp.csr_matrix((np.ones(index.shape[1], dtype=np.float32), (index[0], index[1])),
                              shape=(self.n, kg.num_nodes(dst)))
            m.data[:] = 1.0
            self.incidence[rel] = (dst, m)
            self._by_entity[rel] = m.tocsc()
            df = np.asarray(m.sum(0)).ravel()
            self.idf[rel] = np.log1p(self.n / np.maximum(df, 1)).astype(np.float32)
        known = self.years[self.years > 0]
        self.year_range = (int(known.min()), int(known.max())) if known.size else (1900, 2030)

    @classmethod
    def from_items(cls, kg: KnowledgeGraph, items: Any) -> ItemFacts:
        """From a ``MovieDataset.items`` frame (``item_id``, ``year``)."""
        years = items.set_index("item_id")["year"].reindex(kg.item_ids).fillna(-1)
        return cls(kg, years.to_numpy(dtype=np.int64))

    def _row(self, rel: str, item: int) -> np.ndarray:
        """Entity columns of ``movie[item]`` for relation ``rel`` (sorted)."""
        m = self.incidence[rel][1]
        return m.indices[m.indptr[item]:m.indptr[item + 1]]

    def movies_of(self, entity: str, role: str | None = None) -> np.ndarray:
        """Movie indices linked to ``entity`` (by ``role`` only, when given)."""
        kind = entity.partition(":")[0]
        if not self.kg.has(entity):
            return np.zeros(0, dtype=np.int64)
        col = self.kg.index(entity)
        out = [self._by_entity[rel].indices[self._by_entity[rel].indptr[col]:
                                            self._by_entity[rel].indptr[col + 1]]
               for rel, (dst, _m) in self.incidence.items()
               if dst == kind and (role is None or rel == role)]
        return np.unique(np.concatenate(out)) if out else np.zeros(0, dtype=np.int64)

    def person_scores(self, entity: str, role: str | None = None) -> np.ndarray:
        """``[num_items]`` weight of each movie for a named person: 1 for a movie linked by
        ``role``; with no role, 1 by the person's *main* role (the relation linking most
        of their movies: "Scorsese" means the films he directed) and
        :data:`OTHER_ROLE_WEIGHT` by any other (the films he produced or appears in)."""
        out = np.zeros(self.n, dtype=np.float64)
        if role is not None:
            out[self.movies_of(entity, role)] = 1.0
            return out
        kind = entity.partition(":")[0]
        by_role = {rel: self.movies_of(entity, rel) for rel, (dst, _m) in self.incidence.items()
                   if dst == kind}
        by_role = {rel: movies for rel, movies in by_role.items() if movies.size}
        if not by_role:
            return out
        main = max(by_role, key=lambda rel: (by_role[rel].size, RELATION_WEIGHTS.get(rel, 0.0)))
        for rel, movies in by_role.items():
            out[movies] = np.maximum(out[movies], 1.0 if rel == main else OTHER_ROLE_WEIGHT)
        return out

    def relation_between(self, item: int, entity: str, role: str | None = None) -> str | None:
        """The relation of an edge ``movie[item] -rel-> entity``, or ``None``."""
        kind = entity.partition(":")[0]
        if not self.kg.has(entity):
            return None
        col = self.kg.index(entity)
        for rel, (dst, _m) in self.incidence.items():
            if dst == kind and (role is None or rel == role) and col in self._row(rel, item):
                return rel
        return None

    def anchor_similarity(self, anchors: Sequence[int]) -> np.ndarray:
        r"""Similarity to the like-anchors, ``[num_items]``: kind of film plus shared makers,

        .. math::
            l_i = \sum_a \Big( 2\,J(G_a, G_i) + \frac{c_{ai}}{\max_j c_{aj}} \Big),\qquad
            c_{ai} = \sum_{r \ne \mathrm{genre}} w_r \sum_e A_r[a,e]\,A_r[i,e]\,
                     \mathrm{idf}_r(e)

        with ``J`` the Jaccard index of the two movies' genre sets, ``w_r``
        :data:`RELATION_WEIGHTS` and ``idf_r(e) = log(1 + n / df_r(e))``.
        """
        out = np.zeros(self.n, dtype=np.float32)
        for a in anchors:
            creators = np.zeros(self.n, dtype=np.float32)
            for rel, (_dst, m) in self.incidence.items():
                cols = self._row(rel, a)
                if rel == "has_genre":
                    q = np.zeros(m.shape[1], dtype=np.float32)
                    q[cols] = 1.0
                    inter = m @ q
                    union = np.diff(m.indptr) + cols.size - inter
                    out += 2.0 * np.where(union > 0, inter / np.maximum(union, 1), 0.0)
                    continue
                q = np.zeros(m.shape[1], dtype=np.float32)
                q[cols] = self.idf[rel][cols]
                creators += RELATION_WEIGHTS.get(rel, OTHER_RELATION_WEIGHT) * (m @ q)
            creators[a] = 0.0
            top = float(creators.max())
            if top > 0:
                out += creators / top
        return out

    def best_shared(self, anchor: int, item: int) -> tuple[str, str] | None:
        """(relation, entity) shared by two movies with the largest ``w_r · idf``."""
        best, out = 0.0, None
        for rel, (dst, _m) in self.incidence.items():
            common = np.intersect1d(self._row(rel, anchor), self._row(rel, item),
                                    assume_unique=True)
            if common.size:
                idf = self.idf[rel][common]
                j = int(idf.argmax())
                value = RELATION_WEIGHTS.get(rel, OTHER_RELATION_WEIGHT) * float(idf[j])
                if value > best:
                    best, out = value, (rel, self.kg.nodes[dst][int(common[j])])
        return out


def uses_prototype(intent: QueryIntent) -> bool:
    """Whether the request is fully explained by its matches (no free-text remainder, at
    least one genre, person or like-anchor): its text part is then
    :func:`prototype_vector`, and no query needs encoding."""
    return not intent.remainder and bool(intent.include or intent.people or intent.like)


def prototype_vector(intent: QueryIntent, facts: ItemFacts, item_vectors: np.ndarray
                     ) -> np.ndarray:
    """Text vector ``[D]`` of a fully matched request: the normalised sum of the mean
    (L2-normalised) text vector of each included genre's and each person's movies (by
    the role asked, else by their main role) and of each like-anchor's,

    .. math:: q = \\frac{\\sum_{m} \\bar x_m}{\\lVert \\sum_m \\bar x_m \\rVert},
              \\qquad \\bar x_m = \\frac{1}{|M_m|} \\sum_{i \\in M_m} x_i

    so that within the matching movies the most typical ones rank first, as the
    similarity to the query's own embedding would do, without running the encoder.
    ``item_vectors``: ``[num_items, D]`` L2-normalised movie text vectors.
    """
    parts = []
    for m in intent.include:
        parts.append(facts.movies_of(m.entity))
    for m in intent.people:  # by the role asked, else the person's main role
        parts.append(np.nonzero(facts.person_scores(m.entity, m.role) >= 1.0)[0])
    for m in intent.like:
        parts.append(np.array([facts.kg.index(m.entity)]))
    vecs = [item_vectors[idx].mean(0) for idx in parts if len(idx)]
    if not vecs:
        return np.zeros(item_vectors.shape[1], dtype=item_vectors.dtype)
    q = np.sum(vecs, axis=0)
    return q / max(float(np.linalg.norm(q)), 1e-12)


def _z(x: np.ndarray, keep: np.ndarray) -> np.ndarray:
    vals = x[keep] if keep.any() else x
    sd = float(vals.std()) if vals.size > 1 else 0.0
    return (x - float(vals.mean())) / sd if sd > 1e-8 else np.zeros_like(x)


def allowed(intent: QueryIntent, facts: ItemFacts) -> np.ndarray:
    """Boolean ``[num_items]``: movies meeting every hard constraint of ``intent``."""
    keep = np.ones(facts.n, dtype=bool)
    for m in intent.exclude:
        if m.kind == "movie":
            keep[facts.kg.index(m.entity)] = False
        else:
            keep[facts.movies_of(m.entity, m.role)] = False
    lo, hi = intent.year_bounds
    y = facts.years
    if lo is not None:
        keep &= y >= lo
    if hi is not None:
        keep &= (y <= hi) & (y > 0)
    if intent.decades:
        in_any = np.zeros(facts.n, dtype=bool)
        for a, b in intent.decades:
            in_any |= (y >= a) & (y <= b)
        keep &= in_any
    for m in intent.like:
        keep[facts.kg.index(m.entity)] = False
    return keep


def soft_year_scores(intent: QueryIntent, facts: ItemFacts) -> np.ndarray:
    """Era preference in ``[0, 1]`` per movie (see the module formula)."""
    out = np.zeros(facts.n, dtype=np.float32)
    newest = facts.year_range[1]
    y = facts.years.astype(np.float32)
    kinds = {c.kind for c in intent.years if not c.hard}
    if "recent" in kinds:
        out += np.clip((y - (newest - 10)) / 7.0, 0, 1) * (y > 0)
    if "old" in kinds:
        out += np.clip(((newest - 15) - y) / 15.0, 0, 1) * (y > 0)
    return out


def score_intent(intent: QueryIntent, facts: ItemFacts, *, text: np.ndarray | None = None,
                 user: np.ndarray | None = None, like_model: np.ndarray | None = None,
                 weights: IntentWeights | None = None) -> np.ndarray:
    """Scores ``[num_items]`` obeying ``intent`` (``-inf`` = excluded by a hard constraint).

    Args:
        intent: the parsed request.
        facts: the catalogue's facts.
        text: cosine of the query remainder's embedding to each movie's text, or ``None``.
        user: the user's (or liked titles') model scores, or ``None``; ``-inf`` entries
            (seen or blocked movies) are excluded like a hard constraint.
        like_model: a model similarity to the like-anchors (e.g. ``score_history`` of the
            anchors), added to the shared-entity similarity, or ``None``.
        weights: see :class:`IntentWeights`.
    """
    w = weights or IntentWeights()
    keep = allowed(intent, facts)
    if user is not None:
        user = np.asarray(user, dtype=float)
        keep &= np.isfinite(user)                # -inf: blocked by feedback or seen
        user = np.where(keep, user, 0.0)
    s = np.zeros(facts.n, dtype=np.float64)
    structured = bool(intent.include or intent.people or intent.like)
    if text is not None:
        s += (w.text_when_matched if structured else w.text) * _z(np.asarray(text, float), keep)
    for m in intent.include:
        s[facts.movies_of(m.entity)] += w.genre * m.confidence
    for m in intent.people:
        s += w.person * m.confidence * facts.person_scores(m.entity, m.role)
    if intent.like:
        anchors = [facts.kg.index(m.entity) for m in intent.like]
        like = _z(facts.anchor_similarity(anchors).astype(float), keep)
        if like_model is not None:
            like = like + _z(np.asarray(like_model, float), keep)
        s += w.like * like
    s += w.soft_year * soft_year_scores(intent, facts)
    if user is not None:
        s += w.user * _z(np.asarray(user, float), keep)
    s[~keep] = -np.inf
    return s


# -- explanations ------------------------------------------------------------------------
def _name(facts: ItemFacts, entity: str) -> str | None:
    from kgrec.explain.render import display_name

    return display_name(facts.kg, entity)


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" or word[:2] in ("80", "18") else "a"


def _year_phrase(intent: QueryIntent, year: int) -> tuple[str, bool]:
    """How the movie's year meets the year constraints; and whether it meets one."""
    if year <= 0:
        return "", False
    for c in intent.years:
        if c.kind == "decade":
            return f"{c.min_year // 10 * 10}s", True
    hard = [c for c in intent.years if c.hard]
    if hard:
        return f"from {year} ({', '.join(c.words for c in hard)}, as you asked)", True
    soft = [c for c in intent.years if not c.hard]
    if soft:
        return f"from {year} ({soft[0].words}, as you asked)", True
    return "", False


def explain_intent(intent: QueryIntent, facts: ItemFacts, item: int, *,
                   text_similarity: float | None = None, k: int = 3) -> list[Explanation]:
    """Up to ``k`` explanations of which parts of ``intent`` movie ``item`` satisfies.

    The first is one sentence over the genres, people, years and exclusions it meets
    (its ``steps`` the graph edge of the first genre or person named, ``()`` when only
    its year or text similarity is cited); then one per like-anchor, a path through the
    most telling entity shared with the anchor. Every edge cited exists in the graph.
    """
    from kgrec.explain import Explanation, PathStep
    from kgrec.explain.render import role_noun

    kg = facts.kg
    movie = kg.nodes["movie"][item]
    title = facts.titles[item]
    steps: list[PathStep] = []
    anchor = None
    genres = [m for m in intent.include if facts.relation_between(item, m.entity)]
    year_text, year_ok = _year_phrase(intent, int(facts.years[item]))
    bits: list[str] = []
    if genres:
        names = " and ".join(m.label for m in genres)
        rel = facts.relation_between(item, genres[0].entity)
        steps.append(PathStep(movie, rel or "has_genre", genres[0].entity, False))
        anchor = genres[0].entity
        if year_ok and year_text.endswith("s") and not year_text.startswith("from"):
            bits.append(f"{_article(year_text)} {year_text} {names}")
            year_ok = False
        else:
            bits.append(f"{_article(names)} {names}")
    for m in intent.people:
        rel = facts.relation_between(item, m.entity, m.role)
        if rel is None:
            continue
        name = _name(facts, m.entity) or m.label
        bits.append(_PHRASES.get(rel, rel.replace("_", " ") + " {}").format(name))
        if not steps:
            steps.append(PathStep(movie, rel, m.entity, False))
            anchor = m.entity
    if year_ok:
        bits.append(f"a film of the {year_text}" if year_text.endswith("s") and not
                    year_text.startswith("from") else year_text)
    excluded = [m.label for m in intent.exclude if m.kind != "movie"]
    out: list[Explanation] = []
    if bits:
        sentence = f"{title}: {', '.join(bits)}"
        if genres or intent.people:
            sentence += ", as you asked" if "as you asked" not in sentence else ""
        if excluded:
            sentence += f"; not {' or '.join(excluded)}"
        out.append(Explanation("", movie, "query", tuple(steps), anchor, None,
                               1.0 if steps else 0.8, sentence + "."))
    for m in intent.like:
        a = kg.index(m.entity)
        shared = facts.best_shared(a, item)
        if shared is None:
            continue
        rel, ent = shared
        name = _name(facts, ent)
        noun = role_noun(rel)
        what = f"the {noun} {name}" if name else f"a {noun}"
        path = (PathStep(m.entity, rel, ent, True), PathStep(movie, rel, ent, False))
        out.append(Explanation("", movie, "query", path, m.entity, ent, 0.9,
                               f"{title}: like {m.label}, shares {what}."))
    if not out:
        words = [w for w in intent.remainder.lower().split() if len(w) > 2]
        hits = [w for w in words if re.search(rf"\b{re.escape(w)}\b", title.lower())]
        asked = intent.remainder or intent.text
        if hits:
            text = f"{title}: its title has '{' '.join(hits)}', as in your request."
        elif text_similarity is not None and uses_prototype(intent):
            text = (f"{title}: among the closest in text to the films matching '{asked}' "
                    f"(similarity {text_similarity:.2f}).")
        elif text_similarity is not None:
            text = (f"{title}: among the closest in text to '{asked}' "
                    f"(similarity {text_similarity:.2f}).")
        else:
            text = ""
        if text:
            out.append(Explanation("", movie, "query", (), None, None, 0.5, text))
    return out[:k]


def coverage_of(explanations: Mapping[int, Sequence[Explanation]]) -> float:
    """Share of results with at least one explanation."""
    return float(np.mean([bool(v) for v in explanations.values()])) if explanations else 0.0


def rank_intent(intent: QueryIntent, facts: ItemFacts, k: int = 10, *,
                text: np.ndarray | None = None, user: np.ndarray | None = None,
                like_model: np.ndarray | None = None, exclude: Sequence[int] = (),
                explain: bool = True, weights: IntentWeights | None = None
                ) -> list[tuple[int, float, list[Explanation]]]:
    """Top-``k`` ``(movie index, score, explanations)`` for ``intent``.

    Args:
        intent, facts, text, user, like_model, weights: as :func:`score_intent`.
        k: number of results (fewer when fewer movies meet the hard constraints).
        exclude: movie indices never to return (seen, disliked).
        explain: attach :func:`explain_intent` explanations.
    """
    s = score_intent(intent, facts, text=text, user=user, like_model=like_model,
                     weights=weights)
    if len(exclude):
        s[np.asarray(list(exclude), dtype=np.int64)] = -np.inf
    finite = int(np.isfinite(s).sum())
    k = min(k, finite)
    if k <= 0:
        return []
    top = np.argpartition(-s, k - 1)[:k]
    top = top[np.argsort(-s[top], kind="stable")]
    return [(int(i), float(s[i]),
             explain_intent(intent, facts, int(i),
                            text_similarity=None if text is None else float(text[i]))
             if explain else []) for i in top]
