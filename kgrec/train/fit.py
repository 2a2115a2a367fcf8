"""Wiring: dataset → graph → text features → :class:`ModelContext` → fitted model.

:func:`build_context` is the one place that turns a dataset and a training split into
what models learn from; :class:`~kgrec.recommender.Recommender`, the benchmark and the
CLI all call it. :func:`fit_model` fits any registered model the way its
:class:`~kgrec.models.registry.ModelSpec` says (closed form, BPR, or a fusion of
components whose weights are then chosen on validation data).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
import torch

from kgrec.config import KGRecConfig
from kgrec.graph.knowledge_graph import KnowledgeGraph
from kgrec.models.base import ScoringModel
from kgrec.models.registry import BPR, CLOSED_FORM, FUSION, build_model, get_spec
from kgrec.train.bpr import TrainResult, ndcg_validator, train_bpr

if TYPE_CHECKING:
    import pandas as pd

    from kgrec.data.dataset import MovieDataset
    from kgrec.text import TextEncoder


@dataclass
class ModelContext:
    """What models may learn from: the training graph and matrices, never test data.

    Attributes:
        kg: knowledge graph built from the *training* interactions.
        train: binary ``[U, I]`` training positives (equal to ``kg``'s ``rated`` edges).
        valid: binary ``[U, I]`` validation positives for early stopping and fusion
            weights (``None``: train without validation for ``train.epochs``).
        node_features: text features per node type (``kgrec.text.encode_graph``);
            needed by the models whose spec ``needs_text``.
        item_years: ``[I]`` release year per movie index, ``-1`` when unknown.
    """

    kg: KnowledgeGraph
    train: sp.csr_matrix
    valid: sp.csr_matrix | None = None
    node_features: dict[str, torch.Tensor] | None = None
    item_years: np.ndarray | None = None
    _cache: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_graph(cls, kg: KnowledgeGraph, valid: sp.spmatrix | None = None,
                   node_features: dict[str, torch.Tensor] | None = None,
                   item_years: np.ndarray | None = None) -> ModelContext:
        """Context of a training graph (``train`` is its ``rated`` edges)."""
        return cls(kg, kg.interaction_matrix(), None if valid is None else sp.csr_matrix(valid),
                   node_features, item_years)

    @property
    def item_features(self) -> torch.Tensor:
        """``[I, D]`` movie text features."""
        if not self.node_features or "movie" not in self.node_features:
            raise ValueError("this model needs movie text features: pass node_features "
                             "(kgrec.text.encode_graph) in the ModelContext")
        return self.node_features["movie"]

    @property
    def item_popularity(self) -> torch.Tensor:
        """``[I]`` training interactions per movie (novelty metrics, cold-start mask)."""
        if "popularity" not in self._cache:
            self._cache["popularity"] = torch.from_numpy(
                np.asarray(self.train.sum(0)).ravel().astype(np.float32))
        return self._cache["popularity"]

    def item_entities(self, relations: tuple[str, ...] = ()) -> tuple[sp.csr_matrix, list[str]]:
        """Binary ``[I, E]`` movie → side-entity matrix over the KG relations (all when
        ``relations`` is empty) and the entity ids of its columns (cached)."""
        key = ("item_entities", tuple(relations))
        if key not in self._cache:
            self._cache[key] = self.kg.item_entity_matrix(tuple(relations))
        return self._cache[key]


def item_years(dataset: MovieDataset, kg: KnowledgeGraph) -> np.ndarray:
    """``[I]`` release year per movie index of ``kg`` (``-1`` when unknown)."""
    years = dataset.items.set_index("item_id")["year"].reindex(kg.item_ids).fillna(-1)
    return years.to_numpy(dtype=np.int64)


def build_context(dataset: MovieDataset, train: pd.DataFrame, valid: pd.DataFrame | None,
                  config: KGRecConfig, *, text: bool = True,
                  encoder: TextEncoder | None = None) -> ModelContext:
    """The training graph of ``train``, text features of its nodes (when ``text``), the
    validation matrix and the movies' years: everything a model fits on.

    Args:
        dataset: movies and side information (and ratings, not read here).
        train: the interactions to learn from (``user_id``, ``item_id``, ...).
        valid: validation interactions (``None`` or empty: none).
        config: ``config.text`` configures the encoder when ``encoder`` is not given.
        text: encode node texts (needed by models whose spec ``needs_text``, and by the
            recommender's query and cold-start scoring).
        encoder: an existing :class:`~kgrec.text.TextEncoder` (keeps its stats).
    """
    from kgrec.evaluate import to_csr
    from kgrec.progress import stage

    with stage("graph", config.train.show_progress) as progress:
        kg = KnowledgeGraph.from_dataset(dataset, train)
        progress["detail"] = f"{kg.num_users:,} users, {kg.num_items:,} movies"
    features = None
    if text:
        from kgrec.text import encode_graph

        with stage("text", config.text.show_progress) as progress:
            features = encode_graph(kg, dataset, config.text, encoder=encoder)
            progress["detail"] = ", ".join(f"{len(v):,} {k}" for k, v in features.items())
    valid_csr = to_csr(valid, kg) if valid is not None and len(valid) else None
    return ModelContext.from_graph(kg, valid_csr, features, item_years(dataset, kg))


@dataclass
class FitResult:
    """A fitted model and, for gradient-trained ones, the training run.

    Attributes:
        name: the registered model name.
        model: the fitted model, in eval mode.
        training: the BPR run (for a fusion: its first trained component's).
        details: ``weights`` (fusion weights), ``valid_ndcg@10`` (fusion on validation),
            ``components`` (name → :class:`TrainResult` or ``None``); ``fitted: False``
            for a closed-form model left unfitted on a rank other than 0 of a
            distributed run (:mod:`kgrec.distributed`: closed forms are computed once).
    """

    name: str
    model: ScoringModel
    training: TrainResult | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def component_fits(self) -> dict[str, FitResult]:
        """A fusion's fitted components as results of their own (``{}`` otherwise)."""
        trainings = self.details.get("components") or {}
        parts = getattr(self.model, "components", None)
        if not isinstance(parts, dict):
            return {}
        return {n: FitResult(n, m, trainings.get(n)) for n, m in parts.items()}


def _fit(name: str, model: ScoringModel, ctx: ModelContext, config: KGRecConfig,
         fitted: Mapping[str, FitResult] | None = None) -> FitResult:
    from kgrec.device import resolve_device
    from kgrec.distributed import is_primary, rank_device

    spec = get_spec(name)

    def device() -> str:
        return rank_device(resolve_device(config.train.device, f"model {name}"))

    if spec.fit == FUSION:
        from kgrec.train.fusion import fit_fusion_weights

        parts = {}
        for n, m in model.components.items():
            if fitted and n in fitted:  # the same fit: copy its state, skip the refit
                m.load_state_dict(fitted[n].model.state_dict())
                parts[n] = FitResult(n, m, fitted[n].training)
            else:
                parts[n] = _fit(n, m, ctx, config)
        details: dict[str, Any] = {"components": {n: p.training for n, p in parts.items()}}
        if is_primary():  # fusion weights need the closed-form parts: rank 0's alone
            model.to(device())  # its own buffers join the components'
            if ctx.valid is not None:
                _, details["valid_ndcg@10"] = fit_fusion_weights(model, ctx.valid, ctx.train)
            details["weights"] = model.weight_dict()
        trainings = [p.training for p in parts.values() if p.training is not None]
        model.eval()
        return FitResult(name, model, trainings[0] if trainings else None, details)
    if spec.fit == CLOSED_FORM:
        # computed once: on rank 0 of a distributed run (the only rank that uses it)
        if not is_primary():
            return FitResult(name, model.eval(), details={"fitted": False})
        model = model.fit(ctx.train)
        return FitResult(name, model.to(device()).eval())
    assert spec.fit == BPR
    # warm negatives: an inductive model must not learn that movies it never saw rated
    # are bad (they are the cold-start ones)
    negatives = (np.flatnonzero(np.asarray(ctx.train.sum(0)).ravel() > 0)
                 if spec.warm_negatives else None)
    # early stopping ranks a bounded seeded sample of validation users (all on ML-100K)
    from kgrec.train.fusion import validation_subset

    validate = (None if ctx.valid is None
                else ndcg_validator(validation_subset(ctx.valid), ctx.train))
    training = train_bpr(model, ctx.train, spec.training_config(config), validate=validate,
                         negative_items=negatives)
    return FitResult(name, model, training)


def fit_model(name: str, ctx: ModelContext, config: KGRecConfig | None = None, *,
              fitted: Mapping[str, FitResult] | None = None) -> FitResult:
    """Build model ``name`` and fit it on ``ctx`` as its spec says.

    In a ``torch.distributed`` process group every rank calls it with the same ``ctx``
    and ``config``: BPR models train with DDP (:func:`train_bpr`), closed-form models
    and fusion weights are computed on rank 0 only (see :mod:`kgrec.distributed`), so
    only rank 0's result is a complete fitted model.

    Args:
        name: registered model name.
        ctx: training data.
        config: hyper-parameters (default :class:`KGRecConfig`).
        fitted: component name → a fit of that component on the same training matrix,
            under the same config and seed (e.g. the benchmark's own fit of ``lightgcn``
            before ``hybrid``): a fusion copies their state instead of refitting them.
            The caller vouches that the fit is the one it would get (see
            :func:`kgrec.evaluate.ablation.signal_free`).
    """
    from kgrec.progress import stage

    config = config or KGRecConfig()
    with stage(f"model {name}", config.train.show_progress):
        return _fit(name, build_model(name, ctx, config), ctx, config, fitted)
