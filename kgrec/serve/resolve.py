"""What callers say, as graph indices: user ids, movie ids or titles, feedback sessions.

One :class:`Resolver` per fitted recommender, read-only after construction (safe to share
between concurrent requests). Errors name the value at fault and say what would work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from kgrec.data.dataset import entity_key, movie_id, user_id

from kgrec.serve.filters import Filters
from kgrec.serve.request import Request, check_k, query_text, titles

if TYPE_CHECKING:
    from kgrec.graph.knowledge_graph import KnowledgeGraph
    from kgrec.serve.catalog import Catalog
    from kgrec.serve.feedback import FeedbackStore
    from kgrec.serve.intent import QueryIntent
    from kgrec.serve.query import QueryParser
    from kgrec.serve.scoring import Scorer

__all__ = ["Resolver"]


class Resolver:
    """Maps external ids and titles to node indices of ``kg``, and a call's arguments to
    a :class:`~kgrec.serve.request.Request`.

    Args:
        kg: the fitted recommender's graph.
        scorer: its scorer (title parser, query vocabulary).
        catalog: its catalogue (genres and years for filters).
    """

    def __init__(self, kg: KnowledgeGraph, scorer: Scorer, catalog: Catalog):
        self.kg, self.scorer, self.catalog = kg, scorer, catalog
        self._users = {e: i for i, e in enumerate(kg.nodes["user"])}

    @property
    def parser(self) -> QueryParser:
        """The scorer's title parser (built on first use)."""
        return self.scorer.parser

    def user(self, user: Any) -> int:
        """Index of a known user (bare id or ``"user:ID"``); ``KeyError`` for an unknown one."""
        if isinstance(user, bool) or not isinstance(user, (str, int, np.integer)):
            raise TypeError(f"user must be a user id (str), got {type(user).__name__}")
        ent = user if str(user).startswith("user:") else user_id(str(user))
        if ent not in self._users:
            known = self.kg.nodes["user"][:5]
            raise KeyError(f"unknown user {entity_key(ent)!r} (known users look like "
                           f"{', '.join(repr(entity_key(u)) for u in known)}; use "
                           "liked=[...] or query=... for a new user)")
        return self._users[ent]

    def movie(self, item: Any) -> int:
        """Index of a movie given as bare item id, ``"movie:ID"`` or title."""
        item = str(item)
        if item.startswith("movie:") or self.kg.has(movie_id(item)):
            return self.kg.index(item if item.startswith("movie:") else movie_id(item))
        return self.kg.index(self.parser.resolve_title(item)[0])

    def session_key(self, who: Any) -> str:
        """``"user:<id>"`` for a known user, ``"session:<id>"`` for anyone else."""
        text = str(who)
        if text.startswith("session:"):
            return text
        ent = text if text.startswith("user:") else user_id(text)
        return ent if ent in self._users else f"session:{text}"

    def parse(self, query: Any) -> QueryIntent:
        """How ``query`` is understood (:func:`kgrec.serve.intent.parse`)."""
        from kgrec.serve.intent import parse

        return parse(query_text(query) or "", self.scorer.vocabulary())

    def request(self, user: Any, k: Any, query: Any, liked: Any, filters: Any,
                exclude_seen: bool, explain: bool, session: Any, store: FeedbackStore
                ) -> Request:
        """The validated, resolved :class:`Request` of one ``recommend`` call (arguments
        as there); the feedback of ``session`` (else of ``user``) comes from ``store``."""
        k = check_k(k)
        query, liked = query_text(query), titles(liked)
        if user is None and not liked and not query:
            raise ValueError("give a user, liked=[titles] or query='...'")
        liked_idx = tuple(self.kg.index(self.parser.resolve_title(t)[0]) for t in liked)
        u = None if user is None else self.user(user)
        intent = self.parse(query) if query else None
        named = tuple(self.kg.index(m.entity) for m in intent.like) if intent else ()
        who = session if session is not None else user
        feedback = None if who is None else store.load(self.session_key(who))
        return Request(u, liked_idx, query, None, named, Filters.parse(filters, self.catalog),
                       k, bool(exclude_seen), bool(explain), intent, feedback)
