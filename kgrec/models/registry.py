"""The one model registry: every model name, what the model needs, how it fits.

Each entry is a :class:`ModelSpec`: a builder that constructs the unfitted
``nn.Module`` from a model's inputs and the config (its config mapping), and declarations
that callers read instead of branching on names: the inputs it needs (interactions,
text features, KG edges), whether it is inductive (scores movies without training
interactions), and how it fits (:data:`CLOSED_FORM`: ``model.fit(train)``; :data:`BPR`:
the BPR loop of :mod:`kgrec.train`, with the spec's own training overrides; :data:`FUSION`:
its components fit first, then the fusion weights on validation data).

This module imports no torch at import time (``kgrec.config`` validates model names
against :data:`MODEL_NAMES` without loading torch) and nothing from ``kgrec.train``,
``kgrec.evaluate``, ``kgrec.serve`` or ``kgrec.cli``: the wiring to data and training is
:mod:`kgrec.train.fit`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np
    import scipy.sparse as sp
    import torch

    from kgrec.config import KGRecConfig, TrainConfig
    from kgrec.graph.knowledge_graph import KnowledgeGraph
    from kgrec.models.base import ScoringModel

#: How a model fits (``ModelSpec.fit``).
CLOSED_FORM, BPR, FUSION = "closed-form", "bpr", "fusion"


class ModelInputs(Protocol):
    """What builders read (``kgrec.train.ModelContext`` provides it): training data only."""

    kg: KnowledgeGraph
    train: sp.csr_matrix
    node_features: dict[str, torch.Tensor] | None
    item_years: np.ndarray | None

    @property
    def item_features(self) -> torch.Tensor: ...

    def item_entities(self, relations: tuple[str, ...] = ()) -> tuple[sp.csr_matrix, list[str]]: ...


@dataclass(frozen=True)
class ModelSpec:
    """One registered model.

    Attributes:
        name: the registry key (``[model] name`` of a config).
        build: ``(inputs, config) -> unfitted model``; also rebuilds the module a saved
            ``state_dict`` is loaded into.
        fit: :data:`CLOSED_FORM`, :data:`BPR` or :data:`FUSION`.
        summary: what the model is, in one line.
        needs_text: ``config -> bool``: whether it reads ``node_features``.
        uses_kg: reads KG edges besides the ratings.
        inductive: scores movies that had no training interaction (for a fusion: all of
            its components are inductive; see :func:`is_inductive`).
        train_options: ``(config) -> TrainConfig`` of its BPR run (default:
            ``config.train``).
        warm_negatives: BPR negatives only among movies with training interactions.
    """

    name: str
    build: Callable[[ModelInputs, KGRecConfig], ScoringModel]
    fit: str
    summary: str
    needs_text: Callable[[KGRecConfig], bool] = lambda config: False
    uses_kg: bool = False
    inductive: bool = False
    train_options: Callable[[KGRecConfig], TrainConfig] | None = None
    warm_negatives: bool = False

    def __post_init__(self) -> None:
        if self.fit not in (CLOSED_FORM, BPR, FUSION):
            raise ValueError(f"ModelSpec {self.name!r}: fit must be one of "
                             f"{(CLOSED_FORM, BPR, FUSION)}, got {self.fit!r}")

    def training_config(self, config: KGRecConfig) -> TrainConfig:
        """The options of this model's BPR run under ``config``."""
        return config.train if self.train_options is None else self.train_options(config)


# -- builders: inputs + config -> unfitted model ------------------------------------------
def _pop(inputs: ModelInputs, config: KGRecConfig) -> ScoringModel:
    from kgrec.models.baselines import Popularity

    return Popularity(inputs.kg.num_users, inputs.kg.num_items)


def _log_pop(inputs: ModelInputs, config: KGRecConfig) -> ScoringModel:
    from kgrec.models.baselines import Popularity

    return Popularity(inputs.kg.num_users, inputs.kg.num_items, log=True)


def _itemknn(inputs: ModelInputs, config: KGRecConfig) -> ScoringModel:
    from kgrec.models.baselines import ItemKNN

    return ItemKNN(inputs.kg.num_users, inputs.kg.num_items, k=config.model.knn_neighbors,
                   shrinkage=config.model.knn_shrinkage)


def _ease(inputs: ModelInputs, config: KGRecConfig) -> ScoringModel:
    from kgrec.models.baselines import EASE

    return EASE(inputs.kg.num_users, inputs.kg.num_items, reg=config.model.ease_reg)


def _dlae(inputs: ModelInputs, config: KGRecConfig) -> ScoringModel:
    from kgrec.models.linear import DLAE

    return DLAE(inputs.kg.num_users, inputs.kg.num_items, dropout=config.model.dlae_dropout,
                reg=config.model.dlae_reg, neighbors=config.model.dlae_neighbors)


