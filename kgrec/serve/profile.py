"""A readable taste profile: what a person's ratings say they like, against base rates.

For each facet ``f`` (a genre, a decade, a director, a cast member) of the movies a
person rated, with rating weights :math:`w_m = \\max(0, r_m - 2.5)` (a 5 counts 2.5, a
3 counts 0.5, 1 and 2 count nothing), the smoothed share of their taste and the
catalogue's base rate are

.. math::
    \\tilde p(f) = \\frac{\\sum_m w_m [f \\in m] + \\alpha\\, q(f)}{\\sum_m w_m + \\alpha},
    \\qquad q(f) = \\frac{|\\{m : f \\in m\\}|}{N},

and the facet's score is the log-lift :math:`\\log(\\tilde p(f) / q(f))`: 0 when the person
likes ``f`` exactly as often as the catalogue holds it, positive when more. The
pseudo-weight ``α`` (default 5) pulls facets seen in few liked movies to the base rate, so
"likes Drama" must mean more than "Drama is common" and one liked film of a rare director
does not top the list. Facets are ranked by log-lift among those with at least
``min_support`` liked movies.

What the model adds: given the model's top recommendations for the person
(``model_items``), the same log-lift over their genres (each counted with weight 1) says
which genres the model leans to beyond the ratings' own (``TasteProfile.model_genres``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from kgrec.serve.intent_scoring import ItemFacts

DIMENSIONS = {"genres": "has_genre", "directors": "directed_by", "cast": "starring"}


@dataclass(frozen=True)
class Facet:
    """One facet of a taste profile.

    Attributes:
        entity: entity id (``genre:Western``) or ``decade:1950``.
        label: readable name.
        share: smoothed share of the person's rating weight, ``p̃(f)``.
        base_rate: share of catalogue movies with the facet, ``q(f)``.
        log_lift: ``log(share / base_rate)``.
        support: number of the person's positively weighted movies with the facet.
    """

    entity: str
    label: str
    share: float
    base_rate: float
    log_lift: float
    support: int

    def to_dict(self) -> dict[str, Any]:
        return {"entity": self.entity, "label": self.label, "share": round(self.share, 5),
                "base_rate": round(self.base_rate, 5), "log_lift": round(self.log_lift, 4),
                "support": self.support}


@dataclass(frozen=True)
class TasteProfile:
    """A person's interest per dimension (``genres``, ``decades``, ``directors``,
    ``cast``), each a tuple of :class:`Facet` ranked by log-lift."""

    who: str
    dimensions: dict[str, tuple[Facet, ...]]
    num_rated: int
    model_genres: tuple[Facet, ...] = ()

    def top(self, dimension: str, n: int = 5) -> list[Facet]:
        if dimension not in self.dimensions:
            raise KeyError(f"unknown dimension {dimension!r}; have {list(self.dimensions)}")
        return list(self.dimensions[dimension][:n])

    def to_dict(self) -> dict[str, Any]:
        return {"who": self.who, "num_rated": self.num_rated,
                "dimensions": {k: [f.to_dict() for f in v] for k, v in self.dimensions.items()},
                "model_genres": [f.to_dict() for f in self.model_genres]}

    def plot(self, n: int = 6, ax: Any = None) -> Any:
        """Bar charts of the top-``n`` log-lifts per dimension (imports matplotlib);
        returns the figure."""
        import matplotlib.pyplot as plt

        dims = [d for d, v in self.dimensions.items() if v]
        if ax is None:
            fig, axes = plt.subplots(1, max(1, len(dims)), figsize=(3.6 * max(1, len(dims)), 3.2))
            axes = np.atleast_1d(axes)
        else:
            axes, fig = np.atleast_1d(ax), np.atleast_1d(ax)[0].figure
        for a, d in zip(axes, dims):
            facets = self.top(d, n)[::-1]
            a.barh([f.label for f in facets], [f.log_lift for f in facets], color="#4c72b0")
            a.axvline(0, color="grey", lw=0.8)
            a.set_title(d)
            a.set_xlabel("log-lift vs catalogue")
        fig.suptitle(f"Taste profile of {self.who} ({self.num_rated} ratings)")
        fig.tight_layout()
        return fig

    def __repr__(self) -> str:
        parts = []
        for d, v in self.dimensions.items():
            if v:
                parts.append(f"{d}: " + ", ".join(f"{f.label} {f.log_lift:+.2f}" for f in v[:3]))
        return f"TasteProfile({self.who}; " + "; ".join(parts) + ")"


def _facets(facts: ItemFacts, weights: np.ndarray, member: Any, names: list[str],
            labels: list[str | None], alpha: float, min_support: int) -> tuple[Facet, ...]:
    """``member``: scipy CSR ``[num_items, num_facets]`` incidence."""
    q = np.asarray(member.sum(0)).ravel() / max(1, facts.n)
    mass = member.T @ weights
    support = member.T @ (weights > 0).astype(np.float64)
    total = float(weights.sum())
    out = []
    for j in np.nonzero(support >= min_support)[0]:
        if labels[j] is None or q[j] <= 0:
            continue
        share = (mass[j] + alpha * q[j]) / (total + alpha)
        out.append(Facet(names[j], labels[j], float(share), float(q[j]),
                         float(np.log(share / q[j])), int(support[j])))
    out.sort(key=lambda f: (-f.log_lift, -f.support, f.label))
    return tuple(out)


def session_ratings(ratings: Any, session: Any, item_ids: Sequence[str]) -> dict[int, float]:
    """Movie index → rating from a ratings frame (``item_id``, ``rating``) and a
    :class:`~kgrec.serve.feedback.FeedbackSession` (like / more like this count as 5, a
    dislike as 1; the feedback wins over an older rating)."""
    index = {item: i for i, item in enumerate(item_ids)}
    out = {index[str(i)]: float(r) for i, r in zip(ratings["item_id"], ratings["rating"])
           if str(i) in index}
    for item, signal in session.state().items():
        value = {"like": 5.0, "more_like_this": 5.0, "dislike": 1.0}.get(signal)
        if value is not None and item in index:
            out[index[item]] = value
    return out


def person_ratings(key: str, seen: Any, session: Any, item_ids: Sequence[str]
                   ) -> dict[int, float]:
    """:func:`session_ratings` of ``key``: a known user's (``"user:<id>"``) ratings in
    ``seen`` (``user_id``, ``item_id``, ``rating``) with their feedback; a cold-start
    session (``"session:<id>"``) has its feedback only."""
    from kgrec.data.dataset import entity_key

    mine = (seen[seen["user_id"].astype(str) == entity_key(key)] if key.startswith("user:")
            else seen.iloc[:0])
    return session_ratings(mine, session, item_ids)


def profile(ratings: Iterable[tuple[int, float]], facts: ItemFacts, *, who: str = "",
            alpha: float = 5.0, min_support: int = 1, min_support_people: int = 2,
            model_items: Iterable[int] = ()) -> TasteProfile:
    """Taste profile from ``(movie index, rating)`` pairs (see the module formula).

    Args:
        ratings: the person's ratings (feedback can be folded in as 5 for a like and 1
            for a dislike).
        facts: the catalogue's facts.
        who: name shown in the repr and plot.
        alpha: prior pseudo-weight ``α``.
        min_support, min_support_people: fewest liked movies for a genre/decade and for
            a director/cast member to be listed.
        model_items: the model's top recommendations for the person (movie indices),
            for :attr:`TasteProfile.model_genres`.
    """
    import scipy.sparse as sp

    from kgrec.explain.render import display_name

    pairs = list(ratings)
    w = np.zeros(facts.n, dtype=np.float64)
    for i, r in pairs:
        w[int(i)] = max(0.0, float(r) - 2.5)
    dims: dict[str, tuple[Facet, ...]] = {}
    for dim, rel in DIMENSIONS.items():
        if rel not in facts.incidence:
            dims[dim] = ()
            continue
        kind, m = facts.incidence[rel]
        names = facts.kg.nodes[kind]
        labels = [display_name(facts.kg, e) for e in names]
        dims[dim] = _facets(facts, w, m, names, labels, alpha,
                            min_support if dim == "genres" else min_support_people)
    years = facts.years
    known = years > 0
    decades = sorted({int(y) // 10 * 10 for y in years[known]})
    col = {d: j for j, d in enumerate(decades)}
    rows = np.nonzero(known)[0]
    m = sp.csr_matrix((np.ones(rows.size), (rows, [col[int(y) // 10 * 10] for y in years[rows]])),
                      shape=(facts.n, len(decades)))
    dims["decades"] = _facets(facts, w, m, [f"decade:{d}" for d in decades],
                              [f"{d}s" for d in decades], alpha, min_support)
    order = ("genres", "decades", "directors", "cast")
    model_genres: tuple[Facet, ...] = ()
    picks = np.zeros(facts.n, dtype=np.float64)
    picks[list(model_items)] = 1.0
    if picks.any() and "has_genre" in facts.incidence:
        kind, m = facts.incidence["has_genre"]
        names = facts.kg.nodes[kind]
        model_genres = _facets(facts, picks, m, names,
                               [display_name(facts.kg, e) for e in names], alpha, min_support)
    return TasteProfile(who, {d: dims[d] for d in order}, len(pairs), model_genres)
