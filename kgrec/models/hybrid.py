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

from typing import TYPE_CHECKING

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

    def _exclude(self, users: Tensor) -> Tensor | None:
        if self._history is None:
            return None
        h, idx = self._history, users.cpu().numpy().astype(np.int64)
        start, stop = h.indptr[idx], h.indptr[idx + 1]
        rows = np.repeat(np.arange(len(idx)), stop - start)
        cols = h.indices[np.concatenate([np.arange(a, b) for a, b in zip(start, stop)])
                         if len(idx) else np.zeros(0, np.int64)]
        out = np.zeros((len(idx), self.num_items), dtype=bool)
        out[rows, cols] = True
        return torch.from_numpy(out).to(self.fusion_weights.device)

    def component_scores(self, users: Tensor) -> dict[str, Tensor]:
        """Standardised scores ``[B, I]`` of each component."""
        exclude = self._exclude(users)
        return {name: standardize(model.score(users), exclude)
                for name, model in self.components.items()}

    @property
    def components(self) -> dict[str, ScoringModel]:
        """Component name → model."""
        return dict(zip(self.names, self._modules_by_slot))

    def score(self, users: Tensor) -> Tensor:
        parts = self.component_scores(users)
        return sum(w * parts[n] for n, w in self.weight_dict().items())

    def score_history(self, history: Tensor) -> Tensor:
        """Scores for arbitrary binary histories ``[B, I]`` (users not in training):
        the weighted sum of the components' standardised ``score_history``."""
        exclude = history > 0
        return sum(w * standardize(self.components[n].score_history(history), exclude)
                   for n, w in self.weight_dict().items())

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
