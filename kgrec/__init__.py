"""kgrec: explainable knowledge-graph hybrid movie recommendation.

The stages (see DESIGN.md): :mod:`kgrec.data` → :mod:`kgrec.graph` → :mod:`kgrec.text` →
:mod:`kgrec.models` / :mod:`kgrec.train` → :mod:`kgrec.evaluate` → :mod:`kgrec.explain`,
fronted by :class:`kgrec.recommender.Recommender`. Heavy dependencies (torch, PyG,
transformers, rdflib) are imported lazily: ``import kgrec`` stays fast.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "Recommender": ("kgrec.recommender", "Recommender"),
    "Recommendation": ("kgrec.recommender", "Recommendation"),
    "KGRecConfig": ("kgrec.config", "KGRecConfig"),
    "load_dataset": ("kgrec.data", "load_dataset"),
    "KnowledgeGraph": ("kgrec.graph", "KnowledgeGraph"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'kgrec' has no attribute {name!r}")
