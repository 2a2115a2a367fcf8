"""KG-and-text DLAE: a denoising linear autoencoder whose item–item graph also knows what
the knowledge graph and the text say, so it scores warm and never-rated movies alike.

The KG and the text enter as *pseudo-users* (collective linear autoencoders, Jeunen et
al., RecSys 2020 LBR): every KG entity "rates" the movies it is linked to and every text
dimension "rates" every movie by its (centred) text embedding. With the binary training
matrix :math:`X \\in \\{0,1\\}^{U \\times I}`, the movie → entity matrix
:math:`K \\in \\{0,1\\}^{I \\times E}` (entities of at least two movies, column :math:`e`
scaled by :math:`n_e^{-1/2}`, :math:`n_e` its movies, so that a genre shared by 500 movies
weighs less than a director shared by 3) and the text embeddings :math:`T \\in \\mathbb
R^{I \\times D}` (centred over the movies, rows L2-normalised), the augmented matrix

.. math:: \\tilde X(w) = \\begin{bmatrix} X \\\\ \\sqrt{w_{kg}}\\, K^\\top \\\\
          \\sqrt{w_{text}}\\, T^\\top \\end{bmatrix}, \\qquad
          G(w) = X^\\top X + w_{kg} K K^\\top + w_{text} T T^\\top

is fitted by DLAE's closed form (:class:`kgrec.models.linear.DLAE`, dropout :math:`p`
on every input row):

.. math:: \\Lambda(w) = \\lambda I + \\tfrac{p}{1-p}\\,\\mathrm{diag}(G(w)), \\qquad
          B(w) = I - (G(w) + \\Lambda(w))^{-1}\\Lambda(w) .

A movie nobody rated has a zero column in :math:`X` but not in :math:`G`: its column of
:math:`B` regresses it on the rated movies that share its director, cast, genres and
words, so a known user's score for it is what their history predicts for such a movie.
For rated movies the side information is a prior on the item–item weights.

The two uses want different strengths (measured on validation: rated movies gain from a
light prior and lose from a heavy one; never-rated movies need a heavy one), so one
model keeps two weight pairs: :math:`w` for the columns of movies with training ratings
and :math:`w^{cold}` for those without,

.. math:: W_{:j} = B(w)_{:j} \\text{ if } n_j > 0 \\text{ else } B(w^{cold})_{:j},
          \\qquad \\hat y_u = x_u W

(:math:`n_j` the movie's training ratings; two solves when some movie is unrated). With
all weights 0 (or no KG and zero text) this is exactly DLAE. Defaults were chosen on
validation data only (warm: ``random-811-seed0``'s ``valid.tsv``; cold: movies carved out
of ``cold-items-seed0``'s training movies by :func:`kgrec.data.splits.cold_validation_split`;
see BENCHMARKS.md).

**In the KG hybrid** (``configs/ml100k-kg-hybrid.toml``) this model is one component of
:class:`kgrec.models.hybrid.ScoreFusion`, next to DLAE and LightGCN, with the per-user
standardised scores :math:`z` fused as

.. math:: \hat y_{ui} = w_1 z_{DLAE}(u, i) + w_2 z_{B(w)}(u, i) + w_3 z_{LightGCN}(u, i)

(:math:`w \ge 0`, :math:`\sum w = 1`, fitted on validation NDCG@10), with
:math:`w_{kg} = 30, w_{text} = 0` (``model.side_w_kg``, ``model.side_w_text``, chosen
inside the fusion on validation): the KG enters as a prior on DLAE's item–item weights
that LightGCN's errors do not share.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from kgrec.models.base import ItemItemModel


def side_gram(item_entities: sp.spmatrix | None, item_text: Tensor | np.ndarray | None,
              num_items: int, w_kg: float, w_text: float) -> np.ndarray:
    """``float64 [I, I]``: :math:`w_{kg} K K^\\top + w_{text} T T^\\top` (module doc)."""
    out = np.zeros((num_items, num_items))
    if item_entities is not None and w_kg > 0:
        K = sp.csr_matrix(item_entities, dtype=np.float64)
        if K.shape[0] != num_items:
            raise ValueError(f"item_entities has {K.shape[0]} rows, expected {num_items}")
        K.data[:] = 1.0
        n = np.asarray(K.sum(0)).ravel()
        keep = np.flatnonzero(n >= 2)
        if len(keep):
            K = K[:, keep] @ sp.diags(n[keep] ** -0.5)
            out += w_kg * (K @ K.T).toarray()
    if item_text is not None and w_text > 0:
        T = np.asarray(torch.as_tensor(item_text).double().cpu())
        if T.shape[0] != num_items:
            raise ValueError(f"item_text has {T.shape[0]} rows, expected {num_items}")
        known = np.abs(T).sum(1) > 0  # zero rows: no text (or text removed)
        if known.any():
            T = np.where(known[:, None], T - T[known].mean(0), 0.0)
            norm = np.linalg.norm(T, axis=1, keepdims=True)
            T = np.divide(T, norm, out=np.zeros_like(T), where=norm > 0)
            out += w_text * (T @ T.T)
    return out


class KGTextDLAE(ItemItemModel):
    """DLAE over ratings plus KG-entity and text pseudo-users (closed form, inductive).

    Args:
        num_users: number of users ``U``.
        num_items: number of items ``I``.
        item_entities: binary ``[I, E]`` movie → KG-entity matrix (``None``: no KG).
        item_text: ``[I, D]`` movie text embeddings (``None`` or zero rows: no text).
        w_kg, w_text: weights :math:`w` of the KG and text pseudo-users for movies with
            training ratings (defaults 10 and 100).
        cold_w_kg, cold_w_text: weights :math:`w^{cold}` for movies without (defaults
            3000 and 3000).
        dropout: DLAE's input dropout :math:`p \\in [0, 1)` (default 0.5).
        reg: L2 weight :math:`\\lambda \\ge 0` (default 300).
    """

    inductive = True

    def __init__(self, num_users: int, num_items: int, *,
                 item_entities: sp.spmatrix | None = None, item_text: Tensor | None = None,
                 w_kg: float = 10.0, w_text: float = 100.0, cold_w_kg: float = 3000.0,
                 cold_w_text: float = 3000.0, dropout: float = 0.5, reg: float = 300.0):
        super().__init__()
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        weights = {"reg": reg, "w_kg": w_kg, "w_text": w_text, "cold_w_kg": cold_w_kg,
                   "cold_w_text": cold_w_text}
        bad = [f"{k}={v}" for k, v in weights.items() if not v >= 0]
        if bad:
            raise ValueError(f"weights must be >= 0, got {', '.join(bad)}")
        self.num_users, self.num_items = int(num_users), int(num_items)
        self.dropout, self.reg = dropout, reg
        self.w_kg, self.w_text, self.cold_w_kg, self.cold_w_text = (w_kg, w_text, cold_w_kg,
                                                                   cold_w_text)
        # fit inputs only (recomputable from the side information): not saved
        self.register_buffer("side_kg", torch.from_numpy(side_gram(
            item_entities, None, self.num_items, 1.0, 0.0)).float(), persistent=False)
        self.register_buffer("side_text", torch.from_numpy(side_gram(
            None, item_text, self.num_items, 0.0, 1.0)).float(), persistent=False)
        self.register_buffer("weight", torch.zeros(num_items, num_items))
        self.register_buffer("history", torch.zeros(num_users, num_items))

    def _solve(self, cooc: np.ndarray, w_kg: float, w_text: float) -> np.ndarray:
        """:math:`B(w)` for the co-occurrence matrix :math:`X^\\top X` (float64)."""
        gram = cooc + w_kg * self.side_kg.double().cpu().numpy() \
            + w_text * self.side_text.double().cpu().numpy()
        lam = self.reg + self.dropout / (1 - self.dropout) * np.diag(gram)
        gram[np.diag_indices_from(gram)] += lam
        return np.eye(self.num_items) - np.linalg.solve(gram, np.diag(lam))

    def fit(self, interactions: sp.spmatrix) -> KGTextDLAE:
        """Solve for :math:`W` from the binary ``[U, I]`` training matrix; returns self."""
        X = sp.csr_matrix(interactions, dtype=np.float64)
        if X.shape != (self.num_users, self.num_items):
            raise ValueError(f"interactions shape {X.shape} != ({self.num_users}, "
                             f"{self.num_items})")
        X.data[:] = 1.0
        cooc = (X.T @ X).toarray()
        W = self._solve(cooc, self.w_kg, self.w_text)
        unrated = np.asarray(X.sum(0)).ravel() == 0
        if unrated.any() and (self.cold_w_kg, self.cold_w_text) != (self.w_kg, self.w_text):
            W[:, unrated] = self._solve(cooc, self.cold_w_kg, self.cold_w_text)[:, unrated]
        self.weight = torch.from_numpy(W).float()
        self.history = torch.from_numpy(X.toarray()).float()
        return self
