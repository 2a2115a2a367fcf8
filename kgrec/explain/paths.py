"""Former home of the explainer, kept so that ``from kgrec.explain.paths import ...`` keeps
working: the code now lives in :mod:`kgrec.explain.types` (:class:`Explanation`,
:class:`PathStep`, :data:`KINDS`, :func:`path_exists`) and :mod:`kgrec.explain.search`
(:class:`PathExplainer`). Import from :mod:`kgrec.explain` instead."""

from kgrec.explain.search import PathExplainer
from kgrec.explain.types import KINDS, Explanation, PathStep, path_exists

__all__ = ["KINDS", "Explanation", "PathExplainer", "PathStep", "path_exists"]