def _gf_cf(inputs: ModelInputs, config: KGRecConfig) -> ScoringModel:
    from kgrec.models.graph_filter import GraphFilterCF

    return GraphFilterCF(inputs.kg.num_users, inputs.kg.num_items)


def _kg_text_dlae(inputs: ModelInputs, config: KGRecConfig) -> ScoringModel:
    from kgrec.models.side_linear import KGTextDLAE

    return KGTextDLAE(inputs.kg.num_users, inputs.kg.num_items,
                      item_entities=inputs.item_entities(config.model.kg_relations)[0],
                      item_text=(inputs.node_features or {}).get("movie"),
                      w_kg=config.model.side_w_kg, w_text=config.model.side_w_text,
                      dropout=config.model.dlae_dropout, reg=config.model.dlae_reg)


def _text_cosine(inputs: ModelInputs, config: KGRecConfig) -> ScoringModel:
    from kgrec.models.baselines import TextCosine

    return TextCosine(inputs.item_features, inputs.kg.num_users)


#: Profile models (:class:`~kgrec.models.baselines.GenreProfile` over KG entities) and
#: the relations whose entities make the profile.
PROFILE_RELATIONS: dict[str, tuple[str, ...]] = {"genre-profile": ("has_genre",),
                                                 "director-profile": ("directed_by",)}


def _profile(inputs: ModelInputs, config: KGRecConfig, name: str) -> ScoringModel:
    from kgrec.models.baselines import GenreProfile

    relations = PROFILE_RELATIONS[name]
    entities, _ = inputs.item_entities(relations)
    if entities.shape[1] == 0:
        raise ValueError(f"{name} needs {'/'.join(relations)} edges in the knowledge graph")
    return GenreProfile(entities, inputs.kg.num_users)


def _genre_profile(inputs: ModelInputs, config: KGRecConfig) -> ScoringModel:
    return _profile(inputs, config, "genre-profile")


def _director_profile(inputs: ModelInputs, config: KGRecConfig) -> ScoringModel:
    return _profile(inputs, config, "director-profile")


def _bpr(inputs: ModelInputs, config: KGRecConfig) -> ScoringModel:
    from kgrec.models.baselines import BPRMF

    return BPRMF(inputs.kg.num_users, inputs.kg.num_items,
                 embedding_size=config.model.embedding_size)


def _lightgcn(inputs: ModelInputs, config: KGRecConfig, *, kg_edges: bool = False) -> ScoringModel:
    from kgrec.models.lightgcn import LightGCN, normalized_adjacency

    side = inputs.item_entities(config.model.kg_relations)[0] if kg_edges else None
    if side is not None and side.shape[1] == 0:
        side = None
    features = inputs.item_features if config.model.text_mode != "none" else None
    return LightGCN(inputs.kg.num_users, inputs.kg.num_items,
                    normalized_adjacency(inputs.train, side),
                    embedding_size=config.model.embedding_size,
                    num_layers=config.model.num_layers, item_features=features,
                    text_mode=config.model.text_mode)


def _lightgcn_kg(inputs: ModelInputs, config: KGRecConfig) -> ScoringModel:
    return _lightgcn(inputs, config, kg_edges=True)


def _pyg_lightgcn(inputs: ModelInputs, config: KGRecConfig) -> ScoringModel:
    from kgrec.models.reference import PyGLightGCN

    return PyGLightGCN(inputs.kg.num_users, inputs.kg.num_items, inputs.train,
                       embedding_size=config.model.embedding_size,
                       num_layers=config.model.num_layers)


def _sage(inputs: ModelInputs, config: KGRecConfig) -> ScoringModel:
    from kgrec.models.sage import HeteroSAGE, sage_inputs

    edges, features, counts = sage_inputs(inputs.kg, inputs.node_features, inputs.item_years)
    m = config.model
    return HeteroSAGE(inputs.kg.num_users, inputs.kg.num_items, edges, features,
                      num_nodes_dict=counts, hidden_size=m.sage_hidden, num_layers=m.sage_layers,
                      dropout=m.sage_dropout, item_side_ratings=True,
                      rated_dropout=m.sage_rated_dropout)


def _hybrid(inputs: ModelInputs, config: KGRecConfig) -> ScoringModel:
    from kgrec.models.hybrid import ScoreFusion

    parts = {name: build_model(name, inputs, config) for name in hybrid_parts(inputs, config)}
    return ScoreFusion(parts, history=inputs.train)


def hybrid_parts(inputs: ModelInputs, config: KGRecConfig) -> list[str]:
    """The component names of the hybrid on ``inputs``: ``model.hybrid_components``, or
    above ``model.hybrid_bpr_max_items`` movies ``model.hybrid_large_components`` without
    the profile models whose relation has no edges in the graph (a catalogue without
    directors). Deterministic in the graph and the config, so a saved hybrid is rebuilt
    with the same parts."""
    m = config.model
    if inputs.kg.num_items <= m.hybrid_bpr_max_items:
        return list(m.hybrid_components)
    names = [n for n in m.hybrid_large_components
             if n not in PROFILE_RELATIONS or inputs.item_entities(PROFILE_RELATIONS[n])[0].shape[1]]
    if not names:
        raise ValueError(f"none of model.hybrid_large_components {list(m.hybrid_large_components)} "
                         f"can be built on this graph ({inputs.kg.num_items:,} movies exceed "
                         f"model.hybrid_bpr_max_items={m.hybrid_bpr_max_items:,})")
    return names


