"""The content-path query of :class:`~kgrec.explain.PathExplainer`, in SPARQL.

Runs over the rdflib view of the graph (:func:`kgrec.graph.rdf.to_rdf`, or a Turtle file
read back with :func:`kgrec.graph.rdf.load_turtle`), in the vocabulary of
:mod:`kgrec.graph.rdf`. It finds the same content paths as
``PathExplainer(kg, liked=None).explain(user, item, k=None)`` (every rating): an
independent check that the Python search neither misses nor invents paths.

This module imports rdflib (through :mod:`kgrec.graph.rdf`); import it lazily.
"""

from __future__ import annotations

from rdflib import Graph
from rdflib.namespace import RDF

from kgrec.graph.rdf import entity_uri, sparql

__all__ = ["CONTENT_PATHS_QUERY", "content_paths_sparql"]

#: Content paths from ``?user`` to ``?item``: the user rated an anchor movie, and the
#: anchor and the item share an entity through the same predicate (stored movie → entity
#: or entity → movie), or are linked directly by a movie → movie predicate (``?shared``
#: unbound). Shared entities are neither movies nor users; ``rdf:type``, ``rdfs:label`` and
#: ``kg:rated`` are not relations between movies.
CONTENT_PATHS_QUERY = """
SELECT DISTINCT ?anchor ?relation ?shared WHERE {
    ?user kg:rated ?anchor .
    FILTER (?anchor != ?item)
    {
        ?anchor ?relation ?shared .
        ?item ?relation ?shared .
    } UNION {
        ?shared ?relation ?anchor .
        ?shared ?relation ?item .
    } UNION {
        ?anchor ?relation ?item .
    } UNION {
        ?item ?relation ?anchor .
    }
    FILTER (?relation NOT IN (rdf:type, rdfs:label, kg:rated))
    FILTER (!BOUND(?shared) || (isIRI(?shared)
            && NOT EXISTS { ?shared a schema:Movie }
            && NOT EXISTS { ?shared a kg:User }))
}
"""


def content_paths_sparql(rdf_graph: Graph, user_entity: str, item_entity: str
                         ) -> set[tuple[str, str, str | None]]:
    """Content paths from a user to a movie, found by one SPARQL query.

    The query (:data:`CONTENT_PATHS_QUERY`) matches ``user -rated-> anchor -r-> shared
    <-r- item`` (and ``anchor <-r- shared -r-> item`` for relations stored entity →
    movie), plus direct links ``anchor -r-> item`` / ``item -r-> anchor``.

    Args:
        rdf_graph: the rdflib view of a knowledge graph.
        user_entity: e.g. ``"user:7"``.
        item_entity: e.g. ``"movie:50"``.

    Returns:
        ``{(anchor, relation, shared)}``: entity ids and relation names, ``shared`` is
        ``None`` for direct links. ``KeyError`` naming the entity if the graph lacks the
        user or the item.
    """
    for entity in (user_entity, item_entity):
        if rdf_graph.value(entity_uri(entity), RDF.type) is None:
            raise KeyError(f"{entity!r} is not an entity of this RDF graph")
    rows = sparql(rdf_graph, CONTENT_PATHS_QUERY, user=user_entity, item=item_entity)
    return {(r["anchor"], r["relation"], r.get("shared")) for r in rows}
