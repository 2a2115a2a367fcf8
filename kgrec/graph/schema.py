"""Names shared by the graph and its views: the edge-type key and the rating relation.

A module of its own so that the views (:mod:`kgrec.graph.views`, :mod:`kgrec.graph.rdf`)
and :class:`~kgrec.graph.knowledge_graph.KnowledgeGraph` (whose ``to_networkx`` /
``to_rdf`` call them) do not import each other.
"""

from __future__ import annotations

#: ``(source node type, relation, target node type)``.
EdgeType = tuple[str, str, str]

#: The rating edges: ``user -rated-> movie``.
RATED: EdgeType = ("user", "rated", "movie")
