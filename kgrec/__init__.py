"""kgrec: explainable knowledge-graph hybrid movie recommendation.

The stages (see DESIGN.md): :mod:`kgrec.data` → :mod:`kgrec.graph` → :mod:`kgrec.text` →
:mod:`kgrec.models` / :mod:`kgrec.train` → :mod:`kgrec.evaluate` → :mod:`kgrec.explain`,
fronted by :class:`kgrec.recommender.Recommender`. Heavy dependencies (torch, PyG,
transformers, rdflib) are imported lazily by the stages that need them.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
