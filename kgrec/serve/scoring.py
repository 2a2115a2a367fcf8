"""Scores of one request: a known user's, a history's, a text query's, cold-start movies'.

For a request with a user, liked titles and/or a query, the parts are standardised per
request (z-scores over the movies) and added:

.. math:: s(i) = z\\big(s_{\\text{model}}(i)\\big) + z\\big(\\cos(q, x_i)\\big) + b(i)

where :math:`s_{\\text{model}}` is the model's ``score`` for a known user with no stated
likes, the liked-titles score (:class:`~kgrec.serve.liked.LikedTitlesScorer`: training
users who liked the same titles, the model's ``score_history``, what the titles share,
a popularity prior; weights chosen on validation users per number of titles) for a new
user who names liked titles, and the model's ``score_history`` of the user's training
items plus the likes for a known user who also names some,
:math:`\\cos(q, x_i)` the cosine between the query's embedding and movie :math:`i`'s text
embedding, and :math:`b(i)` the query's boosts: the standardised history score of the
movies it names, plus :data:`ENTITY_BOOST` for each person or other entity it names that
:math:`i` is linked to, :data:`GENRE_BOOST` per named genre of :math:`i` and
:data:`DECADE_BOOST` when :math:`i` is from a named decade.

With a parsed :class:`~kgrec.serve.intent.QueryIntent` the query part is instead
:func:`kgrec.serve.intent_scoring.score_intent` (hard constraints filter; genres,
people, like-anchors, eras and the remainder's text similarity rank), with the
standardised user/likes part and the feedback scores (:mod:`kgrec.serve.feedback`)
personalising within it.

Cold-start movies (no training interaction) are unknown to a non-inductive model; their
model part is replaced by a content score, the z-scores of text similarity
(:class:`~kgrec.models.baselines.TextCosine`) plus shared directors / cast / writers /
genres (:class:`~kgrec.models.baselines.GenreProfile`), both standardised over the warm
movies so that the two populations are on one scale.

A :class:`Scorer` holds only read-only state (and locks around the text encoder and the
query vocabulary, built once on first use), so concurrent requests on one scorer give the
serial results.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
import scipy.sparse as sp
import torch

from kgrec.lazy import built_once
from kgrec.models.base import ScoringModel
from kgrec.serve.catalog import Catalog
from kgrec.serve.cold import ColdContent
from kgrec.serve.query import QueryParser
from kgrec.serve.request import Request
from kgrec.text.config import TextConfig

#: Boost (in standard deviations of the request's z-scored parts) of a movie linked to a
#: person or other entity the query names: a named director's or actor's films should
#: outrank films that are only similar in text (tests/test_recommender.py checks that
#: "movies directed by Quentin Tarantino" returns only his films on the sample).
ENTITY_BOOST = 3.0
#: Boost of a movie of a genre the query names ("a crime film"): a softer preference.
GENRE_BOOST = 1.5
#: Boost of a movie from a decade the query names ("90s").
DECADE_BOOST = 1.5
#: Query embeddings kept in memory per scorer (least recently used dropped first).
QUERY_CACHE_SIZE = 1024
#: Relations whose shared entities score cold-start movies for a history.
CONTENT_RELATIONS = ("directed_by", "starring", "written_by", "has_genre")


def zscore(x: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
    """``(x - mean) / std`` of ``x [I]`` with the statistics over ``x[keep]`` (all entries
    when ``keep`` is ``None`` or empty); zeros when there is a single value. ``keep``: a
    bool mask, or the indices of the kept entries (``long``, increasing: the same values
    without a mask's search for them)."""
    if keep is not None and keep.dtype != torch.bool:
        values = x.index_select(0, keep) if keep.numel() else x
    else:
        values = x[keep] if keep is not None and keep.any() else x
    return (x - values.mean()) / values.std().clamp_min(1e-8) if values.numel() > 1 else x * 0


class Scorer:
    """Request scoring over a fitted model.

    Args:
        model: the fitted model (in eval mode; it is not switched by scoring).
        catalog: the movies.
        item_features: ``[I, D]`` movie text features.
        train: binary ``[U, I]`` training interactions (content profiles, cold mask).
        seen: binary ``[U, I]`` every interaction known at fit time (user histories).
        text: encoder settings for query embeddings.
        liked: binary ``[U, I]`` liked interactions known at fit time
            (:func:`kgrec.serve.liked.liked_matrix`) for new users' liked titles; ``None``:
            every ``seen`` interaction counts as liked.
    """

    def __init__(self, model: ScoringModel, catalog: Catalog, item_features: torch.Tensor,
                 train: sp.csr_matrix, seen: sp.csr_matrix, text: TextConfig,
                 liked: sp.csr_matrix | None = None):
        from kgrec.models.baselines import TextCosine

        self.model, self.catalog, self.seen, self.text = model, catalog, seen.tocsr(), text
        self.num_items = catalog.num_items
        self.item_features = torch.nn.functional.normalize(item_features.float(), dim=1)
        # only its score_history is used (a request's history is scored directly), so no
        # per-user profiles are fitted: that was a [U, D] product at every load
        self.content = TextCosine(item_features, 0).eval()
        # sparse movie × entity incidence: a dense one (GenreProfile's) is movies × all
        # people, 200 MB and ~60 ms a request with the Freebase graph of ML-100K
        entities = catalog.entity_matrix(CONTENT_RELATIONS)
        self.entities = sp.csr_matrix(entities, dtype=np.float32) if entities.shape[1] else None
        if self.entities is not None:
            self.entities.data[:] = 1.0
            # G^T row-major, once: transposing per request builds a new matrix each time
            self._entities_t = self.entities.T.tocsr()
        self.cold = torch.from_numpy(np.asarray(train.sum(0)).ravel() == 0)
        # indices of the cold and warm movies, found once rather than in every request
        self._cold_items = torch.nonzero(self.cold).squeeze(1)
        self._warm_items = torch.nonzero(~self.cold).squeeze(1)
        self.cold_content = ColdContent(self.content.item_features.numpy(), self.cold.numpy(),
                                        self.entities)
        self._encoder = None
        self._encoder_lock = threading.Lock()
        self._query_vectors: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._prototypes: OrderedDict[tuple, torch.Tensor] = OrderedDict()
        from kgrec.serve.intent_scoring import ItemFacts
        from kgrec.serve.liked import LikedTitlesScorer

        self.facts = ItemFacts(catalog.kg, catalog.years)
        self.liked_titles = LikedTitlesScorer(
            self.facts, self.seen if liked is None else liked, self.history_scores)
        self._vocabulary = None
        self._vocabulary_lock = threading.Lock()

    @built_once
    def parser(self) -> QueryParser:
        """The :class:`~kgrec.serve.query.QueryParser` of the catalogue's labels (liked
        titles, movie titles), built on first use: most requests name no title."""
        return QueryParser(self.catalog.kg)

    # -- parts ---------------------------------------------------------------------------
    def seen_items(self, user: int) -> torch.Tensor:
        """``long [n]``: the movies user index ``user`` rated (a CSR row slice: scipy's
        row indexing costs tens of microseconds per request)."""
        seen = self.seen
        row = seen.indices[seen.indptr[user]:seen.indptr[user + 1]]
        return torch.from_numpy(row.astype(np.int64))

    def history_items(self, user: int | None, liked: tuple[int, ...] = ()) -> np.ndarray:
        """``int64 [n]``: the distinct movies of :meth:`history` (ascending)."""
        seen = self.seen_items(user).numpy() if user is not None else np.zeros(0, np.int64)
        return np.union1d(seen, np.asarray(liked, dtype=np.int64))

    def history(self, user: int | None, liked: tuple[int, ...] = ()) -> torch.Tensor:
        """Binary ``[1, I]`` history: the user's known items (if any) and the likes."""
        h = torch.zeros(1, self.num_items)
        if user is not None:
            h[0, self.seen_items(user)] = 1.0
        if liked:
            h[0, list(liked)] = 1.0
        return h

    @torch.no_grad()
    def history_scores(self, history: torch.Tensor) -> torch.Tensor:
        """The model's ``score_history`` (the content model's when the model has none)."""
        try:
            return self.model.score_history(history)
        except NotImplementedError:
            return self.content.score_history(history)

    @torch.no_grad()
    def content_scores(self, history: torch.Tensor) -> torch.Tensor:
        """``[I]`` content score of a history, standardised over the warm movies: the
        definition, over the whole catalogue. Requests need it on the cold movies only
        and take it from :attr:`cold_content` (:mod:`kgrec.serve.cold`: the same values
        up to rounding, without the two passes over the catalogue's embeddings)."""
        warm = self._warm_items
        content = zscore(self.content.score_history(history)[0], warm)
        if self.entities is not None:
            content = content + zscore(self.entity_profile_scores(history), warm)
        return zscore(content, warm)

    def entity_profile_scores(self, history: torch.Tensor) -> torch.Tensor:
        """``[I]`` shared-entity score of a ``[1, I]`` history (the formula of
        :class:`~kgrec.models.baselines.GenreProfile`, with a sparse incidence ``G``):

        .. math:: p = \\frac{h G}{\\lVert h G \\rVert_1}, \\qquad s = G p
        """
        counts = self._entities_t @ history[0].numpy().astype(np.float32)  # [E]
        total = float(counts.sum())
        profile = counts / total if total > 0 else counts
        return torch.from_numpy(np.asarray(self.entities @ profile, dtype=np.float32))

    def vocabulary(self):
        """The :class:`~kgrec.serve.intent.Vocabulary` of the catalogue (labels, lexicon,
        the encoder over genre labels), built once on first use; read-only after."""
        with self._vocabulary_lock:
            if self._vocabulary is None:
                from kgrec.serve.intent import Vocabulary

                years = dict(zip(self.catalog.item_ids, self.catalog.years.tolist()))
                self._vocabulary = Vocabulary(
                    self.catalog.kg, {k: y for k, y in years.items() if y > 0},
                    encode=lambda texts: self.encode_queries(list(texts)).numpy())
            return self._vocabulary

    def intent_scores(self, request: Request, base: torch.Tensor | None) -> torch.Tensor:
        """``[I]`` :func:`~kgrec.serve.intent_scoring.score_intent` of ``request.intent``
        personalised by ``base`` (``-inf`` entries stay excluded)."""
        from kgrec.serve.intent_scoring import score_intent

        intent = request.intent
        text = (self.item_features @ self.intent_vector(intent)).numpy()
        like_model = None
        if request.named:
            like_model = self.history_scores(self.history(None, request.named))[0].numpy()
        user = None if base is None else base.numpy()
        return torch.from_numpy(score_intent(intent, self.facts, text=text, user=user,
                                             like_model=like_model)).float()

    def text_similarity(self, request: Request, item: int) -> float | None:
        """Cosine of the intent's remainder (or whole text) to movie ``item``."""
        if request.intent is None:
            return None
        return float(self.item_features[item] @ self.intent_vector(request.intent))

    def intent_vector(self, intent) -> torch.Tensor:
        """``[D]`` text vector of a parsed request: the embedding of its free-text
        remainder (or whole text), or, when its matches explain it all, the
        :func:`~kgrec.serve.intent_scoring.prototype_vector` of the matching movies (no
        encoder run); the last :data:`QUERY_CACHE_SIZE` prototypes are kept."""
        from kgrec.serve.intent_scoring import prototype_vector, uses_prototype

        if not uses_prototype(intent):
            return self.encode_query(intent.remainder or intent.text)
        key = (tuple(m.entity for m in intent.include),
               tuple((m.entity, m.role) for m in intent.people),
               tuple(m.entity for m in intent.like))
        with self._encoder_lock:
            vector = self._prototypes.get(key)
            if vector is not None:
                self._prototypes.move_to_end(key)
                return vector
        vector = torch.from_numpy(prototype_vector(intent, self.facts,
                                                   self.item_features.numpy()))
        with self._encoder_lock:
            self._prototypes[key] = vector
            if len(self._prototypes) > QUERY_CACHE_SIZE:
                self._prototypes.popitem(last=False)
        return vector

    def encode_query(self, text: str) -> torch.Tensor:
        """``[D]`` L2-normalised query embedding (:meth:`encode_queries` of one text)."""
        return self.encode_queries([text])[0]

    def encode_queries(self, texts: list[str]) -> torch.Tensor:
        """``[N, D]`` L2-normalised embeddings of ``texts``, the ones not cached encoded
        in one batch. The encoder is created once and used by one thread at a time
        (tokenizers are not safe for concurrent use); the last :data:`QUERY_CACHE_SIZE`
        texts' vectors are kept in memory (a function of the text alone, up to float
        rounding of the batch it was encoded in)."""
        with self._encoder_lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._query_vectors))
            if missing:
                if self._encoder is None:
                    from dataclasses import replace

                    from kgrec.text import TextEncoder

                    # no on-disk cache: under a server one shard per distinct query
                    # would pile up outside the model folder
                    self._encoder = TextEncoder(replace(self.text, show_progress=False),
                                                cache=False)
                raw = torch.nn.functional.normalize(self._encoder.encode(missing).float(), dim=1)
                for t, vector in zip(missing, raw):
                    self._query_vectors[t] = vector
            out = []
            for t in texts:
                self._query_vectors.move_to_end(t)
                out.append(self._query_vectors[t])
            while len(self._query_vectors) > max(QUERY_CACHE_SIZE, len(texts)):
                self._query_vectors.popitem(last=False)
        return torch.stack(out) if out else torch.zeros(0, self.item_features.shape[1])

    def query_scores(self, request: Request) -> torch.Tensor:
        """``[I]``: standardised text similarity plus the named entities' boosts."""
        parsed = request.parsed
        score = zscore(self.item_features @ self.encode_query(request.query))
        boost = torch.zeros(self.num_items)
        if request.named:
            boost += zscore(self.history_scores(self.history(None, request.named))[0])
        for entity in parsed.people + parsed.others:
            boost[torch.from_numpy(self.catalog.movies_of(entity))] += ENTITY_BOOST
        for genre in parsed.genres:
            boost[torch.from_numpy(self.catalog.genre_movies(genre))] += GENRE_BOOST
        if parsed.decades:
            boost[self.catalog.decade_mask(parsed.decades)] += DECADE_BOOST
        return score + boost

    # -- a request -----------------------------------------------------------------------
    @torch.no_grad()
    def scores(self, request: Request) -> torch.Tensor:
        """``[I]`` fused scores of ``request``, known and stated items set to ``-inf``
        when ``request.exclude_seen``, filtered movies to ``-inf``."""
        parts: list[torch.Tensor] = []
        if request.user is not None and not request.liked:
            parts.append(self.model.score(torch.tensor([request.user]))[0])
        elif request.user is None and request.liked:
            parts.append(self.liked_titles.score_history(
                self.history(None, request.liked))[0].float())
        elif request.liked or request.user is not None:
            parts.append(self.history_scores(self.history(request.user, request.liked))[0])
        cold = self._cold_items
        if parts and not self.model.inductive and len(cold):
            base = zscore(parts[0], self._warm_items)
            base[cold] = torch.from_numpy(self.cold_content.scores(  # in the order of cold
                self.history_items(request.user, request.liked)))
            parts[0] = base
        else:
            parts = [zscore(p) for p in parts]
        if request.feedback is not None and request.feedback.events:
            from kgrec.serve.feedback import feedback_scores

            parts.append(torch.from_numpy(feedback_scores(request.feedback, self.facts)).float())
        if request.intent is not None:
            scores = self.intent_scores(request, sum(parts) if parts else None)
        else:
            if request.query:
                parts.append(self.query_scores(request))
            scores = sum(parts).clone()
        if request.exclude_seen:
            if request.user is not None:
                scores[self.seen_items(request.user)] = -torch.inf
            scores[request.anchors] = -torch.inf
        request.filters.apply(scores, self.catalog)
        return scores

    @torch.no_grad()
    def batch_scores(self, users: torch.Tensor, exclude_seen: bool = True,
                     batch_size: int = 1024) -> torch.Tensor:
        """``[B, I]`` model scores of known users (no cold-start blending), their known
        items set to ``-inf`` when ``exclude_seen``. The model's mode is not switched."""
        out = []
        for lo in range(0, len(users), batch_size):
            part = users[lo:lo + batch_size]
            scores = self.model.score(part).clone()
            if exclude_seen:
                rows = self.seen[part.numpy()].tocoo()
                scores[torch.from_numpy(rows.row.astype(np.int64)),
                       torch.from_numpy(rows.col.astype(np.int64))] = -torch.inf
            out.append(scores)
        return torch.cat(out) if out else torch.zeros(0, self.num_items)
