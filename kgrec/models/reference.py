"""Reference implementations from other libraries, wrapped in kgrec's scoring interface
so they run in the same benchmark, on the same data and training loop."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from kgrec.models.base import ScoringModel


class PyGLightGCN(ScoringModel):
    """PyTorch Geometric's own ``LightGCN`` (``torch_geometric.nn.models.LightGCN``).

    PyG propagates over a plain ``edge_index`` and normalises it (``gcn_norm``) on every
    call, i.e. once per training batch: the reference against which kgrec's precomputed
    CSR :class:`~kgrec.models.lightgcn.LightGCN` is timed.

    Args:
        num_users, num_items: sizes; node ``u`` is a user, node ``U + i`` an item.
        interactions: binary ``[U, I]`` training matrix (edges in both directions).
        embedding_size: embedding dimension (64); num_layers: layers (3).
    """

    def __init__(self, num_users: int, num_items: int, interactions: sp.spmatrix, *,
                 embedding_size: int = 64, num_layers: int = 3):
        super().__init__()
        from torch_geometric.nn.models import LightGCN as _PyGLightGCN

        self.num_users, self.num_items = num_users, num_items
        coo = sp.coo_matrix(interactions)
        users = torch.from_numpy(coo.row.astype(np.int64))
        items = torch.from_numpy(coo.col.astype(np.int64)) + num_users
        self.register_buffer("edge_index", torch.stack([torch.cat([users, items]),
                                                        torch.cat([items, users])]),
                             persistent=False)
        self.net = _PyGLightGCN(num_users + num_items, embedding_size, num_layers)

    def reset_parameters(self) -> None:
        self.net.reset_parameters()

    def _split(self) -> tuple[Tensor, Tensor]:
        emb = self.net.get_embedding(self.edge_index)
        return emb[:self.num_users], emb[self.num_users:]

    def bpr_scores(self, users: Tensor, pos: Tensor, neg: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        user_emb, item_emb = self._split()
        u = user_emb[users]
        ego = self.net.embedding.weight
        lo = self.num_users
        reg = (ego[users].pow(2).sum() + ego[lo + pos].pow(2).sum()
               + ego[lo + neg].pow(2).sum()) / (2 * len(users))
        return (u * item_emb[pos]).sum(-1), (u * item_emb[neg]).sum(-1), reg

    def score(self, users: Tensor) -> Tensor:
        user_emb, item_emb = self._split()
        return user_emb[users] @ item_emb.T
