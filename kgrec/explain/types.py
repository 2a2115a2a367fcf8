"""Typed results of the explainer: :class:`PathStep`, :class:`Explanation`, the kinds of
explanation, which relations are strong, and :func:`path_exists` (is an explanation a real
path of the graph?).

Strong and weak relations. A *strong* relation says why someone who liked the anchor may
like the item: the same director (``directed_by``), writer (``written_by``), cast member
(``starring``), genre (``has_genre``), a sequel or prequel (``sequel``, ``prequel``), or
co-watching (a ``"collaborative"`` path). Every other relation is *weak*: country
(``from_country``), language (``in_language``), content rating (``rating``), award
nominations and awards (``award_nomination``, ``award_won``), production company
(``production_companies``), producer (``produced_by``), cinematographer
(``cinematography``), subject, tag, and any relation a source adds. A weak relation is
never the top explanation of an item when a strong one exists
(:class:`~kgrec.explain.search.PathExplainer`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from kgrec.data.dataset import entity_type

if TYPE_CHECKING:
    from kgrec.graph.knowledge_graph import KnowledgeGraph

__all__ = ["KINDS", "STRONG_RELATIONS", "Explanation", "PathStep", "is_strong", "path_exists"]

#: Kinds of explanation, in tie-breaking order.
KINDS = ("content", "collaborative", "kg", "query", "feedback")

#: Relations whose shared entity (or direct link) is a strong reason (see the module
#: docstring); collaborative paths are strong too.
STRONG_RELATIONS = frozenset({"directed_by", "written_by", "starring", "has_genre", "sequel",
                              "prequel"})


def is_strong(kind: str, relation: str | None) -> bool:
    """Whether an explanation of ``kind`` through ``relation`` is strong: collaborative
    paths, and content paths through :data:`STRONG_RELATIONS`."""
    return kind == "collaborative" or (kind == "content" and relation in STRONG_RELATIONS)


@dataclass(frozen=True)
class PathStep:
    """One edge of a path, stored as it exists in the graph.

    Attributes:
        head, relation, tail: the edge ``head -relation-> tail`` (entity ids), exactly as
            in ``kg.edges[(type(head), relation, type(tail))]``.
        forward: ``True`` when the path walks ``head → tail``, ``False`` when it walks the
            edge backwards (``tail → head``), e.g. the last step of ``A -directed_by-> P
            <-directed_by- T``.
    """

    head: str
    relation: str
    tail: str
    forward: bool = True

    @property
    def source(self) -> str:
        """Node the path leaves by this step."""
        return self.head if self.forward else self.tail

    @property
    def target(self) -> str:
        """Node the path reaches by this step."""
        return self.tail if self.forward else self.head

    def __repr__(self) -> str:
        if self.forward:
            return f"{self.head} -{self.relation}-> {self.tail}"
        return f"{self.tail} <-{self.relation}- {self.head}"


@dataclass(frozen=True, repr=False)
class Explanation:
    """Why ``item`` is recommended to ``user``: one path and its sentence.

    Attributes:
        user, item: entity ids (``"user:7"``, ``"movie:50"``). ``user`` is ``""`` for a
            person who is not in the graph
            (:meth:`~kgrec.explain.search.PathExplainer.explain_from`: a cold-start user's
            stated likes or a text query); the path then starts at the anchor.
        kind: one of :data:`KINDS`: ``"content"``, ``"collaborative"``, ``"kg"``, or
            ``"query"`` (a path from what a text query names to the movie) or
            ``"feedback"`` ("more like X, as you asked"), both built by the serving layer
            (:mod:`kgrec.serve`).
        steps: the path, from ``user`` to ``item`` (from ``anchor`` to ``item`` when
            ``user`` is ``""``), each step an existing graph edge.
        anchor: the movie of the user's history (or the stated like) the path starts
            from: ``steps[0].tail``, or the first node when ``user`` is ``""``.
        shared: the entity the anchor and the item share (director, actor, genre...), the
            node before ``item`` for ``"kg"`` paths; ``None`` for collaborative paths and
            direct movie–movie links.
        salience: the path's score in ``[0, 1]``
            (:class:`~kgrec.explain.search.PathExplainer`); lists are returned in rank
            order, which also puts strong before weak relations.
        text: the sentence (:func:`kgrec.explain.render.render`).
        support: collaborative paths: number of other users who rated the anchor(s) and
            the item; 0 otherwise.
        co_anchors: further anchors named in a merged collaborative sentence ("people who
            liked Heat and Casino..."); the steps go through ``anchor`` only.
    """

    user: str
    item: str
    kind: str
    steps: tuple[PathStep, ...]
    anchor: str | None
    shared: str | None
    salience: float
    text: str
    support: int = 0
    co_anchors: tuple[str, ...] = ()

    @property
    def hops(self) -> int:
        """Number of edges in the path (for ``user=""`` the stated like is not an edge,
        so a content path has 2 hops instead of 3)."""
        return len(self.steps)

    @property
    def nodes(self) -> tuple[str, ...]:
        """Entity ids along the path, ``user`` (or, when ``user`` is ``""``, ``anchor``)
        first and ``item`` last."""
        if not self.steps:
            return ()
        return (self.steps[0].source,) + tuple(s.target for s in self.steps)

    @property
    def relation(self) -> str | None:
        """The relation that links anchor and item (``"directed_by"``, ``"rated"`` for
        collaborative paths, the last relation for ``"kg"`` paths)."""
        return self.steps[-1].relation if self.steps else None

    @property
    def strong(self) -> bool:
        """Whether this is a strong explanation (:func:`is_strong`)."""
        return is_strong(self.kind, self.relation)

    @property
    def path_type(self) -> str:
        """``"content:<relation>"``, ``"collaborative"`` or ``"kg"``: what
        :func:`kgrec.explain.quality.path_type_diversity` counts."""
        if self.kind == "content":
            return f"content:{self.relation}"
        return self.kind

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        hops = f"{self.hops} hop" + ("" if self.hops == 1 else "s")
        return f"{self.text} [{self.kind}, {hops}, salience {self.salience:.3f}]"


def _edge_exists(kg: KnowledgeGraph, head: str, relation: str, tail: str) -> bool:
    try:
        edge_type = (entity_type(head), relation, entity_type(tail))
    except ValueError:
        return False
    index = kg.edges.get(edge_type)
    if index is None or not kg.has(head) or not kg.has(tail):
        return False
    h, t = kg.index(head), kg.index(tail)
    return bool(np.any((index[0] == h) & (index[1] == t)))


def path_exists(kg: KnowledgeGraph, explanation: Explanation) -> bool:
    """Whether ``explanation`` is a real path of ``kg``.

    True when the steps are non-empty, each is an edge of ``kg`` (``head -relation->
    tail`` in ``kg.edges``), consecutive steps connect (each step's target is the next
    step's source), the path starts at ``explanation.user`` and ends at
    ``explanation.item``, the anchor (if any) is the node after the user, and the shared
    entity (if any) lies on the path. For a person not in the graph (``user == ""``,
    :meth:`~kgrec.explain.search.PathExplainer.explain_from`) the path must instead start
    at the anchor, which must be given.
    """
    steps = explanation.steps
    if not steps:
        return False
    nodes = explanation.nodes
    start = explanation.user or explanation.anchor
    if start is None or nodes[0] != start or nodes[-1] != explanation.item:
        return False
    if any(a.target != b.source for a, b in zip(steps, steps[1:])):
        return False
    if explanation.user and explanation.anchor is not None and nodes[1] != explanation.anchor:
        return False
    if explanation.shared is not None and explanation.shared not in nodes[1:-1]:
        return False
    return all(_edge_exists(kg, s.head, s.relation, s.tail) for s in steps)

