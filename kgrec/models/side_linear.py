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

.. math:: \\tilde X = \\begin{bmatrix} X \\\\ \\sqrt{w_{kg}}\\, K^\\top \\\\
          \\sqrt{w_{text}}\\, T^\\top \\end{bmatrix}, \\qquad
          G = \\tilde X^\\top \\tilde X = X^\\top X + w_{kg} K K^\\top + w_{text} T T^\\top

is fitted by DLAE's closed form (:class:`kgrec.models.linear.DLAE`, dropout :math:`p`
on every input row):

.. math:: \\Lambda = \\lambda I + \\tfrac{p}{1-p}\\,\\mathrm{diag}(G), \\qquad
          B = I - (G + \\Lambda)^{-1}\\Lambda, \\qquad \\hat y_u = x_u B .

A movie nobody rated has a zero column in :math:`X` but not in :math:`G`: its column of
:math:`B` regresses it on the rated movies that share its director, cast, genres and
words, so a known user's score for it is what their history predicts for such a movie.
For rated movies the side information acts as a prior on the item–item weights, which
matters most for short histories and rarely rated movies. With :math:`w_{kg} = w_{text}
= 0` (or no KG and zero text) this is exactly DLAE.
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
        w_kg: weight :math:`w_{kg} \\ge 0` of the KG pseudo-users (default 30).
        w_text: weight :math:`w_{text} \\ge 0` of the text pseudo-users (default 30).
        dropout: DLAE's input dropout :math:`p \\in [0, 1)` (default 0.5).
        reg: L2 weight :math:`\\lambda \\ge 0` (default 300).
    """

    inductive = True

    def __init__(self, num_users: int, num_items: int, *,
                 item_entities: sp.spmatrix | None = None,
                 item_text: Tensor | None = None, w_kg: float = 30.0, w_text: float = 30.0,
                 dropout: float = 0.5, reg: float = 300.0):
        super().__init__()
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if min(reg, w_kg, w_text) < 0:
            raise ValueError(f"reg, w_kg and w_text must be >= 0, got {reg}, {w_kg}, {w_text}")
        self.num_users, self.num_items = int(num_users), int(num_items)
        self.dropout, self.reg, self.w_kg, self.w_text = dropout, reg, w_kg, w_text
        # fit input only (recomputable from the side information): not saved
        self.register_buffer("side", torch.from_numpy(side_gram(
            item_entities, item_text, self.num_items, w_kg, w_text)), persistent=False)
        self.register_buffer("weight", torch.zeros(num_items, num_items))
        self.register_buffer("history", torch.zeros(num_users, num_items))

    def fit(self, interactions: sp.spmatrix) -> KGTextDLAE:
        """Solve for :math:`B` from the binary ``[U, I]`` training matrix; returns self."""
        X = sp.csr_matrix(interactions, dtype=np.float64)
        if X.shape != (self.num_users, self.num_items):
            raise ValueError(f"interactions shape {X.shape} != ({self.num_users}, "
                             f"{self.num_items})")
        X.data[:] = 1.0
        gram = (X.T @ X).toarray() + self.side.double().cpu().numpy()
        lam = self.reg + self.dropout / (1 - self.dropout) * np.diag(gram)
        gram[np.diag_indices_from(gram)] += lam
        self.weight = torch.from_numpy(np.eye(self.num_items)
                                       - np.linalg.solve(gram, np.diag(lam))).float()
        self.history = torch.from_numpy(X.toarray()).float()
        return self
