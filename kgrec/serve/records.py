"""Results of a request: :class:`~kgrec.serve.request.Recommendation` records with their
explanations, built from the request alone (never from state left by another request).

What the request asked for is explained first: the parts of its
:class:`~kgrec.serve.intent.QueryIntent` the movie meets
(:func:`kgrec.serve.intent_scoring.explain_intent`) and the "more like this" feedback it
follows (:func:`kgrec.serve.feedback.feedback_explanations`). Then, in this order until
``max_paths`` are found, from the user's ratings
(:meth:`PathExplainer.explain`), from the entities the query names (one-edge paths,
:func:`query_explanations`), and from the stated likes and movies the query names
(:meth:`PathExplainer.explain_from`); they are returned most salient first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from kgrec.serve.catalog import Catalog
from kgrec.serve.request import Recommendation, Request

if TYPE_CHECKING:
    from kgrec.explain import Explanation, PathExplainer
    from kgrec.serve.intent_scoring import ItemFacts
    from kgrec.serve.scoring import Scorer


def query_explanations(catalog: Catalog, item: int, entities: list[str], k: int
                       ) -> list[Explanation]:
    """One-edge paths from an entity the query names (a person, a genre...) to movie
    ``item``, e.g. "Jackie Brown: Quentin Tarantino is its director, as your query asks".

    Salience is the entity's rarity over the catalogue, as for content paths:
    :math:`\\log(1 + I / n_e) / \\log(1 + I)` with :math:`n_e` the movies the relation links
    to the entity (a director of 6 films says more than a genre of 100).
    """
    from kgrec.explain import Explanation, PathStep
    from kgrec.explain.render import role_noun

    kg, n = catalog.kg, catalog.num_items
    movie = kg.nodes["movie"][item]
    out: list[Explanation] = []
    for entity in entities:
        if len(out) >= k:
            break
        link = catalog.link(item, entity)
        if link is None:
            continue
        relation, count = link
        label = kg.labels.get(entity, entity)
        text = f"{catalog.titles[item]}: {label} is its {role_noun(relation)}, as your query asks."
        salience = float(np.log1p(n / max(1, count)) / np.log1p(n))
        out.append(Explanation(user="", item=movie, kind="query",
                               steps=(PathStep(movie, relation, entity, False),),
                               anchor=entity, shared=None, salience=salience, text=text))
    return out


def asked(request: Request, item: int, facts: ItemFacts | None, max_paths: int,
          text_similarity: float | None = None) -> list[Explanation]:
    """Explanations of the parts of the request (intent, feedback) ``item`` satisfies."""
    out: list[Explanation] = []
    if facts is None:
        return out
    if request.intent is not None:
        from kgrec.serve.intent_scoring import explain_intent

        out += explain_intent(request.intent, facts, item, text_similarity=text_similarity,
                              k=max_paths)
    if request.feedback is not None and request.feedback.more_like:
        from kgrec.serve.feedback import feedback_explanations

        out += feedback_explanations(request.feedback, facts, item)
    return out


def explanations(request: Request, item: int, explainer: PathExplainer, catalog: Catalog,
                 max_paths: int, facts: ItemFacts | None = None,
                 text_similarity: float | None = None) -> tuple[Explanation, ...]:
    """Up to ``max_paths`` explanations of ``item`` for ``request``: those of what it
    asked for first, then the others most salient first."""
    first = asked(request, item, facts, max_paths, text_similarity)
    ranked: list[Explanation] = []  # the explainer's order: strong first, faithful anchor
    if request.user is not None:
        ranked = list(explainer.explain(request.user, item, max_paths))
    out: list[Explanation] = []
    entities = request.query_entities
    if entities and len(ranked) + len(out) < max_paths:
        out += query_explanations(catalog, item, entities, max_paths - len(ranked) - len(out))
    anchors = request.anchors
    if anchors and len(ranked) + len(out) < max_paths:
        out += explainer.explain_from(anchors, item, max_paths - len(ranked) - len(out))
    out.sort(key=lambda e: -e.salience)
    return tuple((first + ranked + out)[:max(max_paths, len(first))])


def record(request: Request, item: int, score: float, explainer: PathExplainer,
           catalog: Catalog, max_paths: int, scorer: Scorer | None = None) -> Recommendation:
    """The :class:`Recommendation` of movie index ``item`` with score ``score``
    (``scorer`` gives the facts and text similarity that intent explanations cite)."""
    why: tuple[Explanation, ...] = ()
    if request.explain:
        why = explanations(request, item, explainer, catalog, max_paths,
                           None if scorer is None else scorer.facts,
                           None if scorer is None else scorer.text_similarity(request, item))
    return Recommendation(catalog.item_ids[item], catalog.titles[item], score,
                          catalog.year(item), why, request.intent)


def batch_records(users: list[int], values: list[list[float]], items: list[list[int]],
                  explainer: PathExplainer, catalog: Catalog, max_paths: int, *, k: int,
                  exclude_seen: bool, explain: bool) -> dict[str, list[Recommendation]]:
    """Records of a batch of known users (node indices ``users``, each with its top-``k``
    ``values`` and ``items``; ``-inf`` scores dropped); bare user id → records."""
    from kgrec.data.dataset import entity_key

    out = {}
    for u, vals, its in zip(users, values, items):
        request = Request(u, k=k, exclude_seen=exclude_seen, explain=explain)
        out[entity_key(explainer.kg.nodes["user"][u])] = [
            record(request, i, s, explainer, catalog, max_paths)
            for s, i in zip(vals, its) if s > -np.inf]
    return out
