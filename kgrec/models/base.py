"""The one scoring interface every recommender model shares.

A model scores items for users by index (indices come from the
:class:`~kgrec.graph.KnowledgeGraph` vocabulary; the public API speaks external ids).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

if TYPE_CHECKING:
    from kgrec.models.loo import HistoryLOO


class ScoringModel(nn.Module):
    """Base class: ``score(users) -> [len(users), num_items]`` relevance scores.

    Subclasses that learn by gradient descent also implement
    ``bpr_scores(users, pos_items, neg_items) -> (pos, neg, reg)`` (see
    :mod:`kgrec.train`); closed-form ones implement ``fit(interactions)`` on a
    binary user × item ``torch.sparse_csr`` / dense matrix. ``inductive`` tells whether
    the model can score items that had no training interaction (cold-start items).
    """

    num_users: int
    num_items: int
    inductive: bool = False

    def _apply(self, fn, *args, **kwargs):
        """``.to()`` / ``.cuda()`` / ``.double()`` also drop a model's derived ``_cache``
        (e.g. propagated embeddings kept in eval mode), which would stay behind on the
        old device; it is recomputed on the next call."""
        if getattr(self, "_cache", None) is not None:
            self._cache = None
        return super()._apply(fn, *args, **kwargs)

    def score(self, users: Tensor) -> Tensor:  # pragma: no cover - interface
        """Scores of every item for each user index in ``users`` (``[B]`` → ``[B, I]``)."""
        raise NotImplementedError

    def score_history(self, history: Tensor) -> Tensor:
        """Scores ``[B, I]`` for users given only by their item histories (binary
        ``[B, I]``): users absent from training, e.g. cold-start users."""
        raise NotImplementedError(f"{type(self).__name__} cannot score users outside training")

    def history_loo(self, history: Tensor, batch_size: int = 256) -> HistoryLOO:
        """Leave-one-out scores of one history, for explanations' anchor effect
        (:mod:`kgrec.models.loo`): row 0 is :meth:`score_history` of the history
        :math:`H` (``long [n]``, distinct item indices), row :math:`j` (1-based) that of
        :math:`H \\setminus \\{h_j\\}`.

        This generic form scores the ``n + 1`` histories in batches of ``batch_size``
        (``O(n I)`` memory); models whose history score has a closed form in the history's
        rows override it with a cheaper computation that gives the same numbers.
        """
        from kgrec.models.loo import DenseLOO

        history = torch.as_tensor(history, dtype=torch.long).reshape(-1)
        from kgrec.device import model_device

        device = model_device(self)
        n = len(history)
        full = torch.zeros(1, self.num_items, device=device)
        full[0, history.to(device)] = 1.0
        rows = [self.score_history(full)]
        for lo in range(0, n, batch_size):
            hi = min(n, lo + batch_size)
            batch = full.repeat(hi - lo, 1)
            batch[torch.arange(hi - lo, device=device), history[lo:hi].to(device)] = 0.0
            rows.append(self.score_history(batch))
        return DenseLOO(history, torch.cat(rows))

    @torch.no_grad()
    def score_all(self, users: Tensor, batch_size: int = 1024) -> Tensor:
        """:meth:`score` in batches of users, in eval mode."""
        was_training = self.training
        self.eval()
        try:
            return torch.cat([self.score(users[i:i + batch_size])
                              for i in range(0, len(users), batch_size)])
        finally:
            self.train(was_training)


class ItemItemModel(ScoringModel):
    """A model scoring with one fitted item–item matrix: :math:`\\hat y_u = x_u W`.

    Subclasses register the buffers ``history`` (``[U, I]`` training rows :math:`x_u`)
    and ``weight`` (``[I, I]`` matrix :math:`W`) and fill them in ``fit``.
    """

    history: Tensor
    weight: Tensor

    def score(self, users: Tensor) -> Tensor:
        """Scores :math:`x_u W` of every item: ``long [B]`` → ``[B, I]``."""
        return self.history[torch.as_tensor(users).long()] @ self.weight

    def score_history(self, history: Tensor) -> Tensor:
        """Scores :math:`h W` for arbitrary binary histories ``[B, I]``."""
        return history.float() @ self.weight

    def history_loo(self, history: Tensor, batch_size: int = 256) -> HistoryLOO:
        """:meth:`ScoringModel.history_loo` in closed form: with
        :math:`s = \\sum_{h \\in H} W_h`, removing :math:`h_j` gives :math:`s - W_{h_j}`
        (``O(n I)``, no product)."""
        return linear_loo(history, lambda h: self.weight.index_select(0, h.to(self.weight.device)).float())


def linear_loo(history: Tensor, weight_rows: Callable[[Tensor], Tensor]) -> HistoryLOO:
    """:meth:`ScoringModel.history_loo` of a model linear in the history,
    :math:`s(H) = \\sum_{h \\in H} W_h`, from the rows ``weight_rows(h) [n, I]``
    (:class:`~kgrec.models.loo.LinearLOO`: ``O(n I)``, no product)."""
    from kgrec.models.loo import LinearLOO

    history = torch.as_tensor(history, dtype=torch.long).reshape(-1)
    return LinearLOO(history, weight_rows(history))


def item_vectors(model: nn.Module, fallback: Tensor | None = None) -> Tensor | None:
    """Item vectors ``[I, d]`` whose cosine says which movies the model treats as alike:
    the model's own ``item_embeddings()`` when it has them (for a fusion, those of its
    most-weighted component that has them), else ``fallback`` (e.g. text features).
    Explanations rank anchor movies by this similarity, so the anchors they name are
    the ones the model's score depends on."""
    candidates = [model]
    if hasattr(model, "weight_dict"):
        weights = model.weight_dict()
        candidates = sorted(model.components.values(),
                            key=lambda m: -weights[next(n for n, c in model.components.items()
                                                        if c is m)])
    for candidate in candidates:
        if hasattr(candidate, "item_embeddings"):
            was_training = candidate.training
            candidate.eval()
            try:
                return candidate.item_embeddings().detach().float()
            finally:
                candidate.train(was_training)
    return None if fallback is None else fallback.float()
