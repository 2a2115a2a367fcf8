"""The front door: :class:`Recommender` fits, recommends with explanations, saves, loads.

    >>> from kgrec import Recommender, load_dataset
    >>> rec = Recommender().fit(load_dataset("sample"))
    >>> rec.recommend("u1", k=5)                       # a known user
    >>> rec.recommend(liked=["Heat", "Casino"])        # a cold-start user
    >>> rec.recommend(query="a 90s crime film like Pulp Fiction")

Scoring. For a known user the model's scores; for liked titles the model's
``score_history``; for a text query the cosine between the query's transformer embedding
and every movie's text embedding, plus boosts for the movies, people, genres and decades
named in it. Parts are standardised per request and added. Movies with no training
interaction (cold-start movies) take their score from the inductive content model when
the main model is not inductive, so they are recommendable too.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from kgrec.config import KGRecConfig
from kgrec.data.dataset import MovieDataset, entity_key, movie_id, user_id

if TYPE_CHECKING:
    from kgrec.explain import Explanation

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
FILTER_KEYS = ("genres", "min_year", "max_year", "exclude")


class ArtifactError(ValueError):
    """A saved recommender that cannot be loaded (missing, truncated or modified file)."""


@dataclass(frozen=True)
class Recommendation:
    """One recommended movie.

    Attributes:
        item_id: the movie's bare item id (as in ``MovieDataset.items``).
        title, year: for display.
        score: the fused relevance score (comparable within one request only).
        explanations: graph paths that explain it, most salient first.
    """

    item_id: str
    title: str
    score: float
    year: int | None = None
    explanations: tuple[Explanation, ...] = field(default_factory=tuple)

    @property
    def explanation(self) -> str:
        """The best explanation's sentence, or ``""``."""
        return self.explanations[0].text if self.explanations else ""

    def to_dict(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "title": self.title, "year": self.year,
                "score": round(self.score, 6),
                "explanations": [{"text": e.text, "kind": e.kind, "salience": round(e.salience, 6),
                                  "path": [[s.head, s.relation, s.tail] for s in e.steps]}
                                 for e in self.explanations]}

    def __repr__(self) -> str:
        year = f" ({self.year})" if self.year else ""
        why = f" — {self.explanation}" if self.explanations else ""
        return f"Recommendation({self.title}{year}, score={self.score:.3f}{why})"


def _item_years(dataset: MovieDataset, kg) -> np.ndarray:
    """Release year per movie index (``-1`` when unknown)."""
    years = dataset.items.set_index("item_id")["year"].reindex(kg.item_ids).fillna(-1)
    return years.to_numpy(dtype=np.int64)


