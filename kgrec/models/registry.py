"""Build and fit any kgrec model by name: the small explicit registry shared by the
benchmark and :class:`kgrec.recommender.Recommender`.

Models stay plain ``nn.Module``s; this module only wires them to the data they need
(:class:`ModelContext`) and to the training loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import torch

from kgrec.config import KGRecConfig
from kgrec.graph.knowledge_graph import KnowledgeGraph
from kgrec.models.base import ScoringModel
from kgrec.train import TrainResult, ndcg_validator, train_bpr


@dataclass
class ModelContext:
    """What models may learn from: the training graph and matrices, never test data.

    Attributes:
        kg: knowledge graph built from the *training* interactions.
        train: binary ``[U, I]`` training positives (equal to ``kg``'s ``rated`` edges).
        valid: binary ``[U, I]`` validation positives for early stopping and fusion
            weights (``None``: train without validation for ``train.epochs``).
        node_features: text features per node type (``kgrec.text.encode_graph``);
            needed by ``text-cosine``, ``sage`` and ``text_mode != "none"``.
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
        """Context of a training graph; ``item_years`` (``[I]``, ``-1`` = unknown) lets
        GraphSAGE link movies to decade nodes."""
        return cls(kg, kg.interaction_matrix(), None if valid is None else sp.csr_matrix(valid),
                   node_features, item_years)

    @property
    def item_features(self) -> torch.Tensor:
        if not self.node_features or "movie" not in self.node_features:
            raise ValueError("this model needs movie text features: pass node_features "
                             "(kgrec.text.encode_graph) in the ModelContext")
        return self.node_features["movie"]

    def item_entities(self, relations: tuple[str, ...] = ()) -> tuple[sp.csr_matrix, list[str]]:
        """Binary ``[I, E]`` movie → side-entity matrix over the KG relations (all when
        ``relations`` is empty) and the entity ids of its columns."""
        key = ("item_entities", relations)
        if key not in self._cache:
            self._cache[key] = item_entity_matrix(self.kg, relations)
        return self._cache[key]


def item_entity_matrix(kg: KnowledgeGraph, relations: tuple[str, ...] = ()
                       ) -> tuple[sp.csr_matrix, list[str]]:
    """Binary ``[num_items, E]`` matrix of movie → entity KG edges and column entity ids."""
    rows, cols, entities = [], [], []
    offset = 0
    for (src, rel, dst), index in kg.edges.items():
        if src != "movie" or dst in ("movie", "user") or (relations and rel not in relations):
            continue
        rows.append(index[0])
        cols.append(index[1] + offset)
        entities.extend(f"{rel}|{kg.nodes[dst][j]}" for j in range(kg.num_nodes(dst)))
        offset += kg.num_nodes(dst)
    if not rows:
        return sp.csr_matrix((kg.num_items, 0), dtype=np.float32), []
    r, c = np.concatenate(rows), np.concatenate(cols)
    matrix = sp.csr_matrix((np.ones(len(r), np.float32), (r, c)), shape=(kg.num_items, offset))
    used = np.flatnonzero(np.asarray(matrix.sum(0)).ravel() > 0)  # drop entities of no movie
    return matrix[:, used].tocsr(), [entities[j] for j in used]


@dataclass
class FitResult:
    """A fitted model and, for gradient-trained ones, the training run."""

    name: str
    model: ScoringModel
    training: TrainResult | None = None
    details: dict = field(default_factory=dict)


def _validator(ctx: ModelContext):
    return None if ctx.valid is None else ndcg_validator(ctx.valid, ctx.train)


# -- builders: construct an unfitted model from the context (also used by load) ----------
def _build_pop(ctx, cfg):
    from kgrec.models.baselines import Popularity

    return Popularity(ctx.kg.num_users, ctx.kg.num_items)


def _build_itemknn(ctx, cfg):
    from kgrec.models.baselines import ItemKNN

    return ItemKNN(ctx.kg.num_users, ctx.kg.num_items, k=cfg.model.knn_neighbors)


def _build_ease(ctx, cfg):
    from kgrec.models.baselines import EASE

    return EASE(ctx.kg.num_users, ctx.kg.num_items, reg=cfg.model.ease_reg)


def _build_dlae(ctx, cfg):
    from kgrec.models.linear import DLAE

    return DLAE(ctx.kg.num_users, ctx.kg.num_items, dropout=cfg.model.dlae_dropout,
                reg=cfg.model.dlae_reg)


def _build_gf_cf(ctx, cfg):
    from kgrec.models.graph_filter import GraphFilterCF

    return GraphFilterCF(ctx.kg.num_users, ctx.kg.num_items)


def _build_kg_text_dlae(ctx, cfg):
    from kgrec.models.side_linear import KGTextDLAE

    entities = ctx.item_entities(cfg.model.kg_relations)[0]
    text = (ctx.node_features or {}).get("movie")
    return KGTextDLAE(ctx.kg.num_users, ctx.kg.num_items, item_entities=entities,
                      item_text=text, dropout=cfg.model.dlae_dropout, reg=cfg.model.dlae_reg)


def _build_text_cosine(ctx, cfg):
    from kgrec.models.baselines import TextCosine

    return TextCosine(ctx.item_features, ctx.kg.num_users)


def _build_genre_profile(ctx, cfg):
    from kgrec.models.baselines import GenreProfile

    genres, _ = ctx.item_entities(("has_genre",))
    if genres.shape[1] == 0:
        raise ValueError("genre-profile needs has_genre edges in the knowledge graph")
    return GenreProfile(genres, ctx.kg.num_users)


def _build_bpr(ctx, cfg):
    from kgrec.models.baselines import BPRMF

    return BPRMF(ctx.kg.num_users, ctx.kg.num_items, embedding_size=cfg.model.embedding_size)


def _build_lightgcn(ctx, cfg, use_kg: bool = False):
    from kgrec.models.lightgcn import LightGCN, normalized_adjacency

    side = ctx.item_entities(cfg.model.kg_relations)[0] if use_kg else None
    if side is not None and side.shape[1] == 0:
        side = None
    adjacency = normalized_adjacency(ctx.train, side)
    features = ctx.item_features if cfg.model.text_mode != "none" else None
    return LightGCN(ctx.kg.num_users, ctx.kg.num_items, adjacency,
                    embedding_size=cfg.model.embedding_size, num_layers=cfg.model.num_layers,
                    item_features=features, text_mode=cfg.model.text_mode)


def _build_lightgcn_kg(ctx, cfg):
    return _build_lightgcn(ctx, cfg, use_kg=True)


def _build_pyg_lightgcn(ctx, cfg):
    from kgrec.models.reference import PyGLightGCN

    return PyGLightGCN(ctx.kg.num_users, ctx.kg.num_items, ctx.train,
                       embedding_size=cfg.model.embedding_size, num_layers=cfg.model.num_layers)


def _sage_graph(ctx: ModelContext) -> tuple[dict, dict, dict]:
    """Edges, features and node counts for GraphSAGE: the KG (rating edges included),
    plus movie → decade edges when release years are known."""
    kg = ctx.kg
    edges = {k: torch.from_numpy(v.copy()).long() for k, v in kg.edges.items()}
    counts = {t: kg.num_nodes(t) for t in kg.node_types}
    if ctx.item_years is not None:
        years = np.asarray(ctx.item_years, dtype=np.int64)
        known = np.flatnonzero(years > 0)
        decades, index = np.unique(years[known] // 10, return_inverse=True)
        edges[("movie", "released_in", "decade")] = torch.from_numpy(
            np.stack([known, index])).long()
        counts["decade"] = len(decades)
    # text features for movies, people and genres (other entity types are mostly
    # unlabelled Freebase ids: zero rows that only cost time)
    features = {t: x for t, x in (ctx.node_features or {}).items()
                if t in ("movie", "person", "genre")}
    return edges, features, counts


def _build_sage(ctx, cfg):
    from kgrec.models.sage import HeteroSAGE

    edges, features, counts = _sage_graph(ctx)
    return HeteroSAGE(ctx.kg.num_users, ctx.kg.num_items, edges, features,
                      num_nodes_dict=counts, hidden_size=cfg.model.sage_hidden,
                      num_layers=cfg.model.sage_layers, dropout=cfg.model.sage_dropout,
                      item_side_ratings=True, rated_dropout=cfg.model.sage_rated_dropout)


def _build_hybrid(ctx, cfg):
    from kgrec.models.hybrid import ScoreFusion

    parts = {name: build_model(name, ctx, cfg) for name in cfg.model.hybrid_components}
    return ScoreFusion(parts, history=ctx.train)


#: name → function(context, config) → unfitted model. Explicit, so a typo fails loudly.
REGISTRY: dict[str, Callable[[ModelContext, KGRecConfig], ScoringModel]] = {
    "pop": _build_pop,
    "itemknn": _build_itemknn,
    "ease": _build_ease,
    "dlae": _build_dlae,
    "bpr": _build_bpr,
    "lightgcn": _build_lightgcn,
    "lightgcn-kg": _build_lightgcn_kg,
    "pyg-lightgcn": _build_pyg_lightgcn,
    "text-cosine": _build_text_cosine,
    "genre-profile": _build_genre_profile,
    "sage": _build_sage,
    "hybrid": _build_hybrid,
    "gf-cf": _build_gf_cf,
    "kg-text-dlae": _build_kg_text_dlae,
}

#: Closed-form models: fitted by ``model.fit(train)``; the others train with BPR.
CLOSED_FORM = ("pop", "itemknn", "ease", "dlae", "text-cosine", "genre-profile", "gf-cf",
               "kg-text-dlae")

#: Models that can score items with no training interaction (cold-start items).
INDUCTIVE = ("text-cosine", "genre-profile", "sage", "kg-text-dlae")


def build_model(name: str, ctx: ModelContext, config: KGRecConfig | None = None) -> ScoringModel:
    """Construct model ``name`` for ``ctx``, unfitted (fit with :func:`fit_model`, or load
    a ``state_dict`` into it)."""
    try:
        builder = REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(REGISTRY)}") from None
    return builder(ctx, config or KGRecConfig())


def _fit(name: str, model: ScoringModel, ctx: ModelContext, cfg: KGRecConfig) -> FitResult:
    if name == "hybrid":
        parts = {n: _fit(n, m, ctx, cfg) for n, m in model.components.items()}
        if ctx.valid is not None:
            model.fit_weights(ctx.valid, ctx.train)
        trainings = [p.training for p in parts.values() if p.training is not None]
        return FitResult(name, model, trainings[0] if trainings else None,
                         {"weights": model.weight_dict(),
                          "components": {n: p.training for n, p in parts.items()}})
    if name in CLOSED_FORM:
        return FitResult(name, model.fit(ctx.train))
    if name == "sage":
        from dataclasses import replace

        # negatives only among items with training interactions: the model must not
        # learn that movies it never saw rated are bad (they are the cold-start ones)
        warm = np.flatnonzero(np.asarray(ctx.train.sum(0)).ravel() > 0)
        train_cfg = replace(cfg.train, epochs=min(cfg.train.epochs, cfg.model.sage_epochs),
                            learning_rate=cfg.model.sage_learning_rate,
                            batch_size=cfg.model.sage_batch_size, eval_every=1, patience=8)
        return FitResult(name, model, train_bpr(model, ctx.train, train_cfg,
                                                validate=_validator(ctx), negative_items=warm))
    train_cfg = cfg.train
    if name == "pyg-lightgcn":
        from dataclasses import replace

        train_cfg = replace(train_cfg, epochs=min(train_cfg.epochs, cfg.model.reference_epochs))
    return FitResult(name, model, train_bpr(model, ctx.train, train_cfg, validate=_validator(ctx)))


def fit_model(name: str, ctx: ModelContext, config: KGRecConfig | None = None) -> FitResult:
    """Build model ``name`` and fit it on ``ctx`` (closed form or BPR training)."""
    config = config or KGRecConfig()
    return _fit(name, build_model(name, ctx, config), ctx, config)
