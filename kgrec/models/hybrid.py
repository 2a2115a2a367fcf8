"""The kgrec hybrid: rank fusion of collaborative, graph, knowledge-graph and text scorers.

Each component :math:`c` (a fitted :class:`~kgrec.models.base.ScoringModel`) scores all
items for a user; scores are standardised per user so that components on different scales
can be added, and mixed with non-negative weights chosen on validation NDCG@10:

.. math:: z_c(u, i) = \\frac{s_c(u, i) - \\mu_c(u)}{\\sigma_c(u)}, \\qquad
          \\hat y_{ui} = \\sum_c w_c \\, z_c(u, i)

where :math:`\\mu_c(u), \\sigma_c(u)` are the mean and standard deviation of
:math:`s_c(u, \\cdot)` over the items (the user's known items are excluded from the
statistics when a ``history`` mask is given, since they are never recommended).

Why: on MovieLens the strongest single collaborative model is a linear item–item
autoencoder (EASE/DLAE), while LightGCN propagated over the user–item *and* knowledge-graph
edges makes different errors (multi-hop, smoothed by shared directors/actors/genres); their
standardised sum ranks better than either (measured in ``scripts/benchmark.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from kgrec.models.base import ScoringModel

if TYPE_CHECKING:
    from kgrec.models.loo import HistoryLOO


def standardize(scores: Tensor, exclude: Tensor | None = None) -> Tensor:
    """Per-row z-scores of ``scores [B, I]``; entries where ``exclude [B, I]`` is true do
    not enter the row statistics (their z-score is still returned)."""
    if exclude is None:
        mean = scores.mean(1, keepdim=True)
        std = scores.std(1, keepdim=True)
    else:
        keep = (~exclude).float()
        count = keep.sum(1, keepdim=True).clamp_min(1.0)
        mean = (scores * keep).sum(1, keepdim=True) / count
        std = (((scores - mean) ** 2) * keep).sum(1, keepdim=True).div(count).sqrt()
    return (scores - mean) / std.clamp_min(1e-8)


def standardize_excluding(scores: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
    """:func:`standardize` of ``scores [B, I]`` with the entries ``(rows[k], cols[k])``
    (distinct) left out of the row statistics, without a dense ``[B, I]`` mask.

    The scores are centred on their row means over all items (one new tensor, float32
    sums); the kept items' mean offset and variance then follow from the row sums of the
    centred values and of their squares minus those of the left-out entries (a user's
    history), in float64, and the centred tensor is shifted and scaled in place: four
    passes over ``scores`` instead of a masked two-pass computation in float64."""
    count, items = scores.shape
    rows, cols = rows.to(scores.device), cols.to(scores.device)
    out = scores - (scores.sum(1) / items)[:, None]
    left = out[rows, cols].double()
    kept_sum = out.sum(1).double() - torch.zeros(count, dtype=torch.float64,
                                                 device=out.device).index_add_(0, rows, left)
    kept_squares = (torch.linalg.vector_norm(out, dim=1).double() ** 2
                    - torch.zeros(count, dtype=torch.float64,
                                  device=out.device).index_add_(0, rows, left * left))
    kept = (items - torch.bincount(rows, minlength=count)).clamp_min(1).double()
    shift = kept_sum / kept
    std = (kept_squares / kept - shift * shift).clamp_min(0.0).sqrt()
    return out.sub_(shift.to(out.dtype)[:, None]).div_(std.to(out.dtype).clamp_min(1e-8)[:, None])


class ScoreFusion(ScoringModel):
    """Weighted sum of per-user standardised scores of fitted component models.

    Args:
        components: name → fitted model; all must share ``num_users`` and ``num_items``.
        weights: name → non-negative weight (default: equal weights).
        history: optional binary ``[U, I]`` matrix of the users' known items, excluded
            from the standardisation statistics.
    """

    def __init__(self, components: dict[str, ScoringModel], weights: dict[str, float] | None = None,
                 history: sp.spmatrix | None = None):
        super().__init__()
        if not components:
            raise ValueError("ScoreFusion needs at least one component")
        shapes = {(m.num_users, m.num_items) for m in components.values()}
        if len(shapes) != 1:
            raise ValueError(f"components disagree on (num_users, num_items): {sorted(shapes)}")
        self.num_users, self.num_items = shapes.pop()
        self.names = list(components)
        # ModuleDict keys must be identifiers that do not shadow its methods ("pop")
        self._modules_by_slot = torch.nn.ModuleList(components.values())
        # a buffer, so that the fitted weights travel in state_dict() with the components
        self.register_buffer("fusion_weights", torch.zeros(len(self.names)))
        self.set_weights({name: 1.0 for name in components} if weights is None else weights)
        self.inductive = all(m.inductive for m in components.values())
        # scipy, not a tensor: it only selects rows, whose mask then moves to the scores'
        # device (a dense [U, I] buffer would not scale)
        self._history = None if history is None else sp.csr_matrix(history)

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
        # A hybrid saved with fewer components (a large catalogue's DLAE-only hybrid,
        # saved before ``model.hybrid_large_components``): its weights have fewer
        # entries and its state no slot beyond them. When the saved slots are, buffer
        # for buffer, this fusion's first components, the later ones are dropped.
        saved = state_dict.get(prefix + "fusion_weights")
        kept = 0 if saved is None else int(saved.numel())
        slots = prefix + "_modules_by_slot."
        if saved is not None and 0 < kept < len(self.names) and not any(
                key.startswith(f"{slots}{i}.") for key in state_dict
                for i in range(kept, len(self.names))):
            same = all({k[len(f"{slots}{i}."):] for k in state_dict if k.startswith(f"{slots}{i}.")}
                       == set(module.state_dict()) for i, module in
                       enumerate(list(self._modules_by_slot)[:kept]))
            if same:
                self.names = self.names[:kept]
                self._modules_by_slot = torch.nn.ModuleList(list(self._modules_by_slot)[:kept])
                self.fusion_weights = torch.zeros(kept, device=self.fusion_weights.device)
        super()._load_from_state_dict(state_dict, prefix, *args)

    def weight_dict(self) -> dict[str, float]:
        """Component name → fusion weight."""
        return {n: float(w) for n, w in zip(self.names, self.fusion_weights)}

    def set_weights(self, weights: dict[str, float]) -> None:
        """Set the fusion weights (name → weight ≥ 0; missing names get 0), in place so
        the buffer keeps its device. The search for them is
        :func:`kgrec.train.fusion.fit_fusion_weights`."""
        unknown = set(weights) - set(self.names)
        if unknown:
            raise ValueError(f"weights for unknown components {sorted(unknown)}")
        values = torch.tensor([float(weights.get(n, 0.0)) for n in self.names])
        if (values < 0).any():
            raise ValueError(f"weights must be non-negative, got {weights}")
        self.fusion_weights.copy_(values)

    def _history_coo(self, users: Tensor) -> tuple[Tensor, Tensor] | None:
        """``(rows, cols)`` of the known items of ``users [B]`` (``None`` without a
        history)."""
        if self._history is None:
            return None
        h, idx = self._history, users.cpu().numpy().astype(np.int64)
        start, stop = h.indptr[idx], h.indptr[idx + 1]
        sizes = stop - start
        rows = np.repeat(np.arange(len(idx)), sizes)
        positions = np.repeat(start - np.cumsum(sizes) + sizes, sizes) + np.arange(sizes.sum())
        return torch.from_numpy(rows), torch.from_numpy(h.indices[positions].astype(np.int64))

    def _exclude(self, users: Tensor) -> Tensor | None:
        """Dense ``bool [B, I]`` mask of the known items of ``users`` (``None`` without
        a history)."""
        coo = self._history_coo(users)
        if coo is None:
            return None
        out = torch.zeros(len(users), self.num_items, dtype=torch.bool)
        out[coo] = True
        return out.to(self.fusion_weights.device)

    def component_scores(self, users: Tensor) -> dict[str, Tensor]:
        """Standardised scores ``[B, I]`` of each component (the users' known items left
        out of the statistics: :func:`standardize_excluding`)."""
        users = torch.as_tensor(users).long().reshape(-1)
        coo = self._history_coo(users)
        if coo is None:
            return {name: standardize(model.score(users))
                    for name, model in self.components.items()}
        return {name: standardize_excluding(model.score(users), *coo)
                for name, model in self.components.items()}

    @property
    def components(self) -> dict[str, ScoringModel]:
        """Component name → model."""
        return dict(zip(self.names, self._modules_by_slot))

    def _weighted(self) -> dict[str, float]:
        """The components with a non-zero weight (all of them when every weight is 0),
        name → weight: a component the fusion gives no weight is not scored."""
        weights = self.weight_dict()
        return {n: w for n, w in weights.items() if w != 0.0} or weights

    def score(self, users: Tensor) -> Tensor:
        users = torch.as_tensor(users).long().reshape(-1)
        weights, coo = self._weighted(), self._history_coo(users)
        models = self.components

        total = None
        for name, weight in weights.items():  # accumulated in place: one [B, I] at a time
            scores = models[name].score(users)
            z = standardize(scores) if coo is None else standardize_excluding(scores, *coo)
            total = z.mul_(weight) if total is None else total.add_(z, alpha=weight)
        return total

    def score_history(self, history: Tensor) -> Tensor:
        """Scores for arbitrary binary histories ``[B, I]`` (users not in training):
        the weighted sum of the components' standardised ``score_history``."""
        exclude = history > 0
        return sum(w * standardize(self.components[n].score_history(history), exclude)
                   for n, w in self._weighted().items())

    def history_loo(self, history: Tensor, batch_size: int = 256) -> HistoryLOO:
        """Leave-one-out scores of one history ``long [n]``
        (:class:`~kgrec.models.loo.FusionLOO`): each component's own
        :meth:`~kgrec.models.base.ScoringModel.history_loo`, standardised per row over the
        items that row does not exclude (row ``j`` keeps :math:`h_j`, as
        :meth:`score_history` of the shorter history does), weighted and summed."""
        from kgrec.models.loo import FusionLOO

        h = torch.as_tensor(history, dtype=torch.long).reshape(-1)
        parts = [(w, self.components[name].history_loo(h, batch_size))
                 for name, w in self.weight_dict().items() if w != 0.0]
        return FusionLOO(h, parts, self.num_items)