def _zscore(x: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
    values = x[keep] if keep is not None and keep.any() else x
    return (x - values.mean()) / values.std().clamp_min(1e-8) if values.numel() > 1 else x * 0


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
            valid: pd.DataFrame | None = None) -> Recommender:
        """Build the graph, text features and model from ``dataset``; returns self.

        Args:
            dataset: movies, side information and ratings.
            train: interactions to learn from (default: ``dataset.ratings`` minus a
                seeded 10% per-user validation part).
            valid: interactions for early stopping and fusion weights (default: that
                10% part). Pass ``valid=dataset.ratings.iloc[:0]`` to train on everything.
        """
        from kgrec.data.splits import random_split
        from kgrec.evaluate import to_csr
        from kgrec.graph import KnowledgeGraph
        from kgrec.models.registry import ModelContext, fit_model
        from kgrec.text import encode_graph

        if train is None:
            if dataset.ratings.empty:
                raise ValueError(f"dataset {dataset.name!r} has no ratings to learn from")
            split = random_split(dataset.ratings, (0.9, 0.1, 0.0), seed=self.config.train.seed)
            train = split.train
            valid = split.valid if valid is None else valid
        kg = KnowledgeGraph.from_dataset(dataset, train)
        features = encode_graph(kg, dataset, self.config.text)
        valid_csr = to_csr(valid, kg) if valid is not None and len(valid) else None
        ctx = ModelContext.from_graph(kg, valid_csr, features, _item_years(dataset, kg))
        result = fit_model(self.config.model.name, ctx, self.config)
        seen = pd.concat([train, valid]) if valid is not None else train
        self._setup(dataset, kg, features, result.model, seen)
        self.fit_result_ = result
        return self

    @classmethod
    def from_fitted(cls, dataset: MovieDataset, kg, model, features: dict[str, torch.Tensor],
                    seen: pd.DataFrame, config: KGRecConfig | None = None) -> Recommender:
        """Wrap an already fitted model (e.g. from the benchmark) without refitting.

        Args:
            dataset: the movies; kg: the training graph the model was fitted on;
            model: the fitted model; features: text features per node type;
            seen: every interaction of the users known at fit time (excluded from their
                recommendations); config: settings used for explanations and queries.
        """
        rec = cls(config)
        rec._setup(dataset, kg, features, model, seen)
        return rec

    def _setup(self, dataset: MovieDataset, kg, features: dict[str, torch.Tensor], model,
               seen: pd.DataFrame) -> None:
        from kgrec.explain import PathExplainer, model_anchor_effect
        from kgrec.models.baselines import TextCosine
        from kgrec.query import QueryParser

        self.dataset_, self.kg_, self.features_, self.model_ = dataset, kg, features, model
        model.eval()
        self._seen_ratings = seen.loc[:, ["user_id", "item_id", "rating", "timestamp"]]
        from kgrec.evaluate import to_csr

        self._seen = to_csr(seen, kg)
        self._item_features = torch.nn.functional.normalize(features["movie"].float(), dim=1)
        from kgrec.models.baselines import GenreProfile
        from kgrec.models.registry import item_entity_matrix

        # content scorers for movies the model never saw rated (cold-start movies):
        # text similarity and shared directors / cast / writers / genres
        self._content = TextCosine(features["movie"], kg.num_users).fit(kg.interaction_matrix())
        entities, _ = item_entity_matrix(kg, ("directed_by", "starring", "written_by", "has_genre"))
        self._entity_profile = (GenreProfile(entities, kg.num_users).fit(kg.interaction_matrix())
                                if entities.shape[1] else None)
        self._cold = torch.from_numpy(np.asarray(kg.interaction_matrix().sum(0)).ravel() == 0)
        self._parser = QueryParser(kg)
        from kgrec.models.base import item_vectors

        vectors = item_vectors(model, self._item_features)
        self.explainer_ = PathExplainer(kg, item_similarity=vectors.numpy(),
                                        anchor_effect=model_anchor_effect(model, kg.num_items),
                                        movies=dataset.items,
                                        max_hops=self.config.explain.max_hops)
        items = dataset.items.set_index("item_id")
        self._titles = [str(items.at[i, "title"]) for i in kg.item_ids]
        years = items["year"].reindex(kg.item_ids)
        self._years = [None if pd.isna(y) else int(y) for y in years]
        self._genres = self._item_entity_sets("has_genre")
        self._encoder = None
        self._query_entities: list[str] = []
        self._fitted = True

    def _item_entity_sets(self, relation: str) -> dict[str, np.ndarray]:
        """Entity id → indices of movies linked to it by ``relation``."""
        out: dict[str, list[int]] = {}
        for (src, rel, dst), index in self.kg_.edges.items():
            if src == "movie" and rel == relation:
                for m, e in zip(index[0], index[1]):
                    out.setdefault(self.kg_.nodes[dst][e], []).append(int(m))
        return {k: np.array(v) for k, v in out.items()}

    def _check_fitted(self) -> None:
        if not self._fitted:
            raise RuntimeError("this Recommender is not fitted: call fit(dataset) or "
                               "Recommender.load(path) first")

    # -- scoring -----------------------------------------------------------------------
    def _user_index(self, user: Any) -> int:
        ent = user if str(user).startswith("user:") else user_id(str(user))
        if not self.kg_.has(ent):
            known = self.kg_.user_ids[:5]
            raise KeyError(f"unknown user {entity_key(ent)!r} (known users look like "
                           f"{', '.join(map(repr, known))}; use liked=[...] or query=... for "
                           "a new user)")
        return self.kg_.index(ent)

    def _liked_indices(self, liked: list[str]) -> list[int]:
        if isinstance(liked, str):
            raise TypeError("liked must be a list of titles, e.g. liked=['Heat']")
        out: list[int] = []
        for title in liked:
            for ent in self._parser.resolve_title(str(title))[:1]:
                out.append(self.kg_.index(ent))
        return out

    def _encode_query(self, text: str) -> torch.Tensor:
        if self._encoder is None:
            from kgrec.text import TextEncoder

            self._encoder = TextEncoder(self.config.text.__class__(
                **{**self.config.text.to_dict(), "show_progress": False}))
        return torch.nn.functional.normalize(self._encoder.encode([text]).float(), dim=1)[0]

    def _query_scores(self, query: str) -> tuple[torch.Tensor, list[int]]:
        """Standardised text similarity plus entity boosts; and the movies named."""
        parsed = self._parser.parse(query)
        score = _zscore(self._item_features @ self._encode_query(query))
        boost = torch.zeros(self.kg_.num_items)
        named = [self.kg_.index(m) for m in parsed.movies]
        if named:
            history = torch.zeros(1, self.kg_.num_items)
            history[0, named] = 1.0
            boost += _zscore(self._history_scores(history)[0])
        linked = self._linked_movies(parsed.people + parsed.others)
        for movies in linked:
            boost[movies] += 3.0
        for genre in parsed.genres:
            boost[self._genres.get(genre, np.array([], dtype=int))] += 1.5
        if parsed.decades:
            years = np.array([y if y is not None else -1 for y in self._years])
            hit = np.isin(years // 10 * 10, parsed.decades)
            boost[torch.from_numpy(hit)] += 1.5
        return score + boost, named

    def _linked_movies(self, entities: list[str]) -> list[np.ndarray]:
        out = []
        for ent in entities:
            kind = ent.partition(":")[0]
            idx = self.kg_.index(ent)
            movies = [index[0][index[1] == idx] for (s, _, d), index in self.kg_.edges.items()
                      if s == "movie" and d == kind]
            out.append(np.unique(np.concatenate(movies)) if movies else np.array([], dtype=int))
        return out

    def _history_scores(self, history: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            try:
                return self.model_.score_history(history)
            except NotImplementedError:
                return self._content.score_history(history)

    def _scores(self, user: int | None, liked: list[int], query: str | None
                ) -> tuple[torch.Tensor, list[int]]:
        parts: list[torch.Tensor] = []
        named: list[int] = []
        with torch.no_grad():
            if user is not None and not liked:
                parts.append(self.model_.score(torch.tensor([user]))[0])
            elif liked or user is not None:
                history = torch.zeros(1, self.kg_.num_items)
                if user is not None:
                    history[0] = torch.from_numpy(self._seen[user].toarray()[0] > 0).float()
                history[0, liked] = 1.0
                parts.append(self._history_scores(history)[0])
        if parts and not self.model_.inductive and self._cold.any():
            # cold-start movies: the model never saw them; score them by content instead
            known = ~self._cold
            base = _zscore(parts[0], known)
            h = torch.zeros(1, self.kg_.num_items)
            h[0, liked] = 1.0
            if user is not None:
                h[0] += torch.from_numpy(self._seen[user].toarray()[0] > 0).float()
            content = _zscore(self._content.score_history(h)[0], known)
            if self._entity_profile is not None:
                content = content + _zscore(self._entity_profile.score_history(h)[0], known)
            base[self._cold] = _zscore(content, known)[self._cold]
            parts[0] = base
        else:
            parts = [_zscore(p) for p in parts]
        if query:
            q, named = self._query_scores(query)
            parts.append(q)
        return sum(parts), named

    def _apply_filters(self, scores: torch.Tensor, filters: dict[str, Any] | None) -> None:
        if not filters:
            return
        unknown = sorted(set(filters) - set(FILTER_KEYS))
        if unknown:
            raise ValueError(f"unknown filters {unknown}; valid filters: {list(FILTER_KEYS)}")
        if filters.get("genres"):
            keep = torch.zeros(self.kg_.num_items, dtype=torch.bool)
            for g in filters["genres"]:
                ent = g if g.startswith("genre:") else f"genre:{g}"
                if ent not in self._genres:
                    raise KeyError(f"unknown genre {g!r}; genres: "
                                   f"{sorted(self.kg_.labels.get(k, k) for k in self._genres)}")
                keep[self._genres[ent]] = True
            scores[~keep] = -torch.inf
        years = torch.tensor([y if y is not None else -10**6 for y in self._years])
        if filters.get("min_year") is not None:
            scores[years < int(filters["min_year"])] = -torch.inf
        if filters.get("max_year") is not None:
            scores[(years > int(filters["max_year"])) | (years < -10**5)] = -torch.inf
        for item in filters.get("exclude") or ():
            scores[self.kg_.item_index(str(item))] = -torch.inf

    # -- public API --------------------------------------------------------------------
    def recommend(self, user: Any = None, k: int = 10, *, query: str | None = None,
                  liked: list[str] | None = None, exclude_seen: bool = True,
                  explain: bool = True, filters: dict[str, Any] | None = None
                  ) -> list[Recommendation]:
        """Top-``k`` movies for a user, a list of liked titles, a text query, or a mix.

        Args:
            user: a known user id (bare, ``"user:ID"``), or ``None`` for a new user.
            k: number of recommendations (≥ 1).
            query: free text, e.g. ``"a 90s crime film like Pulp Fiction"``.
            liked: titles the (new or known) user likes; misspellings raise ``KeyError``
                with close matches.
            exclude_seen: drop movies the user rated (and the liked / named ones).
            explain: attach explanation paths (from the user's ratings, or from the
                liked titles for a new user).
            filters: ``{"genres": [...], "min_year": int, "max_year": int, "exclude": [ids]}``.
        """
        self._check_fitted()
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        if user is None and not liked and not query:
            raise ValueError("give a user, liked=[titles] or query='...'")
        if query is not None and not str(query).strip():
            raise ValueError("query is empty")
        u = None if user is None else self._user_index(user)
        liked_idx = self._liked_indices(list(liked)) if liked else []
        scores, named = self._scores(u, liked_idx, query)
        self._query_entities = self._parser.parse(query).entities if query else []
        scores = scores.clone()
        if exclude_seen:
            if u is not None:
                scores[torch.from_numpy(self._seen[u].indices.astype(np.int64))] = -torch.inf
            scores[liked_idx + named] = -torch.inf
        self._apply_filters(scores, filters)
        k_eff = min(k, int(torch.isfinite(scores).sum()))
        top = torch.topk(scores, k_eff)
        return [self._record(int(i), float(s), u, liked_idx + named, explain)
                for s, i in zip(top.values, top.indices)]

    def recommend_for_items(self, liked: list[str], k: int = 10, **kwargs: Any) -> list[Recommendation]:
        """Recommendations for a new user who likes ``liked`` (titles)."""
        return self.recommend(None, k, liked=liked, **kwargs)

    def recommend_batch(self, users: list[Any], k: int = 10, *, exclude_seen: bool = True,
                        explain: bool = False) -> dict[str, list[Recommendation]]:
        """Top-``k`` for many known users at once (one batched scoring pass)."""
        self._check_fitted()
        idx = torch.tensor([self._user_index(u) for u in users], dtype=torch.long)
        with torch.no_grad():
            scores = self.model_.score_all(idx).clone()
        if exclude_seen:
            rows = self._seen[idx.numpy()]
            mask = torch.from_numpy(rows.toarray() > 0)
            scores[mask] = -torch.inf
        top = torch.topk(scores, min(k, self.kg_.num_items), dim=1)
        return {str(entity_key(self.kg_.nodes["user"][int(u)])): [
                    self._record(int(i), float(s), int(u), [], explain)
                    for s, i in zip(vals, inds)]
                for u, vals, inds in zip(idx, top.values, top.indices)}

    def explain(self, user: Any, item: Any, k: int | None = None) -> list[Explanation]:
        """Explanation paths from a known user to a movie (bare item id, entity id or
        title)."""
        self._check_fitted()
        u = self._user_index(user)
        item = str(item)
        if item.startswith("movie:") or self.kg_.has(movie_id(item)):
            t = self.kg_.index(item if item.startswith("movie:") else movie_id(item))
        else:
            t = self.kg_.index(self._parser.resolve_title(item)[0])
        return self.explainer_.explain(u, t, k or self.config.explain.max_paths)

    def _record(self, item: int, score: float, user: int | None, anchors: list[int],
                explain: bool) -> Recommendation:
        explanations: list = []
        ranked: list = []  # the explainer's own order (its top is strong and faithful)
        if explain:
            k = self.config.explain.max_paths
            if user is not None:
                ranked = self.explainer_.explain(user, item, k)
                explanations = list(ranked)
            if self._query_entities and len(explanations) < k:
                explanations += self._query_explanations(item, k - len(explanations))
            if anchors and len(explanations) < k:
                if hasattr(self.explainer_, "explain_from"):
                    explanations += self.explainer_.explain_from(anchors, item, k - len(explanations))
        extra = sorted(explanations[len(ranked):], key=lambda e: -e.salience)
        explanations = ranked + extra
        return Recommendation(self.kg_.item_ids[item], self._titles[item], score,
                              self._years[item], tuple(explanations))

    _RELATION_PHRASES = {"directed_by": "directed by {}", "starring": "starring {}",
                         "written_by": "written by {}", "produced_by": "produced by {}",
                         "has_genre": "a {} film", "from_country": "from {}",
                         "has_tag": "tagged {}"}

    def _query_explanations(self, item: int, k: int) -> list[Explanation]:
        """One-edge paths from an entity named in the query (a person, genre...) to the
        movie, e.g. "Jackie Brown: directed by Quentin Tarantino, as your query asks"."""
        from kgrec.explain import Explanation, PathStep

        movie = self.kg_.nodes["movie"][item]
        out = []
        for entity in self._query_entities:
            kind = entity.partition(":")[0]
            e = self.kg_.index(entity)
            for (src, rel, dst), index in self.kg_.edges.items():
                if src != "movie" or dst != kind:
                    continue
                hit = (index[0] == item) & (index[1] == e)
                if not hit.any():
                    continue
                label = self.kg_.labels.get(entity, entity)
                phrase = self._RELATION_PHRASES.get(rel, rel.replace("_", " ") + " {}").format(label)
                text = f"{self._titles[item]}: {phrase}, as your query asks."
                # salience: the named entity's rarity (a director of 6 films says more
                # than a genre of 100), as in PathExplainer's content paths
                rarity = np.log1p(self.kg_.num_items / max(1, int((index[1] == e).sum())))
                salience = float(rarity / np.log1p(self.kg_.num_items))
                out.append(Explanation("", movie, "query", (PathStep(movie, rel, entity, False),),
                                       entity, None, salience, text))
                break
            if len(out) >= k:
                break
        return out

    def evaluate(self, test: pd.DataFrame, *, ks: tuple[int, ...] = (10, 20)):
        """Full-ranking metrics on ``test`` interactions, masking everything seen in fit."""
        from kgrec.evaluate import evaluate, to_csr

        self._check_fitted()
        return evaluate(self.model_, test=to_csr(test, self.kg_), mask=self._seen, ks=ks,
                        item_popularity=torch.from_numpy(
                            np.asarray(self.kg_.interaction_matrix().sum(0)).ravel()))

    # -- persistence -------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the fitted recommender to folder ``path`` atomically: config (TOML),
        weights and text features (safetensors), graph (TSV + safetensors), the movie
        tables, and a manifest with every file's sha256. An existing folder is replaced
        only once the new one is complete."""
        from safetensors.torch import save_file

        from kgrec.graph.artifacts import save_graph

        self._check_fitted()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
        try:
            self.config.save(tmp / "config.toml")
            state = {k: v.detach().contiguous().clone() for k, v in self.model_.state_dict().items()}
            save_file(state, str(tmp / "model.safetensors"))
            save_file({k: v.contiguous() for k, v in self.features_.items()},
                      str(tmp / "features.safetensors"))
            save_graph(self.kg_, tmp / "graph", turtle=False)
            (tmp / "data").mkdir()
            ds = self.dataset_
            ds.items.to_csv(tmp / "data" / "items.tsv", sep="\t", index=False)
            ds.triples.to_csv(tmp / "data" / "triples.tsv", sep="\t", index=False)
            pd.DataFrame(sorted(ds.labels.items()), columns=["entity", "label"]).to_csv(
                tmp / "data" / "labels.tsv", sep="\t", index=False)
            self._seen_ratings.to_csv(tmp / "data" / "seen.tsv", sep="\t", index=False)
            files = sorted(p for p in tmp.rglob("*") if p.is_file())
            from kgrec import __version__
            from kgrec.io import sha256_file

            manifest = {"format": FORMAT_VERSION, "kgrec": __version__,
                        "model": self.config.model.name, "dataset": ds.name,
                        "files": {str(p.relative_to(tmp)): sha256_file(p) for p in files}}
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
            if path.exists():
                old = path.parent / f".{path.name}.old"
                shutil.rmtree(old, ignore_errors=True)
                os.replace(path, old)
                os.replace(tmp, path)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return path

    @classmethod
    def load(cls, path: str | Path) -> Recommender:
        """Load a folder written by :meth:`save`. Every file is checked against the
        manifest's sha256 first; tensors are read with safetensors (no code runs)."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        from kgrec.data.dataset import MovieDataset
        from kgrec.graph.artifacts import load_graph
        from kgrec.io import sha256_file
        from kgrec.models.registry import ModelContext, build_model

        path = Path(path)
        manifest_path = path / MANIFEST
        if not manifest_path.is_file():
            raise ArtifactError(f"{path}: not a saved kgrec recommender (no {MANIFEST})")
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            files = dict(manifest["files"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ArtifactError(f"{manifest_path}: unreadable manifest ({exc})") from None
        if manifest.get("format") != FORMAT_VERSION:
            raise ArtifactError(f"{manifest_path}: format {manifest.get('format')!r} is not "
                                f"supported (expected {FORMAT_VERSION})")
        for name, digest in files.items():
            file = path / name
            if not file.is_file():
                raise ArtifactError(f"{file}: missing from the saved recommender")
            if sha256_file(file) != digest:
                raise ArtifactError(f"{file}: content does not match the manifest (sha256 "
                                    "mismatch): the file was truncated or modified")
        config = KGRecConfig.load(path / "config.toml")
        try:
            state = load_file(str(path / "model.safetensors"))
            features = load_file(str(path / "features.safetensors"))
        except (SafetensorError, OSError) as exc:
            raise ArtifactError(f"{path}: cannot read tensors ({exc})") from None
        data = path / "data"
        read = lambda name, **kw: pd.read_csv(data / name, sep="\t", keep_default_na=False,  # noqa: E731
                                             na_values=[""], **kw)
        items = read("items.tsv", dtype={"item_id": str, "title": str, "text": str})
        triples = read("triples.tsv", dtype=str)
        labels_df = read("labels.tsv", dtype=str)
        seen = read("seen.tsv", dtype={"user_id": str, "item_id": str})
        labels = dict(zip(labels_df["entity"], labels_df["label"].fillna("")))
        dataset = MovieDataset(manifest.get("dataset", "saved"), items, seen, triples, labels)
        kg = load_graph(path / "graph")
        ctx = ModelContext.from_graph(kg, None, features, _item_years(dataset, kg))
        model = build_model(config.model.name, ctx, config)
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ArtifactError(f"{path / 'model.safetensors'}: weights do not fit the "
                                f"{config.model.name!r} model ({exc})") from None
        rec = cls(config)
        rec._setup(dataset, kg, features, model, seen)
        return rec

    def __repr__(self) -> str:
        if not self._fitted:
            return f"Recommender(model={self.config.model.name!r}, unfitted)"
        return (f"Recommender(model={self.config.model.name!r}, users={self.kg_.num_users:,}, "
                f"movies={self.kg_.num_items:,})")
