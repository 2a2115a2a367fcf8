"""One request and its results, as typed values: everything per-request lives here.

:func:`check_k` and :func:`titles` validate the public API's arguments at the boundary,
with errors naming the argument.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kgrec.serve.filters import Filters

if TYPE_CHECKING:
    from kgrec.explain import Explanation
    from kgrec.serve.feedback import FeedbackSession
    from kgrec.serve.intent import QueryIntent
    from kgrec.serve.query import ParsedQuery


@dataclass(frozen=True)
class Recommendation:
    """One recommended movie.

    Attributes:
        item_id: the movie's bare item id (as in ``MovieDataset.items``).
        title, year: for display.
        score: the fused relevance score (comparable within one request only).
        explanations: graph paths that explain it, most salient first.
        intent: how the request's text was understood (``None`` without a query).
    """

    item_id: str
    title: str
    score: float
    year: int | None = None
    explanations: tuple[Explanation, ...] = field(default_factory=tuple)
    intent: QueryIntent | None = field(default=None, compare=False)

    @property
    def explanation(self) -> str:
        """The best explanation's sentence, or ``""``."""
        return self.explanations[0].text if self.explanations else ""

    def to_dict(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "title": self.title, "year": self.year,
                "score": round(self.score, 6),
                "explanations": [{"text": e.text, "kind": e.kind, "salience": round(e.salience, 6),
                                  "path": [[s.head, s.relation, s.tail] for s in e.steps]}
                                 for e in self.explanations],
                **({"intent": self.intent.to_dict()} if self.intent is not None else {})}

    def __repr__(self) -> str:
        year = f" ({self.year})" if self.year else ""
        why = f" — {self.explanation}" if self.explanations else ""
        return f"Recommendation({self.title}{year}, score={self.score:.3f}{why})"


@dataclass(frozen=True)
class Request:
    """A validated request: indices into the graph, the parsed query, the filters.

    Attributes:
        user: user index, or ``None`` for a person outside the graph.
        liked: movie indices of the stated likes.
        query: the free-text query, and ``parsed`` its entities (``None`` without one).
        named: movie indices the query names ("like Pulp Fiction").
        filters: hard constraints.
        intent: the query's :class:`~kgrec.serve.intent.QueryIntent` (scored by
            :mod:`kgrec.serve.intent_scoring` instead of ``parsed``'s boosts when given).
        feedback: the person's feedback session (a copy loaded for this request).
        k, exclude_seen, explain: as in :meth:`kgrec.recommender.Recommender.recommend`.
    """

    user: int | None
    liked: tuple[int, ...] = ()
    query: str | None = None
    parsed: ParsedQuery | None = None
    named: tuple[int, ...] = ()
    filters: Filters = Filters()
    k: int = 10
    exclude_seen: bool = True
    explain: bool = True
    intent: QueryIntent | None = None
    feedback: FeedbackSession | None = None

    @property
    def anchors(self) -> list[int]:
        """Movies the person stated or named: explanation anchors, never recommended."""
        return list(dict.fromkeys(self.liked + self.named))

    @property
    def query_entities(self) -> list[str]:
        """Entity ids the query names (movies, people, genres, others)."""
        return [] if self.parsed is None else self.parsed.entities


def check_k(k: Any, name: str = "k") -> int:
    """``k`` as a positive ``int``; ``ValueError`` naming the argument otherwise."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"{name} must be a positive integer, got {k!r}")
    return int(k)


def titles(liked: Any) -> list[str]:
    """``liked`` as a list of titles: one string is one title (``"Heat"``), never its
    characters; ``TypeError`` naming the argument for anything but strings."""
    if liked is None:
        return []
    if isinstance(liked, str):
        return [liked]
    if isinstance(liked, bytes) or not isinstance(liked, Iterable):
        raise TypeError(f"liked must be a title or a list of titles, got {type(liked).__name__}")
    out = list(liked)
    for i, title in enumerate(out):
        if not isinstance(title, str):
            raise TypeError(f"liked[{i}] must be a title (str), got {type(title).__name__} "
                            f"{title!r}")
    return out


def query_text(query: Any) -> str | None:
    """``query`` as a non-empty string or ``None``."""
    if query is None:
        return None
    if not isinstance(query, str):
        raise TypeError(f"query must be a string, got {type(query).__name__}")
    if not query.strip():
        raise ValueError("query is empty")
    return query
