"""Explanations: knowledge-graph paths from a user to a recommended movie, ranked by a
documented salience score and rendered as sentences; the same content-path query in
SPARQL; and explanation quality metrics.

Modules (each imports only the ones before it):

* :mod:`~kgrec.explain.types`: :class:`PathStep`, :class:`Explanation`, :data:`KINDS`,
  which relations are strong (:data:`STRONG_RELATIONS`), :func:`path_exists`;
* :mod:`~kgrec.explain.index`: the graph's adjacency as CSR arrays (likes, content
  sources, the item-side graph);
* :mod:`~kgrec.explain.render`: one sentence per explanation, unambiguous titles;
* :mod:`~kgrec.explain.search`: :class:`PathExplainer`, from a user of the graph
  (:meth:`PathExplainer.explain`) or from stated likes (:meth:`PathExplainer.explain_from`);
* :mod:`~kgrec.explain.effect`: the model's leave-one-out effect, which picks the anchor;
* :mod:`~kgrec.explain.quality`: coverage, diversity, path length, fidelity against a
  random-removal baseline;
* :mod:`~kgrec.explain.sparql`: the content-path query over the rdflib view (imports
  rdflib when called).
"""

from kgrec.explain.effect import leave_one_out, model_anchor_effect
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
from kgrec.explain.render import display_name, render, role_noun, unambiguous_titles
from kgrec.explain.search import PathExplainer
from kgrec.explain.types import (
    KINDS,
    STRONG_RELATIONS,
    Explanation,
    PathStep,
    is_strong,
    path_exists,
)


def content_paths_sparql(rdf_graph, user_entity: str, item_entity: str):
    """Content paths ``(anchor, relation, shared)`` from ``user_entity`` to
    ``item_entity`` found by SPARQL; see :func:`kgrec.explain.sparql.content_paths_sparql`
    (imported lazily: it needs rdflib)."""
    from kgrec.explain.sparql import content_paths_sparql as _query

    return _query(rdf_graph, user_entity, item_entity)


__all__ = [
    "KINDS", "STRONG_RELATIONS", "Explanation", "ExplanationQuality", "Fidelity",
    "PathExplainer", "PathStep", "content_paths_sparql", "coverage", "display_name",
    "evaluate_explanations", "fidelity", "is_strong", "leave_one_out", "mean_path_length",
    "model_anchor_effect", "path_exists", "path_type_diversity", "path_type_entropy",
    "render", "role_noun", "unambiguous_titles",
]
