"""Scores for a new user who names a few liked titles: people who liked them, the model,
what the titles share, and a popularity prior.

.. math:: s(h) = z\\big(u(h)\\big) + a\\, z\\big(f(h)\\big) + b\\, z(\\log(1 + \\mathrm{pop}))
          + c\\, z\\Big(\\sum_{j \\in h} l^{(j)}\\Big)
          + \\gamma\\, \\frac{1}{|h|} \\sum_{j \\in h} [i \\text{ shares a named genre, a director
          or a writer with } j]

with ``h`` the liked movies (a binary row), ``z`` row-wise standardisation and

* ``u(h) = Σ_{v ∈ N_k(h)} w(h, v)^p L_v``: the *liked-neighbour* fold-in
  (:class:`LikedNeighbours`). ``L`` is the binary ``[U, I]`` matrix of the training users'
  liked movies (rating ``>= 4``), ``w(h, v) = |h ∩ L_v| / \\sqrt{|h| |L_v|}`` and
  ``N_k(h)`` the ``k`` users of largest ``w``. A user who liked all three named titles
  weighs more than three users who each liked one: this is what the few titles *share*,
  which a sum of item-item similarities (ItemKNN, EASE) cannot see;
* ``f`` a collaborative model's ``score_history`` (the fitted recommender's model);
* ``pop`` the number of training users who liked each movie;
* ``l^(j)`` the shared-genre/creator similarity to liked movie ``j``
  (:meth:`kgrec.serve.intent_scoring.ItemFacts.anchor_similarity`: genre Jaccard plus
  shared directors, writers, cast, producers weighted by idf);
* the last term counts the liked titles a movie shares a *named* genre (one with a label,
  e.g. MovieLens's own genres, not Freebase's unnamed genre ids), a director or a writer
  with (:data:`SHARE_RELATIONS`): it keeps the list on the kind of film named.

The weights (:class:`LikedWeights`) are chosen per history length on validation users by
``scripts/fewshot_benchmark.py`` (never on its test users); :data:`DEFAULT_WEIGHTS` holds
that choice, and a history of another length uses the nearest length's weights.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from kgrec.evaluate.fewshot import standardise
from kgrec.serve.intent_scoring import ItemFacts

ScoreHistory = Callable[[torch.Tensor], torch.Tensor]
#: A rating at least this is a "like" (the few-shot protocol's threshold).
LIKED_RATING = 4.0
#: Relations of the shares-with-a-liked-title term (genres only when labelled).
SHARE_RELATIONS = ("has_genre", "directed_by", "written_by")


@dataclass(frozen=True)
class LikedWeights:
    """Settings of :class:`LikedTitlesScorer` (module formula).

    Attributes:
        neighbours: ``k`` of the liked-neighbour fold-in.
        power: ``p``, the exponent of the neighbour weights.
        collaborative: ``a``, weight of the model's ``score_history``.
        popularity: ``b``, weight of the liked-count prior.
        facts: ``c``, weight of the shared-facts similarity.
        share: ``γ``, weight of the share of liked titles a movie has a named genre,
            director or writer in common with.
    """

    neighbours: int = 100
    power: float = 1.0
    collaborative: float = 1.0
    popularity: float = 0.5
    facts: float = 0.5
    share: float = 0.0


#: Chosen on the 100 validation users of ``scripts/fewshot_benchmark.py`` (ML-100K with the
#: RecBole Freebase KG, fold-in ItemKNN), history lengths 1, 3, 5; for 3 the best setting
#: whose lists for the issue's two examples (Toy Story, Aladdin, The Lion King; Heat,
#: Casino, The Godfather) have >= 7 of 10 sharing a genre or creator. See BENCHMARKS.md.
DEFAULT_WEIGHTS: dict[int, LikedWeights] = {
    1: LikedWeights(neighbours=50, power=1.0, collaborative=0.0, popularity=0.25, facts=0.0,
                    share=0.5),
    3: LikedWeights(neighbours=100, power=2.0, collaborative=1.0, popularity=0.0, facts=0.5,
                    share=2.0),
    5: LikedWeights(neighbours=100, power=2.0, collaborative=0.5, popularity=0.0, facts=0.5,
                    share=2.0),
}


def shares(facts: ItemFacts, a: int, i: int, strict: bool = True) -> bool:
    """Whether movies ``a`` and ``i`` share a genre or a creator: strict, a *named* genre,
    a director or a writer (:data:`SHARE_RELATIONS`); otherwise any genre, director,
    writer, producer or cast member."""
    relations = SHARE_RELATIONS if strict else SHARE_RELATIONS + ("produced_by", "starring")
    for rel in relations:
        if rel not in facts.incidence:
            continue
        dst = facts.incidence[rel][0]
        common = np.intersect1d(facts._row(rel, a), facts._row(rel, i))
        if strict and rel == "has_genre":
            common = [c for c in common if facts.kg.nodes[dst][int(c)] in facts.kg.labels]
        if len(common):
            return True
    return False


def liked_matrix(ratings: pd.DataFrame, user_index: Mapping[str, int],
                 item_index: Mapping[str, int], num_users: int, num_items: int,
                 min_rating: float = LIKED_RATING) -> sp.csr_matrix:
    """Binary ``[U, I]`` CSR matrix of the interactions rated ``>= min_rating``; when every
    rating is equal (implicit feedback) every interaction counts. Rows of users and
    columns of items missing from the indices are skipped."""
    if ratings.empty:
        return sp.csr_matrix((num_users, num_items), dtype=np.float32)
    r = ratings["rating"].to_numpy(dtype=np.float64)
    keep = r >= min_rating if (r != r[0]).any() else np.ones(len(r), dtype=bool)
    def lookup(column: str, index: Mapping[str, int]) -> np.ndarray:
        # each distinct id looked up once (a ratings table repeats its users and items)
        codes, distinct = pd.factorize(ratings[column].astype(str))
        found = np.array([index.get(x, -1) for x in distinct.tolist()], dtype=np.int64)
        return found[codes[keep]]

    rows, cols = lookup("user_id", user_index), lookup("item_id", item_index)
    ok = (rows >= 0) & (cols >= 0)
    m = sp.csr_matrix((np.ones(int(ok.sum()), dtype=np.float32), (rows[ok], cols[ok])),
                      shape=(num_users, num_items))
    m.data[:] = 1.0
    return m


class LikedNeighbours:
    """Liked-neighbour fold-in ``u(h)`` of the module formula (sparse; memory linear in
    the liked interactions plus ``B × U`` for a batch of ``B`` histories).

    Args:
        liked: binary ``[U, I]`` liked interactions of the training users.
    """

    def __init__(self, liked: sp.csr_matrix):
        self.liked = sp.csr_matrix(liked, dtype=np.float32)
        self.user_norm = np.sqrt(np.maximum(np.asarray(self.liked.sum(1)).ravel(), 1.0))
        self.liked_t = self.liked.T.tocsr()

    def weights(self, history: torch.Tensor) -> np.ndarray:
        """``w(h, v)``, ``float [B, U]``, for binary histories ``[B, I]``."""
        h = sp.csr_matrix(history.detach().cpu().numpy() > 0, dtype=np.float32)
        size = np.sqrt(np.maximum(np.asarray(h.sum(1)).ravel(), 1.0))
        overlap = np.asarray((h @ self.liked_t).todense(), dtype=np.float64)
        return overlap / size[:, None] / self.user_norm[None, :]

    def score_history(self, history: torch.Tensor, k: int = 100, power: float = 1.0,
                      weights: np.ndarray | None = None) -> torch.Tensor:
        """``u(h)``, ``float64 [B, I]``; ``weights``: :meth:`weights` of ``history`` when
        already computed."""
        w = self.weights(history) if weights is None else weights
        if 0 < k < w.shape[1]:
            cut = np.partition(w, -k, axis=1)[:, -k][:, None]
            w = np.where(w >= cut, w, 0.0)
        w = np.power(w, power)
        return torch.from_numpy((sp.csr_matrix(w) @ self.liked).toarray().astype(np.float64))


class LikedTitlesScorer:
    """``score_history`` for a few liked titles (module formula).

    Args:
        facts: the catalogue's facts (genres, people per movie).
        liked: binary ``[U, I]`` liked interactions of the training users
            (:func:`liked_matrix`).
        collaborative: a model's ``score_history`` (``float [B, I]`` → ``[B, I]``), or
            ``None`` (weight ``a`` then unused).
        weights: one :class:`LikedWeights`, or one per history length (the nearest
            length's apply; ties go to the shorter).
    """

    def __init__(self, facts: ItemFacts, liked: sp.csr_matrix,
                 collaborative: ScoreHistory | None = None,
                 weights: LikedWeights | Mapping[int, LikedWeights] | None = None):
        if liked.shape[1] != facts.n:
            raise ValueError(f"liked has {liked.shape[1]} movie columns, the facts {facts.n}")
        self.facts, self.collaborative = facts, collaborative
        self.neighbours = LikedNeighbours(liked)
        self.weights = {0: weights} if isinstance(weights, LikedWeights) else dict(
            weights or DEFAULT_WEIGHTS)
        if not self.weights:
            raise ValueError("weights must hold at least one LikedWeights")
        self._share = self._share_incidence(facts)
        pop = np.log1p(np.asarray(liked.sum(0), dtype=np.float64).ravel())
        self.popularity = standardise(torch.from_numpy(pop)[None])

    def weights_for(self, length: int) -> LikedWeights:
        """The :class:`LikedWeights` of a history of ``length`` titles."""
        if len(self.weights) == 1:
            return next(iter(self.weights.values()))
        return self.weights[min(self.weights, key=lambda n: (abs(n - length), n))]

    @staticmethod
    def _share_incidence(facts: ItemFacts) -> sp.csr_matrix:
        """Binary ``[I, E]`` movie × (named genre, director, writer) incidence."""
        blocks = []
        for rel in SHARE_RELATIONS:
            if rel not in facts.incidence:
                continue
            dst, m = facts.incidence[rel]
            if rel == "has_genre":
                named = np.array([n in facts.kg.labels for n in facts.kg.nodes[dst]], dtype=bool)
                m = m[:, np.nonzero(named)[0]]
            blocks.append(m)
        return (sp.hstack(blocks).tocsr() if blocks
                else sp.csr_matrix((facts.n, 0), dtype=np.float32))

    def shared(self, history: torch.Tensor) -> torch.Tensor:
        """``float64 [B, I]``: the share of each row's liked titles a movie has a named
        genre, director or writer in common with (:data:`SHARE_RELATIONS`)."""
        out = np.zeros((history.shape[0], self.facts.n))
        for r, h in enumerate(history):
            liked = np.nonzero(h.numpy() > 0)[0]
            if liked.size and self._share.shape[1]:
                common = (self._share @ self._share[liked].T).toarray() > 0  # [I, |h|]
                out[r] = common.mean(1)
        return torch.from_numpy(out)

    def content(self, history: torch.Tensor) -> torch.Tensor:
        """Shared-facts similarity ``float64 [B, I]`` of each history row."""
        rows = [self.facts.anchor_similarity(np.nonzero(h.numpy() > 0)[0].tolist())
                if h.any() else np.zeros(self.facts.n, dtype=np.float32) for h in history]
        return torch.from_numpy(np.stack(rows)).to(torch.float64)

    def parts(self, history: torch.Tensor, pairs: tuple[tuple[int, float], ...] = ()
              ) -> dict[str, torch.Tensor]:
        """The standardised terms ``[B, I]`` of the formula: ``collaborative``,
        ``popularity``, ``facts``, ``share`` and ``neighbours k p`` for each
        ``(k, p)`` of ``pairs`` (all the weights' pairs when empty)."""
        history = history.detach().cpu().to(torch.float32)
        pairs = pairs or tuple(sorted({(w.neighbours, w.power) for w in self.weights.values()}))
        w = self.neighbours.weights(history)
        out = {f"neighbours {k} {p:g}": standardise(self.neighbours.score_history(
            history, k, p, weights=w)) for k, p in pairs}
        if self.collaborative is not None:
            with torch.no_grad():
                out["collaborative"] = standardise(
                    self.collaborative(history).detach().cpu().to(torch.float64))
        out["popularity"] = self.popularity.expand(history.shape[0], -1)
        content = self.content(history)
        out["facts"] = standardise(content)
        out["share"] = self.shared(history)
        return out

    @staticmethod
    def combine(parts: Mapping[str, torch.Tensor], w: LikedWeights) -> torch.Tensor:
        """The formula's sum of ``parts`` (from :meth:`parts`) with weights ``w``."""
        out = parts[f"neighbours {w.neighbours} {w.power:g}"].clone()
        for name, weight in (("collaborative", w.collaborative), ("popularity", w.popularity),
                             ("facts", w.facts), ("share", w.share)):
            if weight and name in parts:
                out = out + weight * parts[name]
        return out

    def score_history(self, history: torch.Tensor) -> torch.Tensor:
        """Scores ``float64 [B, I]`` of binary histories ``[B, I]`` (each row with the
        weights of its own length)."""
        lengths = (history > 0).sum(1).tolist()
        out = torch.zeros(history.shape[0], self.facts.n, dtype=torch.float64)
        for length in sorted(set(lengths)):
            rows = [r for r, n in enumerate(lengths) if n == length]
            w = self.weights_for(int(length))
            sub = history[rows]
            out[rows] = self.combine(self.parts(sub, ((w.neighbours, w.power),)), w)
        return out
