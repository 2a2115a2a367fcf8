"""Explanations: knowledge-graph paths from a user to a recommended movie, ranked by a
documented salience score and rendered as sentences; the same content-path query in
SPARQL; and explanation quality metrics.

:class:`PathExplainer` finds the paths (:mod:`kgrec.explain.paths`): from a user of the
graph (:meth:`PathExplainer.explain`) or, for a person not in the graph (a cold-start
user's stated likes, a text query naming movies), from the movies they like
(:meth:`PathExplainer.explain_from`, explanations with ``user=""``); :func:`render` words
them (:mod:`kgrec.explain.render`), :func:`content_paths_sparql` cross-checks them over the
rdflib view (:mod:`kgrec.explain.sparql`, imports rdflib when called) and
:func:`evaluate_explanations` measures coverage, diversity, path length and fidelity
(:mod:`kgrec.explain.quality`).
"""

from kgrec.explain.paths import KINDS, Explanation, PathExplainer, PathStep, path_exists
from kgrec.explain.quality import (
    ExplanationQuality,
    Fidelity,
    coverage,
    evaluate_explanations,
    fidelity,
    mean_path_length,
    path_type_diversity,
    path_type_entropy,
)
from kgrec.explain.render import display_name, render, role_noun


def content_paths_sparql(rdf_graph, user_entity: str, item_entity: str):
    """Content paths ``(anchor, relation, shared)`` from ``user_entity`` to
    ``item_entity`` found by SPARQL; see :func:`kgrec.explain.sparql.content_paths_sparql`
    (imported lazily: it needs rdflib)."""
    from kgrec.explain.sparql import content_paths_sparql as _query

    return _query(rdf_graph, user_entity, item_entity)


__all__ = [
    "KINDS", "Explanation", "ExplanationQuality", "Fidelity", "PathExplainer", "PathStep",
    "content_paths_sparql", "coverage", "display_name", "evaluate_explanations", "fidelity",
    "mean_path_length", "path_exists", "path_type_diversity", "path_type_entropy", "render",
    "role_noun",
]
