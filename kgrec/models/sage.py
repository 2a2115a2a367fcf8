"""Inductive heterogeneous GraphSAGE over the whole knowledge graph.

Nodes are users, movies and every side-information type of the graph (people, genres,
countries, years, Freebase entities, ...). Their layer-0 representations are

.. math:: h^{(0)}_u = e_u \\quad (\\text{user ID embedding}), \\qquad
          h^{(0)}_i = W_{\\text{movie}}\\, x_i \\quad (\\text{movie text, no ID embedding}),

.. math:: h^{(0)}_v = e_v + W_{t(v)}\\, x_v \\quad (\\text{entity of type } t(v):
          \\text{ID embedding, plus projected text where the type has features}),

and ``L`` layers of relation-wise GraphSAGE (PyG ``SAGEConv`` inside ``HeteroConv``)
update every node from its typed neighbours,

.. math:: h^{(l+1)}_v = \\sigma\\Big(\\sum_{r \\in \\mathcal R(v)} W^{(l)}_{r,\\text{root}}\\, h^{(l)}_v
          + W^{(l)}_{r,\\text{nbr}} \\operatorname{mean}_{w \\in N_r(v)} h^{(l)}_w\\Big),

with :math:`\\sigma` = ReLU and dropout between layers and no activation after the last one.
A user–movie score is :math:`\\hat y_{ui} = {h^{(L)}_u}^\\top h^{(L)}_i`.

Why it is inductive: a movie never owns a free parameter. Its representation is a
function of its text features and of the representations of its KG entities (directors,
actors, genres, ...), which are shared with every other movie of those entities. A movie
with no rating (cold-start item) is therefore encoded exactly like a rated one, and
:meth:`HeteroSAGE.embed_new_items` encodes movies that are not even in the graph.

By default (``item_side_ratings=False``) movies do **not** aggregate over
``user → movie`` rating edges: a warm movie's representation then carries no
collaborative signal that a cold movie could not have, so the two are encoded the same
way. Users always aggregate over the movies they rated (``movie → user`` edges):
:math:`h_u` mixes the ID embedding with the content of the user's movies. With
``item_side_ratings=True`` movies also read their raters, and ``rated_dropout`` drops a
fraction of the rating edges at each training step (in both directions) so that the
model also sees movies with few or no raters.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import torch
from torch import Tensor, nn

from kgrec.models.base import ScoringModel

EdgeType = tuple[str, str, str]


def _reverse(edge_type: EdgeType) -> EdgeType:
    src, rel, dst = edge_type
    rev = rel[4:] if rel.startswith("rev_") else f"rev_{rel}"
    return dst, rev, src


class HeteroSAGE(ScoringModel):
    """Heterogeneous GraphSAGE scorer, trained with BPR, able to score cold-start movies.

    Args:
        num_users: number of users ``U`` (nodes of ``user_type``).
        num_items: number of movies ``I`` (nodes of ``item_type``).
        edge_index_dict: edge type ``(src_type, relation, dst_type)`` → ``long [2, E]``
            (row 0 source, row 1 destination indices), e.g.
            ``kg.to_hetero_data().edge_index_dict`` or the forward ``kg.edges``. The edges
            between ``user_type`` and ``item_type`` are the (training) rating edges.
            Missing reverse edge types are added (``rev_<relation>``), so forward-only
            and ``to_hetero_data()`` dictionaries give the same model.
        x_dict: node type → ``[N_t, F_t]`` features (e.g. 384-d text embeddings from
            :mod:`kgrec.text`). Movie features are what movies are made of; for other
            types they are added to the ID embedding (rows of zeros for unlabelled nodes
            contribute nothing). Users take no features.
        num_nodes_dict: node counts of types that have neither features nor a count here
            are inferred from the largest index in their edges.
        hidden_size: dimension ``d`` of every representation (default 64).
        num_layers: GraphSAGE layers ``L`` (default 2).
        dropout: dropout on the layer-0 inputs and between layers (default 0.1).
        aggr: neighbour aggregation inside a relation, ``"mean"`` (default), ``"sum"``
            or ``"max"``; relations are summed.
        item_side_ratings: let movies aggregate over the users who rated them (default
            ``False``: movies see only the KG, so warm and cold movies are encoded alike).
        rated_dropout: fraction of rating edges dropped at each training step (default 0).
        user_type: node type of users (default ``"user"``).
        item_type: node type of movies (default ``"movie"``).
        init_std: standard deviation of the ID embeddings' normal initialisation.
    """

    inductive = True

    def __init__(self, num_users: int, num_items: int,
                 edge_index_dict: Mapping[EdgeType, Tensor],
                 x_dict: Mapping[str, Tensor] | None = None, *,
                 num_nodes_dict: Mapping[str, int] | None = None,
                 hidden_size: int = 64, num_layers: int = 2, dropout: float = 0.1,
                 aggr: str = "mean", item_side_ratings: bool = False,
                 rated_dropout: float = 0.0, cold_dropout: float = 0.0,
                 user_type: str = "user",
                 item_type: str = "movie", init_std: float = 0.1,
                 entity_init_std: float = 0.0, min_entity_degree: int = 1):
        super().__init__()
        from torch_geometric.nn import HeteroConv, SAGEConv

        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        for name, value in (("dropout", dropout), ("rated_dropout", rated_dropout),
                            ("cold_dropout", cold_dropout)):
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {value}")
        if aggr not in ("mean", "sum", "max"):
            raise ValueError(f"aggr must be 'mean', 'sum' or 'max', got {aggr!r}")
        x_dict = dict(x_dict or {})
        if user_type in x_dict:
            raise ValueError(f"x_dict[{user_type!r}]: users take no features (ID embeddings)")
        self.num_users, self.num_items = num_users, num_items
        self.user_type, self.item_type = user_type, item_type
        self.hidden_size, self.num_layers = hidden_size, num_layers
        self.dropout, self.rated_dropout, self.aggr = dropout, rated_dropout, aggr
        self.cold_dropout = cold_dropout
        self.item_side_ratings, self.init_std = item_side_ratings, init_std
        self.entity_init_std = entity_init_std

        edges = {tuple(k): torch.as_tensor(v, dtype=torch.long) for k, v in edge_index_dict.items()}
        for etype in list(edges):
            if _reverse(etype) not in edges:
                edges[_reverse(etype)] = edges[etype].flip(0)
        if not item_side_ratings:
            edges = {k: v for k, v in edges.items() if not (k[0] == user_type and k[2] == item_type)}
        if not any(k[2] == user_type for k in edges):
            raise ValueError(f"edge_index_dict has no ({item_type!r}, ..., {user_type!r}) or "
                             f"({user_type!r}, ..., {item_type!r}) rating edges")
        self.edge_types: list[EdgeType] = sorted(edges)

        counts = {user_type: num_users, item_type: num_items}
        for t, x in x_dict.items():
            counts.setdefault(t, int(x.shape[0]))
        for t, n in (num_nodes_dict or {}).items():
            counts.setdefault(t, int(n))
        for (src, _, dst), index in edges.items():
            if index.dim() != 2 or index.shape[0] != 2:
                raise ValueError(f"edge type {(src, _, dst)}: edge_index must have shape [2, E], "
                                 f"got {tuple(index.shape)}")
            for t, row in ((src, index[0]), (dst, index[1])):
                if t not in counts:
                    counts[t] = int(row.max()) + 1 if row.numel() else 0
                if row.numel() and (int(row.min()) < 0 or int(row.max()) >= counts[t]):
                    raise ValueError(f"edge type {(src, _, dst)} has a {t!r} index out of range "
                                     f"[0, {counts[t]})")
        for t, x in x_dict.items():
            if x.dim() != 2 or x.shape[0] != counts[t]:
                raise ValueError(f"x_dict[{t!r}] has shape {tuple(x.shape)}, expected "
                                 f"[{counts[t]}, F]")
        self.num_nodes_dict = counts
        self.node_types = sorted(counts)

        for t, x in x_dict.items():
            self.register_buffer(f"x_{t}", x.detach().float(), persistent=False)
        for i, etype in enumerate(self.edge_types):
            self.register_buffer(f"edge_{i}", edges[etype], persistent=False)
        self.feature_types = sorted(x_dict)
        self.min_entity_degree = min_entity_degree
        for t in counts:
            if t in (user_type, item_type):
                continue
            degree = torch.zeros(counts[t], dtype=torch.long)
            for (src, _, dst), index in edges.items():
                if src == item_type and dst == t:
                    degree += torch.bincount(index[1], minlength=counts[t])
            self.register_buffer(f"id_mask_{t}", (degree >= min_entity_degree).float()[:, None],
                                 persistent=False)
        self.embedding = nn.ModuleDict({
            t: nn.Embedding(n, hidden_size) for t, n in counts.items() if t != item_type})
        self.text_proj = nn.ModuleDict({
            t: nn.Linear(x_dict[t].shape[1], hidden_size) for t in self.feature_types})
        #: layer-0 movie vector when movies have no features (all movies start equal)
        self.item_base = (nn.Parameter(torch.zeros(hidden_size))
                          if item_type not in x_dict else None)

        # Which edge types each layer needs: the last layer only updates users and movies,
        # earlier layers only the node types read by the layers after them.
        needed = {user_type, item_type}
        layer_types: list[list[EdgeType]] = []
        for _ in range(num_layers):
            used = [e for e in self.edge_types if e[2] in needed]
            layer_types.append(used)
            needed = needed | {e[0] for e in used}
        layer_types.reverse()
        self.layer_edge_types = layer_types
        # SAGEConv's root term W_r h_v summed over the relations r of a node type is one
        # matrix W_t h_v: it is applied once per node type (root_weight=False in the
        # relation convs), which is the same model for a fraction of the matrix products.
        with warnings.catch_warnings():  # by design, later layers skip entity updates
            warnings.filterwarnings("ignore", message=".*do not get updated during message")
            self.convs = nn.ModuleList([
                HeteroConv({e: SAGEConv((hidden_size, hidden_size), hidden_size, aggr=aggr,
                                        root_weight=False)
                            for e in used}, aggr="sum")
                for used in layer_types])
        self.roots = nn.ModuleList([
            nn.ModuleDict({t: nn.Linear(hidden_size, hidden_size, bias=False)
                           for t in sorted({e[2] for e in used})})
            for used in layer_types])
        self._cache: tuple[Tensor, Tensor] | None = None
        self.reset_parameters()

    # -- parameters ------------------------------------------------------------------------
    def reset_parameters(self) -> None:
        for t, emb in self.embedding.items():
            std = self.init_std if t == self.user_type else self.entity_init_std
            nn.init.normal_(emb.weight, std=std)
        for lin in self.text_proj.values():
            lin.reset_parameters()
        if self.item_base is not None:
            nn.init.zeros_(self.item_base)
        for conv in self.convs:
            conv.reset_parameters()
        for roots in self.roots:
            for lin in roots.values():
                lin.reset_parameters()
        self._cache = None

    def train(self, mode: bool = True) -> HeteroSAGE:
        self._cache = None
        return super().train(mode)

    # -- propagation -----------------------------------------------------------------------
    def _edges(self) -> dict[EdgeType, Tensor]:
        return {e: getattr(self, f"edge_{i}") for i, e in enumerate(self.edge_types)}

    def _item_input(self, features: Tensor | None, count: int) -> Tensor:
        if self.item_base is not None:
            return self.item_base.expand(count, -1)
        return self.text_proj[self.item_type](features)

    def input_embeddings(self, item_features: Tensor | None = None) -> dict[str, Tensor]:
        """Layer-0 representations ``{node_type: [N_t, d]}`` (see the module formulas).

        Args:
            item_features: ``[I', F]`` movie features replacing the stored ones (used by
                :meth:`embed_new_items` to append new movies); default the stored ones.
        """
        h: dict[str, Tensor] = {}
        for t in self.node_types:
            if t == self.item_type:
                feats = getattr(self, f"x_{t}", None) if item_features is None else item_features
                n = self.num_items if feats is None else feats.shape[0]
                h[t] = self._item_input(feats, n)
                continue
            h[t] = self.embedding[t].weight
            if t != self.user_type and self.min_entity_degree > 1:
                h[t] = h[t] * getattr(self, f"id_mask_{t}")
            if t in self.text_proj:
                h[t] = h[t] + self.text_proj[t](getattr(self, f"x_{t}"))
        return h

    def _drop_rated(self, edges: dict[EdgeType, Tensor]) -> dict[EdgeType, Tensor]:
        """Training-time rating-edge dropout: each rating edge (both directions) is
        dropped with probability ``rated_dropout``; with ``cold_dropout``, a random
        fraction of movies also loses every ``user → movie`` edge (simulated cold start)."""
        if not self.training or (self.rated_dropout == 0 and self.cold_dropout == 0):
            return edges
        out = dict(edges)
        hidden = None
        if self.cold_dropout > 0:
            device = self._device()
            hidden = torch.rand(self.num_items, device=device) < self.cold_dropout
        for e, index in edges.items():
            if {e[0], e[2]} != {self.user_type, self.item_type}:
                continue
            keep = torch.rand(index.shape[1], device=index.device) >= self.rated_dropout
            if hidden is not None and e[2] == self.item_type:
                keep &= ~hidden[index[1]]
            out[e] = index[:, keep]
        return out

    def propagate(self, h: dict[str, Tensor] | None = None,
                  edges: dict[EdgeType, Tensor] | None = None) -> dict[str, Tensor]:
        """``L`` GraphSAGE layers: ``{type: [N_t, d]}`` → final user and movie
        representations ``{user_type: [U, d], item_type: [I', d]}``."""
        h = self.input_embeddings() if h is None else h
        edges = self._drop_rated(self._edges() if edges is None else edges)
        h = {t: nn.functional.dropout(x, self.dropout, self.training) for t, x in h.items()}
        for layer, (conv, roots, used) in enumerate(zip(self.convs, self.roots,
                                                        self.layer_edge_types)):
            out = conv(h, {e: edges[e] for e in used})
            out = {t: x + roots[t](h[t]) for t, x in out.items()}
            if layer < self.num_layers - 1:
                out = {t: nn.functional.dropout(torch.relu(x), self.dropout, self.training)
                       for t, x in out.items()}
            h = {**h, **out}  # a type no relation of this layer reaches keeps its vector
        return {self.user_type: h[self.user_type], self.item_type: h[self.item_type]}

    def embeddings(self) -> tuple[Tensor, Tensor]:
        """Final user ``[U, d]`` and movie ``[I, d]`` representations (one propagation)."""
        out = self.propagate()
        return out[self.user_type], out[self.item_type]

    # -- scoring ---------------------------------------------------------------------------
    def forward(self, users: Tensor, items: Tensor) -> Tensor:
        """Scores :math:`h_u^\\top h_i` of aligned ``users``/``items`` (``[B]`` → ``[B]``)."""
        user_emb, item_emb = self.embeddings()
        return (user_emb[users] * item_emb[items]).sum(-1)

    def bpr_scores(self, users: Tensor, pos: Tensor, neg: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Positive and negative scores of a BPR batch (one propagation) and the L2 term
        :math:`\\tfrac{1}{2B}(\\|h^{(0)}_u\\|^2 + \\|h^{(0)}_i\\|^2 + \\|h^{(0)}_j\\|^2)` on the
        layer-0 inputs of the batch (user ID embeddings, projected movie text)."""
        h0 = self.input_embeddings()
        out = self.propagate(h0)
        u = out[self.user_type][users]
        item_emb = out[self.item_type]
        pos_scores = (u * item_emb[pos]).sum(-1)
        neg_scores = (u * item_emb[neg]).sum(-1)
        items0 = h0[self.item_type]
        reg = (h0[self.user_type][users].pow(2).sum() + items0[pos].pow(2).sum()
               + items0[neg].pow(2).sum()) / (2 * len(users))
        return pos_scores, neg_scores, reg

    def score(self, users: Tensor) -> Tensor:
        """Scores of all movies for ``users``: ``[B]`` → ``[B, I]`` (propagation cached in
        eval mode)."""
        if self.training:
            user_emb, item_emb = self.embeddings()
        else:
            user_emb, item_emb = self._inference_embeddings()
        return user_emb[users] @ item_emb.T

    def _inference_embeddings(self) -> tuple[Tensor, Tensor]:
        """Eval-mode (no dropout) user and movie representations, cached until the next
        ``train()``/``eval()`` switch or :meth:`reset_parameters`."""
        if self._cache is None:
            was_training = self.training
            super().train(False)
            try:
                with torch.no_grad():
                    cache = self.embeddings()
            finally:
                super().train(was_training)
            if not was_training:
                self._cache = cache
            return cache
        return self._cache

    def item_embeddings(self) -> Tensor:
        """Final movie representations ``[I, d]`` in eval mode (for similarity in
        explanations)."""
        return self._inference_embeddings()[1]

    def user_embeddings(self, users: Tensor | None = None) -> Tensor:
        """Final user representations in eval mode: ``[B, d]`` for ``users`` (default
        all users, ``[U, d]``)."""
        user_emb = self._inference_embeddings()[0]
        return user_emb if users is None else user_emb[users]

    # -- cold start --------------------------------------------------------------------------
    @torch.no_grad()
    def embed_new_items(self, features: Tensor | None,
                        neighbors: Mapping[EdgeType, Tensor]) -> Tensor:
        """Representations ``[M, d]`` of ``M`` movies that are not in the graph.

        The new movies are appended to the graph (indices ``I .. I+M-1``) with their
        features and KG links, and one propagation is run, so a new movie is encoded
        exactly like a movie of the graph that has no rating. Existing nodes see the new
        links too (an actor's representation then averages over the new movie as well).

        Args:
            features: ``[M, F]`` movie features (same encoder as the graph's movie
                features); ``None`` if the model has no movie features, then ``M`` is
                taken from ``neighbors``.
            neighbors: edge type → ``long [2, E]`` KG links of the new movies, either
                ``(item_type, rel, t)`` with row 0 the new movie's position ``0..M-1``
                and row 1 an index of a type-``t`` node, or the reverse form
                ``(t, rev_rel, item_type)`` with the rows swapped. Edge types must be
                ones the model knows; rating edges are not allowed (new movies have none).

        Returns:
            ``[M, d]`` movie representations; score them with
            ``user_embeddings(users) @ embed_new_items(...).T``.
        """
        item = self.item_type
        if features is None:
            if self.item_base is None:
                raise ValueError("features is None but the model was built with movie "
                                 "features: give the new movies' [M, F] features")
            sizes = [int(v[0 if k[0] == item else 1].max()) + 1
                     for k, v in neighbors.items() if v.numel()]
            count = max(sizes, default=0)
        else:
            if self.item_base is not None:
                raise ValueError("the model has no movie features; pass features=None")
            stored = getattr(self, f"x_{item}")
            if features.dim() != 2 or features.shape[1] != stored.shape[1]:
                raise ValueError(f"features has shape {tuple(features.shape)}, expected "
                                 f"[M, {stored.shape[1]}]")
            count = features.shape[0]
        edges = self._edges()
        known = set(edges) | {_reverse(e) for e in edges}
        added: dict[EdgeType, list[Tensor]] = {}
        for etype, index in neighbors.items():
            etype = tuple(etype)
            index = torch.as_tensor(index, dtype=torch.long, device=self._device())
            if self.user_type in (etype[0], etype[2]):
                raise ValueError(f"edge type {etype}: new movies cannot have rating edges")
            if etype not in known:
                raise ValueError(f"edge type {etype} is not an edge type of this model")
            if item not in (etype[0], etype[2]):
                raise ValueError(f"edge type {etype} does not touch {item!r} nodes")
            if index.dim() != 2 or index.shape[0] != 2:
                raise ValueError(f"neighbors[{etype}] must have shape [2, E], "
                                 f"got {tuple(index.shape)}")
            forward = etype if etype[0] == item else _reverse(etype)
            index = index if etype[0] == item else index.flip(0)
            local, other = index[0], index[1]
            if local.numel() and (int(local.min()) < 0 or int(local.max()) >= count):
                raise ValueError(f"neighbors[{etype}] names new movie {int(local.max())}, "
                                 f"but there are {count}")
            limit = self.num_items + count if forward[2] == item else self.num_nodes_dict[forward[2]]
            if other.numel() and (int(other.min()) < 0 or int(other.max()) >= limit):
                raise ValueError(f"neighbors[{etype}] has a {forward[2]!r} index out of range")
            index = torch.stack([local + self.num_items, other])
            for e, idx in ((forward, index), (_reverse(forward), index.flip(0))):
                if e in edges:
                    added.setdefault(e, []).append(idx)
        merged = {e: torch.cat([index, *added[e]], dim=1) if e in added else index
                  for e, index in edges.items()}
        was_training = self.training
        self.eval()
        try:
            feats = None
            if features is not None:
                feats = torch.cat([getattr(self, f"x_{item}"),
                                   features.to(self._device()).float()])
            h0 = self.input_embeddings(feats)
            if feats is None:
                h0[item] = self._item_input(None, self.num_items + count)
            out = self.propagate(h0, merged)
        finally:
            self.train(was_training)
        return out[item][self.num_items:]

    def _device(self) -> torch.device:
        return self.embedding[self.user_type].weight.device
