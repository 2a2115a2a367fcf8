"""Explanation quality of recommendation lists: coverage, diversity, length, fidelity.

Definitions (each a small function, combined by :func:`evaluate_explanations`):

* **coverage**: share of recommended items with at least one explanation path of at most
  3 hops: :math:`\\frac{1}{|R|} \\sum_{(u,i) \\in R} [\\exists\\, p: \\text{hops}(p) \\le 3]`.
* **path-type diversity**: mean, over recommendation lists, of the number of distinct path
  types among the list's explanations; a path type is ``content:<relation>`` (e.g.
  ``content:directed_by``), ``collaborative`` or ``kg``. A list explained only by shared
  genres scores 1, one mixing directors, actors and co-raters scores 3.
* **path-type entropy**: Shannon entropy in bits of the path-type distribution over all
  explanations, :math:`H = -\\sum_t p_t \\log_2 p_t` (0 when every path has one type).
* **mean path length**: mean number of hops over all returned explanations.
* **fidelity**: does the explanation's anchor matter to the model? For each explanation,
  the item's score with the user's full history minus its score after removing the
  anchor: :math:`\\Delta = s(u, H)_i - s(u, H \\setminus \\{A\\})_i`; reported as the
  share of cases with :math:`\\Delta > 0` and the mean :math:`\\Delta`, next to the mean
  drop :math:`\\Delta_{\\text{rand}}` when a random other history item is removed instead,
  and the share of cases with :math:`\\Delta > \\Delta_{\\text{rand}}` (**fidelity against
  the random-removal baseline**: a faithful explanation names an item that matters more
  than a random one).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from kgrec.explain.types import KINDS
from kgrec.graph.knowledge_graph import RATED

if TYPE_CHECKING:
    from kgrec.explain.search import PathExplainer
    from kgrec.explain.types import Explanation
    from kgrec.graph.knowledge_graph import KnowledgeGraph

__all__ = [
    "ExplanationQuality", "Fidelity", "ScoreFn", "coverage", "evaluate_explanations",
    "fidelity", "mean_path_length", "path_type_diversity", "path_type_entropy",
]

#: ``score_fn(user_index, history_item_indices [n]) -> scores [num_items]``.
ScoreFn = Callable[[int, np.ndarray], np.ndarray]


def coverage(per_recommendation: Sequence[Sequence[Explanation]], max_hops: int = 3) -> float:
    """Share of recommendations with at least one explanation of ``<= max_hops`` hops.

    Args:
        per_recommendation: the explanations of each recommended (user, item).
        max_hops: longest path that counts (default 3).

    Returns:
        A value in ``[0, 1]``; ``nan`` for no recommendations.
    """
    if not per_recommendation:
        return math.nan
    hit = sum(any(e.hops <= max_hops for e in expl) for expl in per_recommendation)
    return hit / len(per_recommendation)


def path_type_diversity(per_list: Sequence[Iterable[Explanation]]) -> float:
    """Mean number of distinct path types (``Explanation.path_type``) per recommendation
    list; ``per_list[j]`` holds all explanations of list ``j``'s items. ``nan`` for no
    lists."""
    if not per_list:
        return math.nan
    return float(np.mean([len({e.path_type for e in expl}) for expl in per_list]))


def path_type_entropy(explanations: Iterable[Explanation]) -> float:
    """Shannon entropy (bits) of the path types of ``explanations``; ``nan`` if empty."""
    counts = np.array(list(Counter(e.path_type for e in explanations).values()), dtype=float)
    if not counts.size:
        return math.nan
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum()) + 0.0


def mean_path_length(explanations: Iterable[Explanation]) -> float:
    """Mean number of hops; ``nan`` if there are no explanations."""
    hops = [e.hops for e in explanations]
    return float(np.mean(hops)) if hops else math.nan


@dataclass(frozen=True)
class Fidelity:
    """Score drops when an explanation's anchor is removed from the user's history.

    Attributes:
        cases: explanations tested (those with an anchor in the user's history).
        share_dropped: share of cases where the item's score fell (``Δ > tol``).
        mean_drop: mean ``Δ`` (score with the anchor minus score without).
        mean_drop_random: mean ``Δ`` when a random other history item is removed
            instead (``None`` when no user had another item).
        share_dropped_random: share of cases where removing the random item lowered the
            score (``Δ_rand > tol``).
        share_above_random: share of cases (with another item) where removing the
            anchor lowered the score more than removing the random item
            (``Δ > Δ_rand + tol``): fidelity against the random-removal baseline.
    """

    cases: int
    share_dropped: float
    mean_drop: float
    mean_drop_random: float | None
    share_dropped_random: float | None = None
    share_above_random: float | None = None

    def __repr__(self) -> str:
        if self.mean_drop_random is None or self.share_above_random is None:
            base = "no random baseline"
        else:
            base = (f"{self.share_above_random:.1%} above a random history item's drop "
                    f"(random: dropped in {self.share_dropped_random:.1%}, mean "
                    f"{self.mean_drop_random:.4g})")
        return (f"Fidelity({self.cases} cases: score dropped in {self.share_dropped:.1%}, "
                f"mean drop {self.mean_drop:.4g}; {base})")


def _histories(kg: KnowledgeGraph) -> tuple[np.ndarray, np.ndarray]:
    index = kg.edges.get(RATED, np.zeros((2, 0), dtype=np.int64))
    order = np.lexsort((index[1], index[0]))
    users, items = index[0][order], index[1][order]
    return np.searchsorted(users, np.arange(kg.num_users + 1)), items


def fidelity(score_fn: ScoreFn, explanations: Iterable[Explanation], kg: KnowledgeGraph, *,
             seed: int = 0, tol: float = 1e-12) -> Fidelity:
    """Does removing each explanation's anchor lower the recommended item's score?

    For explanation ``e`` of user ``u``, item ``i`` and anchor ``A`` with ``H`` the user's
    rated movies in ``kg``: :math:`\\Delta = s(u, H)_i - s(u, H \\setminus \\{A\\})_i`,
    and the same with a random other item of ``H`` removed (seeded) as a baseline.

    Args:
        score_fn: ``score_fn(user_index, history_item_indices) -> scores [num_items]``,
            supplied by the model (e.g. an item-item cosine scorer).
        explanations: one explanation per tested case (normally each recommendation's
            top explanation); those without an anchor in the history are skipped.
        kg: the graph the explanations come from (user histories).
        seed: seed of the random baseline.
        tol: a drop counts when ``Δ > tol``.
    """
    bounds, items = _histories(kg)
    rng = np.random.default_rng(seed)
    full_cache: dict[int, np.ndarray] = {}
    drops, random_drops, above = [], [], []
    for e in explanations:
        if e.anchor is None or not e.user:  # no history to remove from (explain_from)
            continue
        u, i, a = kg.index(e.user), kg.index(e.item), kg.index(e.anchor)
        history = items[bounds[u]:bounds[u + 1]]
        if not np.any(history == a):
            continue
        if u not in full_cache:
            full_cache[u] = np.asarray(score_fn(u, history), dtype=np.float64)
        full = full_cache[u][i]
        drops.append(full - float(np.asarray(score_fn(u, history[history != a]))[i]))
        others = history[(history != a) & (history != i)]
        if others.size:
            r = others[rng.integers(len(others))]
            random_drops.append(full - float(np.asarray(score_fn(u, history[history != r]))[i]))
            above.append(drops[-1] > random_drops[-1] + tol)
    if not drops:
        return Fidelity(0, math.nan, math.nan, None)
    d, rd = np.array(drops), np.array(random_drops)
    return Fidelity(len(d), float(np.mean(d > tol)), float(d.mean()),
                    float(rd.mean()) if rd.size else None,
                    float(np.mean(rd > tol)) if rd.size else None,
                    float(np.mean(above)) if above else None)


@dataclass(frozen=True)
class ExplanationQuality:
    """Explanation metrics of a set of recommendation lists (see the module docstring).

    Attributes:
        num_lists, num_recommendations: lists and (user, item) pairs evaluated.
        coverage: share of recommendations with a path of at most 3 hops.
        path_type_diversity: mean distinct path types per list.
        path_type_entropy: entropy (bits) of the path types of all explanations.
        mean_path_length: mean hops over all returned explanations.
        kind_shares: share of each kind among the top explanations of explained items.
        fidelity: anchor-removal test, when a ``score_fn`` was given.
    """

    num_lists: int
    num_recommendations: int
    coverage: float
    path_type_diversity: float
    path_type_entropy: float
    mean_path_length: float
    kind_shares: dict[str, float] = field(default_factory=dict)
    fidelity: Fidelity | None = None

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON-ready dict (``nan`` → ``None``, fidelity fields prefixed)."""
        def clean(v: Any) -> Any:
            return None if isinstance(v, float) and math.isnan(v) else v

        out: dict[str, Any] = {k: clean(v) for k, v in asdict(self).items()
                               if k not in ("fidelity", "kind_shares")}
        out["kind_shares"] = dict(self.kind_shares)
        if self.fidelity is not None:
            for k, v in asdict(self.fidelity).items():
                out[f"fidelity_{k}"] = clean(v)
        return out

    def __repr__(self) -> str:
        kinds = ", ".join(f"{k} {v:.0%}" for k, v in self.kind_shares.items()) or "none"
        lines = [
            f"ExplanationQuality({self.num_lists:,} lists, {self.num_recommendations:,} "
            f"recommendations)",
            f"  coverage (<= 3 hops)  {self.coverage:.3f}",
            f"  path-type diversity   {self.path_type_diversity:.2f} types per list",
            f"  path-type entropy     {self.path_type_entropy:.2f} bits",
            f"  mean path length      {self.mean_path_length:.2f} hops",
            f"  top explanation kind  {kinds}",
        ]
        if self.fidelity is not None:
            lines.append(f"  fidelity              {self.fidelity!r}")
        return "\n".join(lines)


def evaluate_explanations(explainer: PathExplainer,
                          recommendations: Mapping[Any, Sequence[Any]]
                          | Iterable[tuple[Any, Sequence[Any]]], *,
                          k: int = 3, score_fn: ScoreFn | None = None, seed: int = 0
                          ) -> ExplanationQuality:
    """Explain every recommended item and measure the explanations.

    Args:
        explainer: a :class:`~kgrec.explain.PathExplainer` over the training graph.
        recommendations: user → recommended items (ids or indices, as
            :meth:`PathExplainer.explain` accepts), as a mapping or ``(user, items)``
            pairs.
        k: explanations per item.
        score_fn: model scorer for :func:`fidelity` (skipped when ``None``); tested on
            each item's top explanation.
        seed: seed of the fidelity baseline.
    """
    pairs = recommendations.items() if isinstance(recommendations, Mapping) else recommendations
    per_rec: list[list[Explanation]] = []
    per_list: list[list[Explanation]] = []
    for user, items in pairs:
        expl = [explainer.explain(user, item, k) for item in items]
        per_rec += expl
        per_list.append([e for ex in expl for e in ex])
    everything = [e for ex in per_rec for e in ex]
    tops = [ex[0] for ex in per_rec if ex]
    counts = Counter(e.kind for e in tops)
    shares = {kind: counts[kind] / len(tops) for kind in KINDS if counts[kind]}
    fid = None if score_fn is None else fidelity(score_fn, tops, explainer.kg, seed=seed)
    return ExplanationQuality(len(per_list), len(per_rec), coverage(per_rec),
                              path_type_diversity(per_list), path_type_entropy(everything),
                              mean_path_length(everything), shares, fid)
