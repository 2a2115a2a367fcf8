"""Typed request and response bodies of the HTTP API (pydantic v2 models).

These models are the API's contract: FastAPI validates requests against them, serialises
responses through them and publishes them in the OpenAPI document at ``/openapi.json``
(browsable at ``/docs``). Sizes are bounded here (titles per request, query length,
``k``) so that one request cannot ask for unbounded work.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

#: Largest ``k`` a request may ask for.
MAX_K = 100
#: Most liked titles in one request.
MAX_LIKED = 50
#: Longest query or title, in characters.
MAX_TEXT = 500


class _Strict(BaseModel):
    """Unknown fields are errors (a typo such as ``"lked"`` must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid")


class Filters(_Strict):
    """Hard constraints on the recommended movies."""

    genres: list[str] | None = Field(None, max_length=30,
                                     description="keep only movies of any of these genres")
    min_year: int | None = Field(None, description="keep movies released in or after this year")
    max_year: int | None = Field(None, description="keep movies released in or before this year")
    exclude: list[str] | None = Field(None, max_length=MAX_K * 10,
                                      description="item ids never to recommend")


class RecommendRequest(_Strict):
    """Who the recommendations are for: a known user, liked titles, a text query, or a mix
    (at least one of them)."""

    user: str | None = Field(None, max_length=MAX_TEXT, examples=["1"],
                             description="a user id of the training data")
    liked: list[str] | None = Field(None, max_length=MAX_LIKED, examples=[["Heat", "Casino"]],
                                    description="titles (or movie:ID) the person likes")
    query: str | None = Field(None, max_length=MAX_TEXT,
                              examples=["a 90s crime film like Pulp Fiction"],
                              description="the request in words")
    k: int = Field(10, strict=True, description=f"number of movies, 1 to {MAX_K}")
    filters: Filters | None = None
    explain: bool = Field(True, description="attach explanation paths")
    exclude_seen: bool = Field(True, description="drop movies the user rated or named")
    graph: bool = Field(False, description="attach each explanation subgraph as SVG")
    session: str | None = Field(None, max_length=MAX_TEXT, examples=["alice"],
                                description="a cold-start session whose feedback applies "
                                            "(a known user's own feedback always applies)")

    def library_filters(self) -> dict[str, Any] | None:
        """The filters as :meth:`kgrec.Recommender.recommend` takes them (unset keys
        dropped)."""
        if self.filters is None:
            return None
        return self.filters.model_dump(exclude_none=True) or None


class ExplainRequest(_Strict):
    """A known user and a movie (item id, ``movie:ID`` or title)."""

    user: str = Field(..., max_length=MAX_TEXT, examples=["1"])
    movie: str = Field(..., max_length=MAX_TEXT, examples=["Pulp Fiction"])
    k: int | None = Field(None, strict=True, ge=1, le=20,
                          description="most paths returned (default: the model's setting)")
    graph: bool = Field(True, description="attach the explanation subgraph as SVG")


class FeedbackRequest(_Strict):
    """A reaction of a known user or a cold-start session to a movie."""

    who: str = Field(..., max_length=MAX_TEXT, examples=["1"],
                     description="a known user id, or any session id")
    item: str | None = Field(None, max_length=MAX_TEXT, examples=["Heat"],
                             description="item id, movie:ID or title (not for undo)")
    signal: str = Field("like", max_length=40,
                        description="like, dislike, more_like_this, not_interested or undo")


class FeedbackEventOut(BaseModel):
    item: str
    signal: str
    at: float


class FeedbackResponse(BaseModel):
    """The session after the reaction: what the next recommendation takes into account."""

    session: str
    events: list[FeedbackEventOut]


class Step(BaseModel):
    """One edge of a path, as stored in the graph; ``forward`` is false when the path
    walks it from ``tail`` to ``head``."""

    head: str
    relation: str
    tail: str
    forward: bool


class ExplanationOut(BaseModel):
    """One explanation path and its sentence."""

    text: str
    kind: str = Field(description="content, collaborative, kg or query")
    salience: float
    anchor: str | None = Field(description="the liked or rated movie the path starts from")
    shared: str | None = Field(description="the entity shared by the anchor and the movie")
    steps: list[Step]
    labels: dict[str, str] = Field(description="readable name of every entity on the path")


class MovieOut(BaseModel):
    """A movie of the catalogue."""

    item_id: str
    title: str
    year: int | None
    genres: list[str]


class RecommendationOut(MovieOut):
    """One recommended movie, its score and its explanations (most salient first)."""

    score: float = Field(description="fused relevance score, comparable within one request")
    explanation: str = Field(description="the best explanation's sentence, or empty")
    explanations: list[ExplanationOut]
    graph_svg: str | None = Field(None, description="explanation subgraph (when graph=true)")


class RecommendResponse(BaseModel):
    recommendations: list[RecommendationOut]
    request: RecommendRequest = Field(description="the request as parsed")


class ExplainResponse(BaseModel):
    user: str
    movie: MovieOut
    explanations: list[ExplanationOut]
    graph_svg: str | None = None


class MoviesResponse(BaseModel):
    search: str
    movies: list[MovieOut]


class ModelInfo(BaseModel):
    """What the service has loaded."""

    kgrec_version: str
    format: int | None = Field(description="saved-model format version")
    dataset: str
    model: str
    config: dict[str, Any]
    sizes: dict[str, int] = Field(description="users, movies, nodes per type, edges")
    example_users: list[str] = Field(description="a few known user ids, spread over the index")
    genres: list[str]


class Health(BaseModel):
    status: str
    model: str
    pid: int = Field(description="process id of the worker that answered")


class Problem(BaseModel):
    """An error, as ``application/problem+json`` (RFC 9457)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, Any]] | None = Field(None, description="validation errors, per field")
