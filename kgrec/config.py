"""One typed configuration for a kgrec pipeline, round-tripping to TOML and JSON.

A config file maps one-to-one to the Python API::

    [model]
    name = "hybrid"
    embedding_size = 64

    [train]
    epochs = 300
    learning_rate = 0.005

    [text]
    model_name = "all-MiniLM-L6-v2"

Sections: ``model`` (:class:`ModelConfig`), ``train`` (:class:`TrainConfig`),
``text`` (:class:`kgrec.text.config.TextConfig`), ``explain`` (:class:`ExplainConfig`).
Unknown keys are errors, missing keys take their defaults, and the defaults live here
only: ``KGRecConfig.from_dict({}) == KGRecConfig()``. Model names come from the one model
registry, :data:`kgrec.models.registry.MODEL_NAMES`.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from kgrec.models.registry import CLOSED_FORM, FUSION, MODEL_NAMES, REGISTRY
from kgrec.text.config import TextConfig

__all__ = ["MODEL_NAMES", "ExplainConfig", "KGRecConfig", "ModelConfig", "TextConfig",
           "TrainConfig"]


def _from_dict(cls: type, data: dict[str, Any], section: str) -> Any:
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown keys {unknown} in [{section}]; valid keys: {sorted(known)}")
    return cls(**data)


@dataclass(frozen=True)
class TrainConfig:
    """Options of the BPR training loop (:func:`kgrec.train.train_bpr`).

    Args:
        epochs: maximum number of passes over the training interactions (default 400).
        batch_size: (user, positive, negative) triples per optimiser step (default 2048).
        learning_rate: Adam step size (default 2e-3).
        reg: weight of the model's L2 regulariser on the embeddings used in a batch
            (default 1e-4).
        patience: stop after this many evaluations without a better validation NDCG@10
            (default 5, i.e. 25 epochs at ``eval_every=5``); ``0`` disables early stopping.
            On every recorded ML-100K validation curve of the LightGCN family (LightGCN,
            LightGCN-KG, BPR-MF, the KG hybrid's LightGCNs) 5 picks the same best epoch
            as 10 did, 25 epochs sooner (BENCHMARKS.md, "The whole benchmark").
        eval_every: validate every this many epochs (default 5).
        seed: seeds the default split, parameter initialisation, shuffling and negative
            sampling (default 0).
        device: torch device string (default ``"cpu"``); ``"cuda"`` without a GPU falls
            back to the CPU with a :class:`kgrec.device.DeviceFallbackWarning`. Under
            ``torchrun``, ``"cuda"`` means each rank's own GPU (``cuda:<local rank>``).
        threads: torch intra-op threads for the run, ``None`` keeps torch's setting.
        show_progress: a tqdm bar over epochs on a terminal, else one line per stage
            (:mod:`kgrec.progress`).
        log_path: JSON-lines file that receives one record per epoch (``None``: no file).
    """

    epochs: int = 400
    batch_size: int = 2048
    learning_rate: float = 2e-3
    reg: float = 1e-4
    patience: int = 5
    eval_every: int = 5
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None
    show_progress: bool = True
    log_path: str | None = None

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "eval_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"TrainConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.learning_rate <= 0:
            raise ValueError(f"TrainConfig.learning_rate must be > 0, got {self.learning_rate}")
        if self.reg < 0 or self.patience < 0:
            raise ValueError("TrainConfig.reg and TrainConfig.patience must be >= 0")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"TrainConfig.threads must be >= 1 or None, got {self.threads}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        return _from_dict(cls, data, "train")


@dataclass(frozen=True)
class ModelConfig:
    """Which model, and its hyper-parameters.

    Args:
        name: one of :data:`MODEL_NAMES` (default ``"hybrid"``).
        embedding_size: embedding dimension of LightGCN / BPR-MF / GraphSAGE (64).
        num_layers: LightGCN propagation layers (3); GraphSAGE uses ``sage_layers``.
        kg_relations: KG relations ``lightgcn-kg`` propagates over besides the ratings
            (empty: all of them). (A hybrid uses KG edges when one of its
            ``hybrid_components`` is ``"lightgcn-kg"``.)
        text_mode: how text features enter LightGCN: ``"none"``, ``"init"``, ``"fuse"``.
        ease_reg: EASE's λ (250).
        dlae_dropout, dlae_reg: DLAE's dropout p (0.5) and λ (300).
        knn_neighbors: ItemKNN neighbours per item (100).
        knn_shrinkage: ItemKNN's shrinkage of the cosine denominator (see
            :class:`~kgrec.models.baselines.ItemKNN`).
        sage_hidden, sage_layers, sage_dropout: GraphSAGE width (64), depth (2), dropout.
        sage_epochs, sage_patience, sage_learning_rate, sage_batch_size: GraphSAGE's
            training budget (50 epochs, validated every epoch, stopping after 8 without
            improvement), Adam step (3e-3) and batch (8192).
        sage_rated_dropout: share of rating edges dropped per step when movies also
            aggregate over their raters (0.5), so that movies without raters (cold
            start) are encoded like warm ones with few.
        hybrid_components: the hybrid's component models, fused with weights chosen on
            validation NDCG@10.
        hybrid_bpr_max_items: above this many movies the hybrid fuses
            ``hybrid_large_components`` instead of ``hybrid_components``: no BPR-trained
            component (LightGCN), whose training is not linear in the data (epochs to
            converge x one full-graph propagation per batch). Default 10,000, where DLAE
            leaves its exact form too. Measured on the synthetic 250k-rating catalogue
            (12,500 movies, one thread, load ~10): 20 epochs of LightGCN (64 batches of
            3,509 per epoch) took 915 s and reached validation NDCG@10 0.0163,
            popularity's level (0.0159).
        hybrid_large_components: the hybrid's closed-form components above
            ``hybrid_bpr_max_items`` movies (fusion weights chosen on validation NDCG@10
            as always); profile models whose relation has no edges are left out. Default
            DLAE, log-scale popularity and the genre and director profiles, chosen on
            validation of the synthetic 1M catalogue (seeded 80/10/10 split, 10,000
            validation users): DLAE alone 0.0095, popularity 0.0131, this fusion 0.0214
            (DLAE's weight there was 0; with raw popularity counts 0.0198).
        dlae_neighbors: items per column of DLAE's neighbourhood form, used above 10,000
            movies (100; see :mod:`kgrec.models.linear`).
        reference_epochs: epoch budget of the ``pyg-lightgcn`` speed reference (it
            re-normalises the graph every batch and is ~25x slower per epoch).
        side_w_kg, side_w_text: ``kg-text-dlae``'s weights of the KG and text
            pseudo-users for movies with training ratings (10, 100; see
            :mod:`kgrec.models.side_linear`).
    """

    name: str = "hybrid"
    embedding_size: int = 64
    num_layers: int = 3
    kg_relations: tuple[str, ...] = ()
    text_mode: str = "none"
    ease_reg: float = 250.0
    dlae_dropout: float = 0.5
    dlae_reg: float = 300.0
    knn_neighbors: int = 100
    knn_shrinkage: float = 0.0
    sage_hidden: int = 64
    sage_layers: int = 2
    sage_dropout: float = 0.1
    sage_epochs: int = 50
    sage_patience: int = 8
    sage_learning_rate: float = 3e-3
    sage_batch_size: int = 8192
    sage_rated_dropout: float = 0.5
    hybrid_components: tuple[str, ...] = ("dlae", "lightgcn")
    hybrid_bpr_max_items: int = 10_000
    hybrid_large_components: tuple[str, ...] = ("dlae", "log-pop", "genre-profile",
                                                "director-profile")
    dlae_neighbors: int = 100
    reference_epochs: int = 20
    side_w_kg: float = 10.0
    side_w_text: float = 100.0

    def __post_init__(self) -> None:
        if self.name not in MODEL_NAMES:
            raise ValueError(f"unknown model {self.name!r}; choose one of {list(MODEL_NAMES)}")
        bad = [c for c in self.hybrid_components
               if c not in MODEL_NAMES or REGISTRY[c].fit == FUSION]
        if bad:
            raise ValueError(f"invalid hybrid components {bad}")
        bad = [c for c in self.hybrid_large_components
               if c not in MODEL_NAMES or REGISTRY[c].fit != CLOSED_FORM]
        if bad or not self.hybrid_large_components:
            raise ValueError(f"invalid hybrid_large_components {bad or '()'}: closed-form "
                             "models only, at least one")
        if self.knn_shrinkage < 0:
            raise ValueError(f"knn_shrinkage must be >= 0, got {self.knn_shrinkage}")
        if self.text_mode not in ("none", "init", "fuse"):
            raise ValueError(f"text_mode must be 'none', 'init' or 'fuse', got {self.text_mode!r}")
        object.__setattr__(self, "kg_relations", tuple(self.kg_relations))
        object.__setattr__(self, "hybrid_components", tuple(self.hybrid_components))
        object.__setattr__(self, "hybrid_large_components", tuple(self.hybrid_large_components))


@dataclass(frozen=True)
class ExplainConfig:
    """Explanation settings: paths per recommendation and the longest path searched."""

    max_paths: int = 3
    max_hops: int = 4

    def __post_init__(self) -> None:
        if self.max_paths < 1 or not 3 <= self.max_hops <= 6:
            raise ValueError("ExplainConfig: max_paths >= 1 and 3 <= max_hops <= 6 required")


@dataclass(frozen=True)
class KGRecConfig:
    """The whole pipeline's configuration (see the module docstring for the file form)."""

    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    text: TextConfig = field(default_factory=TextConfig)
    explain: ExplainConfig = field(default_factory=ExplainConfig)

    def replace(self, **sections: Any) -> KGRecConfig:
        """Copy with some sections' fields changed: ``cfg.replace(train={"epochs": 5})``."""
        changes = {name: replace(getattr(self, name), **values) for name, values in sections.items()}
        return replace(self, **changes)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        out = {}
        for name in ("model", "train", "text", "explain"):
            values = asdict(getattr(self, name))
            out[name] = {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KGRecConfig:
        sections = {"model": ModelConfig, "train": TrainConfig, "text": TextConfig,
                    "explain": ExplainConfig}
        unknown = sorted(set(data) - set(sections))
        if unknown:
            raise ValueError(f"unknown config sections {unknown}; valid: {sorted(sections)}")
        kwargs = {}
        for name, kind in sections.items():
            values = dict(data.get(name, {}))
            for key, value in values.items():
                if isinstance(value, list):
                    values[key] = tuple(value)
            kwargs[name] = _from_dict(kind, values, name)
        return cls(**kwargs)

    # -- files -------------------------------------------------------------------------
    def to_toml(self) -> str:
        lines: list[str] = []
        for section, values in self.to_dict().items():
            lines.append(f"[{section}]")
            for key, value in values.items():
                if value is None:  # TOML has no null: an absent key means the default None
                    continue
                lines.append(f"{key} = {_toml_value(value)}")
            lines.append("")
        return "\n".join(lines)

    @classmethod
    def from_toml(cls, text: str) -> KGRecConfig:
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover
            import tomli as tomllib
        return cls.from_dict(tomllib.loads(text))

    def save(self, path: str | Path) -> Path:
        """Write as TOML (``.toml``) or JSON (any other suffix), atomically."""
        from kgrec.io import atomic_write_text

        path = Path(path)
        text = self.to_toml() if path.suffix == ".toml" else json.dumps(self.to_dict(), indent=2)
        return atomic_write_text(path, text)

    @classmethod
    def load(cls, path: str | Path) -> KGRecConfig:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise FileNotFoundError(f"config file not found: {path}") from None
        try:
            return cls.from_toml(text) if path.suffix == ".toml" else cls.from_dict(json.loads(text))
        except (ValueError, TypeError) as exc:  # TOMLDecodeError and JSONDecodeError are ValueErrors
            raise ValueError(f"{path}: {exc}") from exc


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} to TOML")
