"""Ablations: what the knowledge graph and the text add to a model, as numbers with a spread.

The same model is fitted and evaluated on the same split and seeds with its inputs
reduced:

- ``kg`` removed: the graph keeps its users, movies and ``rated`` edges (same indices)
  and loses every other node and edge (genres, people, countries, …), and movies lose
  their release years (GraphSAGE's decade nodes). Models that propagate over side
  entities then see the user–movie graph only.
  Node text is made from the graph (a movie's text names its genres, director and cast),
  so with ``encode_text`` the movie text is re-encoded from the bare graph (title, year,
  description only); without it the full graph's text features are kept, and KG facts
  still reach text-using models through them.
- ``text`` removed: every text feature row is replaced by zeros of the same shape, so
  text-using models keep their architecture but receive no text information.

Variants are ``full``, ``no kg``, ``no text`` and ``no kg+text`` (the ones the requested
removals allow). For each, the metrics are the mean (and population std) over the seeds;
the *gap* of a variant is the relative change of the full model over it,

.. math:: \\mathrm{gap}_v(m) = \\frac{\\bar m_{\\text{full}} - \\bar m_v}{\\bar m_v},

so a positive gap means the removed signal helped. A model that ignores the KG has
exactly zero ``kg`` gap (its fits are identical).

The components of a fusion that read neither the KG nor the text (:func:`signal_free`:
DLAE, EASE, LightGCN over ratings) would be refitted to the same parameters in every
variant; given the full model's fits, their state is reused and only the components
that read a removed signal, and the fusion weights, are fitted again. Given the full
model's fits *and* results, a model that is itself signal-free is not refitted at all
(its variants are its full results, listed in ``reused``); without them it is refitted,
which checks that its fits are indeed identical.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import scipy.sparse as sp
    import torch

    from kgrec.config import KGRecConfig
    from kgrec.evaluate.ranking import EvalResult
    from kgrec.evaluate.segments import Segments
    from kgrec.graph import KnowledgeGraph
    from kgrec.train import FitResult, ModelContext

SIGNALS = ("kg", "text")

#: ``graph -> {node_type: FloatTensor [num_nodes, D]}``: node text features of a graph
TextEncodeFn = Callable[["KnowledgeGraph"], "dict[str, torch.Tensor]"]


def signal_free(name: str, config: KGRecConfig) -> bool:
    """Whether model ``name`` reads neither KG edges nor text features under ``config``
    (its spec: not ``uses_kg``, not ``needs_text``; a fusion: none of its components):
    its fit is the same in every ablation variant."""
    from kgrec.models.registry import components, get_spec

    parts = components(name, config)
    if parts:
        return all(signal_free(part, config) for part in parts)
    spec = get_spec(name)
    return not spec.uses_kg and not spec.needs_text(config)


def without_kg(kg: KnowledgeGraph) -> KnowledgeGraph:
    """The user–movie part of ``kg``: same user and movie vocabularies (so every index
    and matrix stays aligned), only the ``rated`` edges and their ratings."""
    from kgrec.graph.knowledge_graph import RATED, KnowledgeGraph

    nodes = {t: kg.nodes[t] for t in ("user", "movie")}
    edges = {RATED: kg.edges[RATED]} if RATED in kg.edges else {}
    labels = {e: lab for e, lab in kg.labels.items() if e.split(":", 1)[0] in nodes}
    return KnowledgeGraph(nodes, edges, labels, kg.ratings)


def ablate_context(ctx: ModelContext, remove: Iterable[str],
                   encode_text: TextEncodeFn | None = None) -> ModelContext:
    """A copy of ``ctx`` with the signals in ``remove`` (``"kg"``, ``"text"``) taken out
    (see the module docstring); the training and validation matrices are unchanged.

    Args:
        ctx: the full context.
        remove: signals to remove.
        encode_text: ``graph -> {node_type: features}`` (e.g. ``kgrec.text.encode_graph``
            with the dataset bound): re-encodes node text from the KG-less graph.
    """
    from kgrec.train import ModelContext

    remove = set(remove)
    unknown = remove - set(SIGNALS)
    if unknown:
        raise ValueError(f"cannot remove {sorted(unknown)}; choose from {list(SIGNALS)}")
    kg, years, features = ctx.kg, ctx.item_years, ctx.node_features
    if "kg" in remove:
        kg, years = without_kg(kg), None
        if features is not None:
            features = (encode_text(kg) if encode_text is not None and "text" not in remove
                        else {t: x for t, x in features.items() if t in kg.nodes})
    if "text" in remove and features is not None:
        import torch

        features = {t: torch.zeros_like(x) for t, x in features.items()}
    return ModelContext(kg, ctx.train, ctx.valid, features, years)


def variants(remove: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Variant name → removed signals: ``full``, each signal alone, and all together."""
    remove = tuple(dict.fromkeys(remove))
    out: dict[str, tuple[str, ...]] = {"full": ()}
    for signal in remove:
        out[f"no {signal}"] = (signal,)
    if len(remove) > 1:
        out["no " + "+".join(remove)] = remove
    return out


