"""The front door: :class:`Recommender` fits, recommends with explanations, saves, loads.

    >>> from kgrec import Recommender, load_dataset
    >>> rec = Recommender().fit(load_dataset("sample"))
    >>> rec.recommend("u1", k=5)                       # a known user
    >>> rec.recommend(liked=["Heat", "Casino"])        # a cold-start user
    >>> rec.recommend(query="a 90s crime film like Pulp Fiction")

The facade validates arguments and delegates: :func:`kgrec.train.build_context` and
:func:`kgrec.train.fit_model` fit, :mod:`kgrec.serve.scoring` scores (the formula is
there), :mod:`kgrec.serve.records` explains, :mod:`kgrec.serve.artifacts` saves and loads.
Each call builds its own :class:`~kgrec.serve.request.Request`; nothing of one request is
kept on the instance, so concurrent calls give the serial results.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd
import torch

from kgrec.config import KGRecConfig
from kgrec.data.dataset import MovieDataset, entity_key
from kgrec.serve.artifacts import Artifact, ArtifactError
from kgrec.serve.filters import FILTER_KEYS
from kgrec.serve.request import Recommendation, check_k

if TYPE_CHECKING:
    from kgrec.explain import Explanation
    from kgrec.serve.feedback import FeedbackSession
    from kgrec.serve.intent import QueryIntent
    from kgrec.serve.profile import TasteProfile
    from kgrec.train import ModelContext

__all__ = ["FILTER_KEYS", "ArtifactError", "Recommendation", "Recommender"]


class Recommender:
    """Explainable knowledge-graph movie recommender.

    Args:
        config: the whole pipeline's settings (default :class:`KGRecConfig`: the hybrid
            model, MiniLM text features, 3 explanations of up to 4 hops).
    """

    def __init__(self, config: KGRecConfig | None = None):
        self.config = config or KGRecConfig()
        self._fitted = False

    # -- fitting -----------------------------------------------------------------------
    def fit(self, dataset: MovieDataset, *, train: pd.DataFrame | None = None,
            valid: pd.DataFrame | None = None, context: ModelContext | None = None
            ) -> Recommender:
        """Build the graph, text features and model from ``dataset``; returns self.

        Args:
            dataset: movies, side information and ratings.
            train: interactions to learn from (default: ``dataset.ratings`` minus a
                seeded 10% per-user validation part).
            valid: interactions for early stopping and fusion weights (default: that
                10% part). Pass ``valid=dataset.ratings.iloc[:0]`` to train on everything.
            context: the :func:`kgrec.train.build_context` of ``dataset``, ``train`` and
                ``valid`` when the caller already built it (it is not rebuilt).
        """
        from kgrec.data.splits import random_split
        from kgrec.train import build_context, fit_model

        if train is None:
            if dataset.ratings.empty:
                raise ValueError(f"dataset {dataset.name!r} has no ratings to learn from")
            split = random_split(dataset.ratings, (0.9, 0.1, 0.0), seed=self.config.train.seed)
            train, valid = split.train, split.valid if valid is None else valid
        context = context or build_context(dataset, train, valid, self.config)
        self.fit_result_ = fit_model(self.config.model.name, context, self.config)
        seen = pd.concat([train, valid]) if valid is not None else train
        self._setup(dataset, context, self.fit_result_.model, seen)
        return self

    @classmethod
    def from_fitted(cls, dataset: MovieDataset, context: ModelContext, model: torch.nn.Module,
                    seen: pd.DataFrame, config: KGRecConfig | None = None) -> Recommender:
        """Wrap a ``model`` already fitted on ``context`` (with text features), e.g. by the
        benchmark; ``seen``: every interaction known at fit time (never recommended)."""
        rec = cls(config)
        rec._setup(dataset, context, model, seen)
        return rec

    def _setup(self, dataset: MovieDataset, context: ModelContext, model: torch.nn.Module,
               seen: pd.DataFrame) -> None:
        from kgrec.device import host_view
        from kgrec.evaluate import to_csr
        from kgrec.explain import PathExplainer, model_anchor_effect
        from kgrec.models.base import item_vectors
        from kgrec.serve.catalog import Catalog
        from kgrec.serve.feedback import FeedbackStore
        from kgrec.serve.liked import liked_matrix
        from kgrec.serve.resolve import Resolver
        from kgrec.serve.scoring import Scorer

        kg = context.kg
        self.dataset_, self.context_, self.kg_, self.model_ = dataset, context, kg, model.eval()
        self.features_ = context.node_features
        self._seen_ratings = seen.loc[:, ["user_id", "item_id", "rating", "timestamp"]]
        self._seen = to_csr(seen, kg)
        self.catalog_ = Catalog.build(kg, dataset.items, context.item_years)
        liked = liked_matrix(seen, {u: i for i, u in enumerate(kg.user_ids)},
                             {m: i for i, m in enumerate(kg.item_ids)}, kg.num_users, kg.num_items)
        scoring = host_view(model)  # CPU tensors in and out, whatever the model's device
        self.scorer_ = Scorer(scoring, self.catalog_, context.item_features, context.train,
                              self._seen, self.config.text, liked=liked)
        vectors = item_vectors(model, self.scorer_.item_features)
        self.explainer_ = PathExplainer(kg, item_similarity=vectors.cpu().numpy(),
                                        anchor_effect=model_anchor_effect(scoring, kg.num_items),
                                        movies=dataset.items,
                                        max_hops=self.config.explain.max_hops)
        self.resolve_ = Resolver(kg, self.scorer_, self.catalog_)
        self.feedback_store = FeedbackStore()  # in memory; FeedbackStore(folder): JSON files
        self._fitted = True

    def _check_fitted(self) -> None:
        if not self._fitted:
            raise RuntimeError("this Recommender is not fitted: call fit(dataset) or load(path)")

    # -- requests ----------------------------------------------------------------------
    def parse(self, query: str) -> QueryIntent:
        """How ``query`` is understood (:func:`kgrec.serve.intent.parse`)."""
        self._check_fitted()
        return self.resolve_.parse(query)

    def recommend(self, user: Any = None, k: int = 10, *, query: str | None = None,
                  liked: list[str] | None = None, exclude_seen: bool = True,
                  explain: bool = True, filters: dict[str, Any] | None = None,
                  session: str | None = None) -> list[Recommendation]:
        """Top-``k`` movies for a user, a list of liked titles, a text query, or a mix.

        Args:
            user: a known user id (bare, ``"user:ID"``), or ``None`` for a new user.
            k: number of recommendations (a positive ``int``).
            query: free text, e.g. ``"a 90s crime film like Pulp Fiction"``.
            liked: titles the (new or known) user likes (one string is one title);
                misspellings raise ``KeyError`` with close matches.
            exclude_seen: drop movies the user rated (and the liked / named ones).
            explain: attach explanation paths.
            filters: ``{"genres": [...], "min_year": int, "max_year": int, "exclude": [ids]}``
                (see :class:`kgrec.serve.filters.Filters`).
            session: a cold-start session id whose :meth:`feedback` applies (a known
                user's own feedback always applies).

        A query is parsed into a :class:`~kgrec.serve.intent.QueryIntent`, carried by
        every result: exclusions and year bounds filter, the rest ranks, the user's
        scores personalise within it.
        """
        from kgrec.serve.records import record

        self._check_fitted()
        request = self.resolve_.request(user, k, query, liked, filters, exclude_seen, explain,
                                        session, self.feedback_store)
        scores = self.scorer_.scores(request)
        top = torch.topk(scores, min(request.k, int(torch.isfinite(scores).sum())))
        return [record(request, int(i), float(s), self.explainer_, self.catalog_,
                       self.config.explain.max_paths, self.scorer_)
                for s, i in zip(top.values, top.indices)]

    # -- feedback and profiles ---------------------------------------------------------
    def feedback(self, who: Any, item: Any = None, signal: str = "like") -> FeedbackSession:
        """Record a reaction of ``who`` (a known user id, or any session id of a
        cold-start person, passed as ``recommend(session=...)``) to ``item`` (id or
        title); ``signal``: ``like``, ``dislike``, ``more_like_this``, ``not_interested``,
        or ``undo`` (drops the latest). The next :meth:`recommend` reflects it at once;
        returns the session, persisted in :attr:`feedback_store`."""
        from kgrec.serve.feedback import apply_feedback

        self._check_fitted()
        movie = (None if item is None or signal == "undo"
                 else self.catalog_.item_ids[self.resolve_.movie(item)])
        return apply_feedback(self.feedback_store, self.resolve_.session_key(who), movie, signal)

    def profile(self, who: Any) -> TasteProfile:
        """Taste profile (:mod:`kgrec.serve.profile`) of a known user's ratings and the
        feedback of ``who`` (a like counts as 5, a dislike as 1), with the genres of the
        model's top 50 for them."""
        from kgrec.serve.profile import person_ratings, profile

        self._check_fitted()
        key = self.resolve_.session_key(who)
        ratings = person_ratings(key, self._seen_ratings, self.feedback_store.load(key),
                                 self.catalog_.item_ids)
        liked = [f"movie:{self.catalog_.item_ids[i]}" for i, r in ratings.items() if r >= 4]
        picks = (self.recommend(entity_key(key), 50, explain=False) if key.startswith("user:")
                 else self.recommend(liked=liked, session=key, k=50, explain=False) if liked
                 else [])
        return profile(ratings.items(), self.scorer_.facts, who=entity_key(key),
                       model_items=[self.resolve_.movie(r.item_id) for r in picks])

    def recommend_batch(self, users: list[Any], k: int = 10, *, exclude_seen: bool = True,
                        explain: bool = False) -> dict[str, list[Recommendation]]:
        """Top-``k`` for many known users at once (batched scoring; the model's own
        scores, as in evaluation). Returns bare user id → recommendations."""
        from kgrec.serve.records import batch_records

        self._check_fitted()
        k = check_k(k)
        if isinstance(users, (str, bytes)):
            raise TypeError("users must be a list of user ids, e.g. users=['u1']")
        index = torch.tensor([self.resolve_.user(u) for u in users], dtype=torch.long)
        scores = self.scorer_.batch_scores(index, exclude_seen=bool(exclude_seen))
        top = torch.topk(scores, min(k, self.catalog_.num_items), dim=1)
        return batch_records(index.tolist(), top.values.tolist(), top.indices.tolist(),
                             self.explainer_, self.catalog_, self.config.explain.max_paths,
                             k=k, exclude_seen=exclude_seen, explain=explain)

    def explain(self, user: Any, item: Any, k: int | None = None) -> list[Explanation]:
        """Explanation paths from a known user to a movie (bare item id, entity id or
        title)."""
        self._check_fitted()
        k = self.config.explain.max_paths if k is None else check_k(k)
        return self.explainer_.explain(self.resolve_.user(user), self.resolve_.movie(item), k)

    def evaluate(self, test: pd.DataFrame, *, ks: tuple[int, ...] = (10, 20)):
        """Full-ranking metrics on ``test`` interactions, masking everything seen in fit."""
        from kgrec.evaluate import evaluate, to_csr

        self._check_fitted()
        return evaluate(self.model_, test=to_csr(test, self.kg_), mask=self._seen, ks=ks,
                        item_popularity=self.context_.item_popularity)

    # -- persistence -------------------------------------------------------------------
    def save(self, path: Any) -> Any:
        """Write the fitted recommender to folder ``path`` crash-safely (layout and checks:
        :mod:`kgrec.serve.artifacts`): ``path`` always holds the complete old or the
        complete new model."""
        from kgrec.serve.artifacts import save_artifact

        self._check_fitted()
        return save_artifact(path, Artifact(self.config, self.dataset_, self.kg_, self.features_,
                                            self.model_.state_dict(), self._seen_ratings))

    @classmethod
    def load(cls, path: Any, *, device: str | None = None) -> Recommender:
        """Load a folder written by :meth:`save`; every file is checked against the
        manifest's sha256 first, tensors are read with safetensors (no code runs).

        Args:
            path: the saved folder.
            device: where the model scores (``"cpu"``, ``"cuda"``, ...; default: the
                saved ``train.device``); an absent GPU falls back to the CPU with a
                :class:`~kgrec.device.DeviceFallbackWarning`.
        """
        from kgrec.device import resolve_device
        from kgrec.serve.artifacts import load_fitted

        saved, ctx, model = load_fitted(path)
        model.to(resolve_device(device or saved.config.train.device, "Recommender.load"))
        rec = cls(saved.config)
        rec._setup(saved.dataset, ctx, model, saved.seen)
        return rec

    def __repr__(self) -> str:
        if not self._fitted:
            return f"Recommender(model={self.config.model.name!r}, unfitted)"
        return (f"Recommender(model={self.config.model.name!r}, users={self.kg_.num_users:,}, "
                f"movies={self.kg_.num_items:,})")