def _sage_training(config: KGRecConfig) -> TrainConfig:
    from dataclasses import replace

    m = config.model
    return replace(config.train, epochs=min(config.train.epochs, m.sage_epochs),
                   learning_rate=m.sage_learning_rate, batch_size=m.sage_batch_size,
                   eval_every=1, patience=m.sage_patience)


def _reference_training(config: KGRecConfig) -> TrainConfig:
    from dataclasses import replace

    return replace(config.train, epochs=min(config.train.epochs, config.model.reference_epochs))


def _lightgcn_text(config: KGRecConfig) -> bool:
    return config.model.text_mode != "none"


def _hybrid_text(config: KGRecConfig) -> bool:
    return any(REGISTRY[c].needs_text(config) for c in
               config.model.hybrid_components + config.model.hybrid_large_components)


def _always(config: KGRecConfig) -> bool:
    return True


#: name → spec. The only place model names are written out.
REGISTRY: dict[str, ModelSpec] = {s.name: s for s in (
    ModelSpec("pop", _pop, CLOSED_FORM, "popularity: training interaction counts"),
    ModelSpec("log-pop", _log_pop, CLOSED_FORM,
              "popularity on a log scale (ranks as pop; adds better in a fusion)"),
    ModelSpec("itemknn", _itemknn, CLOSED_FORM, "item-item cosine k nearest neighbours"),
    ModelSpec("ease", _ease, CLOSED_FORM, "EASE linear item-item autoencoder"),
    ModelSpec("dlae", _dlae, CLOSED_FORM, "DLAE: EASE with dropout-scaled regularisation"),
    ModelSpec("bpr", _bpr, BPR, "BPR matrix factorisation"),
    ModelSpec("lightgcn", _lightgcn, BPR, "LightGCN over the rating graph",
              needs_text=_lightgcn_text),
    ModelSpec("lightgcn-kg", _lightgcn_kg, BPR, "LightGCN over ratings and KG edges",
              needs_text=_lightgcn_text, uses_kg=True),
    ModelSpec("pyg-lightgcn", _pyg_lightgcn, BPR, "PyG's LightGCN, a speed/accuracy reference",
              train_options=_reference_training),
    ModelSpec("text-cosine", _text_cosine, CLOSED_FORM, "cosine of movie text embeddings",
              needs_text=_always, inductive=True),
    ModelSpec("genre-profile", _genre_profile, CLOSED_FORM, "users' genre profiles",
              uses_kg=True, inductive=True),
    ModelSpec("director-profile", _director_profile, CLOSED_FORM,
              "users' director profiles (shares of their movies' directors)",
              uses_kg=True, inductive=True),
    ModelSpec("sage", _sage, BPR, "inductive heterogeneous GraphSAGE over the KG and text",
              needs_text=_always, uses_kg=True, inductive=True, train_options=_sage_training,
              warm_negatives=True),
    ModelSpec("hybrid", _hybrid, FUSION, "standardised score fusion of hybrid_components",
              needs_text=_hybrid_text),
    ModelSpec("gf-cf", _gf_cf, CLOSED_FORM, "GF-CF: linear + ideal low-pass graph filter"),
    ModelSpec("kg-text-dlae", _kg_text_dlae, CLOSED_FORM,
              "DLAE with KG-entity and text pseudo-users; scores never-rated movies",
              needs_text=_always, uses_kg=True, inductive=True),
)}

#: Every registered model name, in listing order.
MODEL_NAMES: tuple[str, ...] = tuple(REGISTRY)


def get_spec(name: str) -> ModelSpec:
    """The spec of model ``name``; ``ValueError`` naming the valid names otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {list(MODEL_NAMES)}") from None


def components(name: str, config: KGRecConfig) -> tuple[str, ...]:
    """Component model names of a fusion model (``()`` for the others)."""
    return tuple(config.model.hybrid_components) if get_spec(name).fit == FUSION else ()


def is_inductive(name: str, config: KGRecConfig) -> bool:
    """Whether model ``name`` under ``config`` can score movies without training
    interactions (a fusion: when all its components can)."""
    parts = components(name, config)
    if parts:
        return all(is_inductive(part, config) for part in parts)
    return get_spec(name).inductive


def build_model(name: str, inputs: ModelInputs, config: KGRecConfig) -> ScoringModel:
    """Construct model ``name`` for ``inputs``, unfitted (fit it with
    :func:`kgrec.train.fit_model`, or load a ``state_dict`` into it)."""
    return get_spec(name).build(inputs, config)