@dataclass
class AblationResult:
    """Test metrics of one model with and without each signal.

    Attributes:
        model: the model's registry name.
        seeds: the training seeds every variant ran with.
        metrics: variant → metric name → mean over seeds.
        std: variant → metric name → population std over seeds (0 for one seed).
        segments: variant → segment name → metric name → mean (when segments were given).
        reused: models and components whose full fits stood in for refits (they read
            neither signal).
    """

    model: str
    seeds: list[int]
    metrics: dict[str, dict[str, float]]
    std: dict[str, dict[str, float]]
    segments: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    reused: list[str] = field(default_factory=list)

    def gap(self, variant: str, metric: str = "ndcg@10", segment: str | None = None) -> float:
        """Relative gain of the full model over ``variant`` (module docstring)."""
        source = self.metrics if segment is None else {
            v: s[segment] for v, s in self.segments.items()}
        full, reduced = source["full"][metric], source[variant][metric]
        return (full - reduced) / reduced if reduced else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "seeds": self.seeds, "metrics": self.metrics,
                "std": self.std, "segments": self.segments, "reused": self.reused}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AblationResult:
        return cls(data["model"], list(data["seeds"]), data["metrics"], data["std"],
                   data.get("segments") or {}, list(data.get("reused") or []))

    def table(self, metrics: Sequence[str] = ("ndcg@10", "recall@20"),
              segment: str | None = "user_q1") -> str:
        """Markdown: one row per variant, mean ± std of ``metrics`` and the full model's gap
        over the variant (and ``metric[0]`` on ``segment`` when segments are known)."""
        seg = segment if segment and self.segments else None
        head = ["variant"] + [m for m in metrics] + [f"gap {m}" for m in metrics]
        if seg:
            head += [f"{metrics[0]} {seg}", f"gap {seg}"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for v in self.metrics:
            cells = [f"{self.model} ({v})"]
            cells += [f"{self.metrics[v][m]:.4f} ± {self.std[v].get(m, 0.0):.4f}" for m in metrics]
            cells += ["–" if v == "full" else f"{self.gap(v, m):+.1%}" for m in metrics]
            if seg:
                cells += [f"{self.segments[v][seg][metrics[0]]:.4f}",
                          "–" if v == "full" else f"{self.gap(v, metrics[0], seg):+.1%}"]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)


def run_ablation(name: str, ctx: ModelContext, *, test: sp.spmatrix, mask: sp.spmatrix,
                 config: KGRecConfig | None = None, seeds: Sequence[int] = (0,),
                 remove: Sequence[str] = SIGNALS, candidates: torch.Tensor | None = None,
                 item_popularity: torch.Tensor | None = None, segments: Segments | None = None,
                 full_results: Sequence[EvalResult] | None = None,
                 encode_text: TextEncodeFn | None = None,
                 full_fits: Sequence[FitResult] | None = None) -> AblationResult:
    """Fit and test model ``name`` on ``ctx`` and on its ablated copies, per seed.

    Args:
        name: registry name of the model (:data:`kgrec.models.registry.REGISTRY`).
        ctx: the full training context (KG, text features, train/valid matrices).
        test, mask: as in :func:`kgrec.evaluate.evaluate` (test items; train+valid items).
        config: hyper-parameters (``train.seed`` is overridden by each seed).
        seeds: training seeds; every variant runs with each of them.
        remove: signals to ablate, a subset of ``("kg", "text")``.
        candidates: cold-start protocol: the only items ranked.
        item_popularity: ``[I]`` training counts for novelty.
        segments: report segment metrics too (:func:`kgrec.evaluate.training_segments`).
        full_results: already measured test results of the full model, one per seed (the
            benchmark passes its own, so the full model is not fitted twice).
        encode_text: re-encodes node text of the KG-less graph (:func:`ablate_context`).
        full_fits: the full model's fits, one per seed: a fusion's :func:`signal_free`
            components are taken from them instead of being refitted.

    Returns:
        An :class:`AblationResult`.
    """
    from kgrec.config import KGRecConfig
    from kgrec.evaluate.ranking import evaluate
    from kgrec.evaluate.segments import mean_segments
    from kgrec.train import fit_model

    config = config or KGRecConfig()
    seeds = list(seeds)
    for given, label in ((full_results, "full_results"), (full_fits, "full_fits")):
        if given is not None and len(given) != len(seeds):
            raise ValueError(f"{len(given)} {label} for {len(seeds)} seeds")
    reusable = [{} for _ in seeds] if full_fits is None else [
        {n: f for n, f in fit.component_fits().items() if signal_free(n, config)}
        for fit in full_fits]
    skip = full_fits is not None and full_results is not None and signal_free(name, config)
    reused = [name] if skip else sorted(set().union(*reusable))
    metrics: dict[str, dict[str, float]] = {}
    std: dict[str, dict[str, float]] = {}
    by_segment: dict[str, dict[str, dict[str, float]]] = {}
    for variant, removed in variants(remove).items():
        if (variant == "full" or skip) and full_results is not None:
            results = list(full_results)
        else:
            vctx = ablate_context(ctx, removed, encode_text) if removed else ctx
            results = []
            for seed, reuse in zip(seeds, reusable):
                cfg = config.replace(train={"seed": seed})
                fitted = fit_model(name, vctx, cfg, fitted=reuse)
                results.append(evaluate(fitted.model, test=test, mask=mask, ks=(10, 20),
                                        candidates=candidates, item_popularity=item_popularity,
                                        segments=segments))
        keys = list(results[0].metrics)
        metrics[variant] = {k: float(np.mean([r.metrics[k] for r in results])) for k in keys}
        std[variant] = {k: float(np.std([r.metrics[k] for r in results])) for k in keys}
        seg = mean_segments(r.segments for r in results)
        if seg:
            by_segment[variant] = seg
    return AblationResult(name, seeds, metrics, std, by_segment, reused)


__all__ = ["AblationResult", "SIGNALS", "ablate_context", "run_ablation", "signal_free",
           "variants", "without_kg"]
