"""Content scores of the cold-start movies, on the warm movies' scale, in time linear in
the request's history rather than in the catalogue.

:meth:`kgrec.serve.scoring.Scorer.content_scores` defines the score of a history
:math:`H` (binary over the movies) on every movie :math:`i`, with :math:`W` the warm movies
(every movie when none is warm) and :math:`z_W` a z-score whose mean and (unbiased)
standard deviation are taken over :math:`W`:

.. math::

    t_i = \\bar x_i^\\top p, \\quad p = \\frac{\\sum_{j \\in H} \\bar x_j}
          {\\lVert \\sum_{j \\in H} \\bar x_j \\rVert}, \\qquad
    e_i = (G q)_i, \\quad q = \\frac{G^\\top h}{\\lVert G^\\top h \\rVert_1}, \\qquad
    c = z_W\\big(z_W(t) + z_W(e)\\big)

(:math:`\\bar x_i` the unit text embedding of movie :math:`i`, :math:`G` the binary movie
× entity incidence). A request uses :math:`c` only on the cold movies, yet the three
z-scores need statistics over all warm movies: computed directly, two dense passes over
the ``[I, D]`` embeddings (12 ms of a 20 ms request on the 50k-movie catalogue). Here the
statistics come from sums precomputed once over :math:`W` instead, which give the same
numbers up to rounding:

* :math:`\\operatorname{mean}_W t = \\mu^\\top p` and :math:`\\operatorname{var}_W t = p^\\top
  C p`, with :math:`\\mu` and :math:`C` the mean and covariance of :math:`\\bar x` over
  :math:`W`;
* :math:`e` is sparse in the entities the history has (one gather of their movies), so
  its statistics are taken directly;
* :math:`\\operatorname{cov}_W(t, e) = \\frac{1}{n_W - 1}\\big(p^\\top \\sum_k q_k S_k - n_W
  \\bar t \\bar e\\big)` with :math:`S_k = \\sum_{i \\in W, G_{ik} = 1} \\bar x_i`,
  precomputed for the entities of at least :data:`HEAVY_DEGREE` warm movies (genres,
  prolific people) and summed on the fly for the others;
* then :math:`z_W(t) + z_W(e)` has mean 0 and variance :math:`\\operatorname{var} z_t +
  \\operatorname{var} z_e + 2 \\operatorname{cov}(z_t, z_e)`, and only the cold rows of
  :math:`t` and :math:`e` are computed.

The precomputed sums (:math:`\\mu`, :math:`C`: ``D × D``; :math:`S_k`: a few hundred
``D``-vectors) are built on first use, once, under a lock; afterwards the object is
read-only, so concurrent requests share it.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from kgrec.explain.index import gather
from kgrec.lazy import built_once

__all__ = ["HEAVY_DEGREE", "ColdContent"]

#: Entities linked to at least this many warm movies get their embedding sum
#: :math:`S_k` precomputed; lighter ones are summed per request (fewer rows than this
#: each). On the 50k-movie catalogue: 5,603 of 95,159 entities (17 MB), and a history of
#: 200 movies gathers a few hundred rows.
HEAVY_DEGREE = 8
#: Rows per block when the warm covariance is accumulated (bounds the float64 copy).
_BLOCK = 8192
#: As :func:`kgrec.serve.scoring.zscore`: the smallest standard deviation divided by.
_MIN_STD = 1e-8


class ColdContent:
    """The cold movies' content scores :math:`c` (module formula) of histories.

    Args:
        unit_features: ``float32 [I, D]`` unit-length movie text embeddings.
        cold: ``bool [I]``, the movies without a training interaction.
        entities: binary ``[I, E]`` movie × entity incidence, or ``None`` (text only).
    """

    def __init__(self, unit_features: np.ndarray, cold: np.ndarray,
                 entities: sp.csr_matrix | None):
        self.features = np.asarray(unit_features, dtype=np.float32)
        self.cold = np.asarray(cold, dtype=bool)
        self.cold_index = np.flatnonzero(self.cold)
        # statistics over the warm movies, or over all of them when none is warm
        self.stats_mask = ~self.cold if (~self.cold).any() else np.ones_like(self.cold)
        self.n = int(self.stats_mask.sum())
        self.rows = None if entities is None else sp.csr_matrix(entities, dtype=np.float64)
        self.columns = None if entities is None else self.rows.tocsc()

    @built_once
    def _text_moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean ``[D]`` and unbiased covariance ``[D, D]`` of the embeddings over the
        statistics movies (float64, accumulated in blocks)."""
        index = np.flatnonzero(self.stats_mask)
        d = self.features.shape[1]
        total, gram = np.zeros(d), np.zeros((d, d))
        for lo in range(0, len(index), _BLOCK):
            block = self.features[index[lo:lo + _BLOCK]].astype(np.float64)
            total += block.sum(0)
            gram += block.T @ block
        mean = total / max(self.n, 1)
        cov = (gram - self.n * np.outer(mean, mean)) / max(self.n - 1, 1)
        return mean, cov

    @built_once
    def _heavy_sums(self) -> tuple[np.ndarray, np.ndarray]:
        """``(slot [E], sums [H, D])``: for each entity of at least :data:`HEAVY_DEGREE`
        statistics movies its row in ``sums`` (:math:`S_k`), -1 for the others."""
        warm = (sp.diags(self.stats_mask.astype(np.float64)) @ self.rows).tocsr()
        warm.eliminate_zeros()
        heavy = np.flatnonzero(np.diff(warm.tocsc().indptr) >= HEAVY_DEGREE)
        slot = np.full(self.rows.shape[1], -1, dtype=np.int64)
        slot[heavy] = np.arange(len(heavy))
        sums = np.zeros((len(heavy), self.features.shape[1]))
        if len(heavy):
            part = warm[:, heavy].T.tocsr()  # [H, I]
            for lo in range(0, part.shape[1], _BLOCK):
                block = self.features[lo:lo + _BLOCK].astype(np.float64)
                sums += part[:, lo:lo + _BLOCK] @ block
        return slot, sums

    def scores(self, items: np.ndarray) -> np.ndarray:
        """``float32 [n_cold]``: :math:`c` on the cold movies (in :attr:`cold_index`
        order) for the history of movie indices ``items`` (distinct)."""
        items = np.asarray(items, dtype=np.int64)
        if self.n <= 1 or not len(self.cold_index):  # a z-score of one value is 0
            return np.zeros(len(self.cold_index), dtype=np.float32)
        summed = self.features[items].astype(np.float64).sum(0)
        p = summed / max(float(np.linalg.norm(summed)), 1e-12)
        mean, cov = self._text_moments
        t_mean = float(mean @ p)
        t_var = max(float(p @ cov @ p), 0.0)
        t_std = max(np.sqrt(t_var), _MIN_STD)
        z_t = (self.features[self.cold_index].astype(np.float64) @ p - t_mean) / t_std
        var_sum = t_var / t_std ** 2
        if self.rows is None:
            return (z_t / max(np.sqrt(var_sum), _MIN_STD)).astype(np.float32)
        e, entity_weight = self._entity_scores(items)
        warm_e = e[self.stats_mask]
        e_mean = float(warm_e.mean())
        e_var = float(warm_e.var(ddof=1))
        e_std = max(np.sqrt(e_var), _MIN_STD)
        cross = float(p @ self._weighted_sums(entity_weight))
        cov_te = (cross - self.n * t_mean * e_mean) / (self.n - 1)
        var_sum += e_var / e_std ** 2 + 2.0 * cov_te / (t_std * e_std)
        z_e = (e[self.cold_index] - e_mean) / e_std
        return ((z_t + z_e) / max(np.sqrt(max(var_sum, 0.0)), _MIN_STD)).astype(np.float32)

    def _entity_scores(self, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``e [I]`` and the profile :math:`q` as ``(entity, weight)`` pairs ``[2, m]``."""
        rows, cols = self.rows, self.columns
        entity, counts = np.unique(rows.indices[gather(rows.indptr, items)[0]],
                                   return_counts=True)
        total = float(counts.sum())
        weight = counts / total if total > 0 else counts.astype(np.float64)
        positions, owner = gather(cols.indptr, entity)
        e = np.bincount(cols.indices[positions], weights=weight[owner], minlength=rows.shape[0])
        return e, np.stack([entity.astype(np.float64), weight])

    def _weighted_sums(self, entity_weight: np.ndarray) -> np.ndarray:
        """:math:`\\sum_k q_k S_k` ``[D]`` over the profile's entities."""
        entity, weight = entity_weight[0].astype(np.int64), entity_weight[1]
        slot, sums = self._heavy_sums
        heavy = slot[entity] >= 0
        out = weight[heavy] @ sums[slot[entity[heavy]]] if heavy.any() \
            else np.zeros(self.features.shape[1])
        light, light_weight = entity[~heavy], weight[~heavy]
        if len(light):
            positions, owner = gather(self.columns.indptr, light)
            movies, w = self.columns.indices[positions], light_weight[owner]
            keep = self.stats_mask[movies]
            out = out + w[keep] @ self.features[movies[keep]].astype(np.float64)
        return out
