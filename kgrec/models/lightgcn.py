"""LightGCN (He et al., SIGIR 2020) with a precomputed normalised adjacency, fast on CPU.

Propagation over the user–item graph (optionally with knowledge-graph entities as extra
nodes) is

.. math:: E^{(l+1)} = \\hat A E^{(l)}, \\qquad \\hat A = D^{-1/2} A D^{-1/2}, \\qquad
          E = \\sum_{l=0}^{L} \\alpha_l E^{(l)}, \\; \\alpha_l = \\tfrac{1}{L+1}

and a user–item score is the dot product :math:`\\hat y_{ui} = e_u^\\top e_i`.

Speed: :math:`\\hat A` is built once as a ``torch.sparse_csr`` tensor with **int32**
indices (MKL's sparse kernels take 32-bit indices: with int64 ones torch converts
``crow_indices`` and ``col_indices`` on every product, an allocation of 12 bytes per
non-zero per call). Because :math:`\\hat A` is symmetric, the whole propagation
:math:`P = \\tfrac{1}{L+1}\\sum_l \\hat A^l` is a symmetric linear map, so its backward
pass is :math:`P` applied to the gradient (:class:`LayerMeanPropagation`): ``L`` fused
sparse ``addmm`` calls in Horner form each way, instead of ``L`` products, ``L`` sums and
their autograd nodes. Propagation runs once per batch (in ``bpr_scores``) and once per
evaluation (cached in eval mode). On small graphs every op but the sparse products is
too small to amortise waking a second thread, so the BPR loop runs on one thread and only
the products use the caller's threads: see :attr:`LightGCN.preferred_threads` and
:attr:`LightGCN.sparse_threads`.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn

from kgrec.device import num_threads
from kgrec.models.base import ScoringModel

if TYPE_CHECKING:
    from kgrec.models.loo import HistoryLOO


class SymmetricSpMM(torch.autograd.Function):
    """``y = A @ x`` for a symmetric sparse ``A``; the backward pass is ``A @ grad``."""

    @staticmethod
    def forward(ctx, x: Tensor, adjacency: Tensor) -> Tensor:  # type: ignore[override]
        ctx.adjacency = adjacency
        return adjacency @ x

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        return ctx.adjacency @ grad, None


def propagate_mean(x: Tensor, adjacency: Tensor, num_layers: int) -> Tensor:
    """:math:`P x = \\tfrac{1}{L+1}\\sum_{l=0}^{L} \\hat A^l x` in Horner form,
    :math:`y_0 = x,\\; y_{l+1} = x + \\hat A y_l,\\; P x = y_L / (L+1)`: ``L`` sparse
    ``addmm`` calls and no other temporaries. ``x`` ``[N, d]`` → ``[N, d]``."""
    y = x
    for _ in range(num_layers):
        y = torch.addmm(x, adjacency, y)
    if num_layers == 0:
        return x.clone()
    return y.mul_(1.0 / (num_layers + 1))  # y is a fresh tensor: scale in place


class LayerMeanPropagation(torch.autograd.Function):
    """``y = P x`` with :math:`P = \\tfrac{1}{L+1}\\sum_l \\hat A^l` for a symmetric sparse
    :math:`\\hat A`; :math:`P` is symmetric too, so the backward pass is ``P @ grad``.
    ``threads`` (``None``: the current setting) is the thread count of the sparse products,
    forward and backward."""

    @staticmethod
    def forward(ctx, x: Tensor, adjacency: Tensor, num_layers: int,  # type: ignore[override]
                threads: int | None = None) -> Tensor:
        ctx.adjacency, ctx.num_layers, ctx.threads = adjacency, num_layers, threads
        with num_threads(threads):
            return propagate_mean(x.contiguous(), adjacency, num_layers)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        with num_threads(ctx.threads):
            out = propagate_mean(grad.contiguous(), ctx.adjacency, ctx.num_layers)
        return out, None, None, None


def csr_tensor(matrix: sp.csr_matrix) -> Tensor:
    """A scipy CSR matrix as a float32 ``torch.sparse_csr`` tensor, with int32 indices
    when they fit (the index type MKL's sparse products use without a per-call copy)."""
    index = np.int32 if matrix.nnz < 2**31 and max(matrix.shape) < 2**31 else np.int64
    with warnings.catch_warnings():  # torch flags sparse CSR as beta; it is what we want
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(torch.from_numpy(matrix.indptr.astype(index)),
                                       torch.from_numpy(matrix.indices.astype(index)),
                                       torch.from_numpy(matrix.data.astype(np.float32)),
                                       size=matrix.shape, check_invariants=False)


def normalized_adjacency(interactions: sp.spmatrix, side_edges: sp.spmatrix | None = None,
                         side_weight: float = 1.0) -> Tensor:
    """Symmetric-normalised adjacency :math:`D^{-1/2} A D^{-1/2}` as ``torch.sparse_csr``.

    Node order: users ``[0, U)``, items ``[U, U+I)``, side entities ``[U+I, U+I+E)``.

    Args:
        interactions: binary ``[U, I]`` user–item matrix (training positives).
        side_edges: optional binary ``[I, E]`` item–entity matrix (knowledge-graph edges
            such as movie–director, movie–genre); ``None`` for the plain bipartite graph.
        side_weight: weight of the item–entity edges in :math:`A` before normalisation.

    Returns:
        ``[N, N]`` float32 CSR tensor (int32 indices below 2**31 non-zeros),
        ``N = U + I (+ E)``.
    """
    R = sp.csr_matrix(interactions, dtype=np.float32)
    R.data[:] = 1.0
    num_users, num_items = R.shape
    blocks: list[list[sp.spmatrix | None]]
    if side_edges is None:
        blocks = [[None, R], [R.T, None]]
    else:
        S = sp.csr_matrix(side_edges, dtype=np.float32)
        if S.shape[0] != num_items:
            raise ValueError(f"side_edges has {S.shape[0]} rows, expected {num_items} items")
        S.data[:] = side_weight
        blocks = [[None, R, None], [R.T, None, S], [None, S.T, None]]
    A = sp.bmat(blocks, format="csr", dtype=np.float32)
    degree = np.asarray(A.sum(axis=1)).ravel()
    inv_sqrt = np.zeros_like(degree)
    nonzero = degree > 0
    inv_sqrt[nonzero] = degree[nonzero] ** -0.5
    D = sp.diags(inv_sqrt)
    norm = (D @ A @ D).tocsr()
    norm.sort_indices()
    return csr_tensor(norm)


class LightGCN(ScoringModel):
    """LightGCN over a precomputed normalised adjacency.

    Args:
        num_users: number of users ``U``.
        num_items: number of items ``I``.
        adjacency: ``[N, N]`` symmetric normalised adjacency from
            :func:`normalized_adjacency` (``N = U + I + E``; ``E > 0`` when KG entities
            take part in propagation).
        embedding_size: dimension ``d`` of the embeddings (default 64).
        num_layers: propagation layers ``L`` (default 3).
        item_features: optional ``[I, F]`` text features of the items.
        text_mode: how ``item_features`` enter: ``"none"`` (ignored), ``"init"`` (the item
            ID embeddings start from a fixed random projection of the features, scaled to
            the usual init std), or ``"fuse"`` (ego embedding of item ``i`` is
            :math:`e_i + W x_i` with a learned ``W`` of shape ``[d, F]``).
        init_std: standard deviation of the normal initialisation (default 0.1).
    """

    def __init__(self, num_users: int, num_items: int, adjacency: Tensor, *,
                 embedding_size: int = 64, num_layers: int = 3,
                 item_features: Tensor | None = None, text_mode: str = "none",
                 init_std: float = 0.1):
        super().__init__()
        if text_mode not in ("none", "init", "fuse"):
            raise ValueError(f"text_mode must be 'none', 'init' or 'fuse', got {text_mode!r}")
        if text_mode != "none" and item_features is None:
            raise ValueError(f"text_mode={text_mode!r} needs item_features")
        n = adjacency.shape[0]
        if n < num_users + num_items:
            raise ValueError(f"adjacency has {n} nodes, fewer than {num_users} users + "
                             f"{num_items} items")
        self.num_users, self.num_items = num_users, num_items
        self.num_entities = n - num_users - num_items
        self.num_layers, self.embedding_size = num_layers, embedding_size
        self.text_mode, self.init_std = text_mode, init_std
        # a buffer, so .to(device) moves it; rebuilt from the graph, so not saved
        self.register_buffer("adjacency", adjacency, persistent=False)
        self.embedding = nn.Embedding(n, embedding_size)
        if item_features is not None:
            self.register_buffer("item_features", item_features.float(), persistent=False)
        else:
            self.item_features = None
        self.text_proj = (nn.Linear(item_features.shape[1], embedding_size, bias=False)
                          if text_mode == "fuse" else None)
        self._cache: tuple[Tensor, Tensor] | None = None
        self.reset_parameters()

    #: Below this many multiply-adds per sparse product (``nnz(Â) * d``) training runs on
    #: one thread. Measured on the 2-core machine (OMP_WAIT_POLICY=PASSIVE, other jobs
    #: running): ML-100K (1.6e5 non-zeros x 64 = 1.0e7) takes 0.50 s/epoch on one thread
    #: and 1.73 s/epoch on two; a 2e6-non-zero product x 64 (1.3e8) runs 2.2x faster on
    #: two threads. The crossover lies in between; 2**25 (3.4e7) is a round value there.
    SINGLE_THREAD_WORK = 2**25

    #: Threads of the sparse products (forward and backward), ``None`` for the current
    #: setting. The BPR trainer sets it to the caller's thread count while it runs the
    #: rest of the loop on :attr:`preferred_threads`: on ML-100K one propagation
    #: (3 products of ``[2625, 64]``) takes 2.0 ms on one thread and 1.0 ms on two on
    #: a quiet machine, while the loop's small ops are faster on one.
    sparse_threads: int | None = None

    @property
    def preferred_threads(self) -> int | None:
        """Threads the BPR loop uses when the caller sets none: ``1`` for small graphs
        (each op but the sparse products is too small to pay for waking a second OpenMP
        thread, which costs a futex round trip: system time), ``None`` (torch's setting)
        for large ones."""
        work = self.adjacency._nnz() * self.embedding_size
        return 1 if work < self.SINGLE_THREAD_WORK else None

    def reset_parameters(self) -> None:
        nn.init.normal_(self.embedding.weight, std=self.init_std)
        if self.text_mode == "init":
            with torch.no_grad():
                x = self.item_features - self.item_features.mean(0, keepdim=True)
                proj = torch.randn(x.shape[1], self.embedding_size) / x.shape[1] ** 0.5
                init = x @ proj
                init = init / init.std().clamp_min(1e-8) * self.init_std
                lo = self.num_users
                self.embedding.weight[lo:lo + self.num_items] = init
        if self.text_proj is not None:
            nn.init.normal_(self.text_proj.weight, std=self.init_std / 4)
        self._cache = None

    def train(self, mode: bool = True) -> LightGCN:
        self._cache = None
        return super().train(mode)

    def ego_embeddings(self) -> Tensor:
        """Layer-0 embeddings ``[N, d]`` (item rows fused with text when configured)."""
        ego = self.embedding.weight
        if self.text_proj is not None:
            lo = self.num_users
            fused = ego[lo:lo + self.num_items] + self.text_proj(self.item_features)
            ego = torch.cat([ego[:lo], fused, ego[lo + self.num_items:]])
        return ego

    def propagate(self) -> tuple[Tensor, Tensor]:
        """Final user ``[U, d]`` and item ``[I, d]`` embeddings after ``L`` layers."""
        out = LayerMeanPropagation.apply(self.ego_embeddings(), self.adjacency, self.num_layers,
                                         self.sparse_threads)
        return out[:self.num_users], out[self.num_users:self.num_users + self.num_items]

    def forward(self, users: Tensor, items: Tensor) -> Tensor:
        """Scores :math:`e_u^\\top e_i` of aligned ``users``/``items`` (``[B]`` → ``[B]``)."""
        user_emb, item_emb = self.propagate()
        return (user_emb[users] * item_emb[items]).sum(-1)

    def bpr_scores(self, users: Tensor, pos: Tensor, neg: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Positive and negative scores of a BPR batch, and the L2 term
        :math:`\\tfrac{1}{2B}(\\|e^{(0)}_u\\|^2 + \\|e^{(0)}_i\\|^2 + \\|e^{(0)}_j\\|^2)`."""
        user_emb, item_emb = self.propagate()  # once per batch
        # index_select: its backward is one index_add_, cheaper than advanced indexing's
        # accumulating index_put_
        u = user_emb.index_select(0, users)
        pos_scores = (u * item_emb.index_select(0, pos)).sum(-1)
        neg_scores = (u * item_emb.index_select(0, neg)).sum(-1)
        ego = self.embedding.weight
        lo = self.num_users
        reg = (ego.index_select(0, users).pow(2).sum() + ego.index_select(0, lo + pos).pow(2).sum()
               + ego.index_select(0, lo + neg).pow(2).sum()) / (2 * len(users))
        return pos_scores, neg_scores, reg

    def score(self, users: Tensor) -> Tensor:
        """Scores of all items for ``users``: ``[B]`` → ``[B, I]``."""
        if self.training or self._cache is None:
            with torch.set_grad_enabled(self.training):
                cache = self.propagate()
            if self.training:
                return cache[0][users] @ cache[1].T
            self._cache = (cache[0].detach(), cache[1].detach())
        user_emb, item_emb = self._cache
        return user_emb[users] @ item_emb.T

    def score_history(self, history: Tensor) -> Tensor:
        """Histories ``[B, I]`` (users not trained): the user vector is the mean final
        embedding of the history's items (one propagation step from the items, as a new
        user node would receive), then dot products with every item."""
        item_emb = self.item_embeddings()
        h = history.to(torch.float32)
        user = h @ item_emb / h.sum(1, keepdim=True).clamp_min(1.0)
        return user @ item_emb.T

    def history_loo(self, history: Tensor, batch_size: int = 256) -> HistoryLOO:
        """Leave-one-out scores of one history ``long [n]`` in closed form
        (:class:`~kgrec.models.loo.FoldInLOO`): the user vector without :math:`h_j` is
        :math:`(S - e_{h_j}) / \\max(n - 1, 1)` with :math:`S = \\sum_{h \\in H} e_h`,
        and the rows' moments come from :math:`E^T E` (``O(n d^2)``) instead of ``n + 1``
        products with every item."""
        from kgrec.models.loo import FoldInLOO

        item_emb = self.item_embeddings()
        stats = getattr(self, "_loo_stats", None)
        if stats is None or stats[0] is not item_emb:
            e = item_emb.double()
            stats = (item_emb, e.sum(0), e.T @ e)
            self._loo_stats = stats  # one assignment: concurrent readers see a whole tuple
        history = torch.as_tensor(history, dtype=torch.long).reshape(-1)
        return FoldInLOO(history, item_emb, stats[1], stats[2])

    def item_embeddings(self) -> Tensor:
        """Final item embeddings ``[I, d]`` (cached in eval mode, like :meth:`score`)."""
        with torch.no_grad():
            if self.training:
                return self.propagate()[1]
            if self._cache is None:
                users, items = self.propagate()
                self._cache = (users.detach(), items.detach())
            return self._cache[1]
