"""Graph stage: :class:`KnowledgeGraph` and its networkx / rdflib / PyG views."""

from kgrec.graph.knowledge_graph import RATED, GraphStats, KnowledgeGraph

__all__ = ["RATED", "GraphStats", "KnowledgeGraph"]
