"""What a person asks for: free text → :class:`QueryIntent`.

``parse("a funny movie but not animated, from before 1960", vocabulary)`` finds

* genres and other labelled entities to **include** and to **exclude** (negation markers
  ``not``, ``no``, ``without``, ``except``, ``anything but``, ``non-`` open a scope that a
  comma, ``but`` or a positive cue closes);
* **people** with their **role** (``directed by``/``by`` → ``directed_by``;
  ``starring``/``with``/``featuring`` → ``starring``; ``written by`` → ``written_by``;
  no cue → any role), by full name or, after a cue or capitalised (not as a sentence's first word unless followed by "films"/"movies"
  or possessive), by surname;
* **year constraints**: hard bounds (``before 1960``, ``after 2000``, ``since 1990``,
  ``between 1980 and 1990``, ``from the 70s``, ``90s``, ``late 80s``, ``in 1995``) and soft
  preferences (``recent``/``new``, ``old``/``classic``/``black and white``);
* **"like X"** anchors (``like``, ``similar to``, ``such as``, ``in the style of`` ...)
  resolved to titles (exact title variants first, then close spellings);
* the **free-text remainder** (for text similarity).

Every match carries the words it came from, how it was found (``label``, ``lexicon``,
``encoder``, ``surname``, ``title``, ``fuzzy``) and a confidence in ``[0, 1]``.

Semantic matching, in order of reliability: exact labels (and plurals: "westerns"); a
small curated :data:`LEXICON` (``romantic`` → Romance, ``sci fi`` → Sci-Fi, ``kids`` →
Children's/Family ...); then the transformer encoder over the graph's genre labels for
paraphrases the lexicon lacks ("haunted house" → Horror): a phrase ``p`` matches the genre
``g`` whose label embedding is closest, when the margin over a genre-less reference

.. math:: m(p, g) = \cos(e(\text{"a film about } p\text{"}), e(\text{"a } g \text{ film"}))
          - \cos(e(\text{"a film about } p\text{"}), e(\text{"a film about something"}))

is at least :data:`ENCODER_THRESHOLD` (raw cosines of MiniLM are high for any word; the
margin is what separates genre words from others). The threshold and the templates were
chosen on the held-out phrase list of ``scripts/tune_intent_threshold.py`` (F1 0.67,
precision 0.85, recall 0.56 there), never on the query benchmark. The match's confidence is the cosine.

A title is matched inside a query only when nothing explains its words better: after a
"like" cue a title wins; elsewhere a title needs two or more content words that are not
all genre/lexicon words, or must be the whole query, or (for a one-word title) be
capitalised and not a lexicon or common word. So "movies for kids" is Children's, never
the movie *Kids*.

:class:`Vocabulary` is built once per graph (labels, years, popularity, genre label
embeddings); :func:`parse` keeps no state between requests.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

    from kgrec.graph.knowledge_graph import KnowledgeGraph

#: Threshold on the encoder margin ``cos(phrase, genre) - cos(phrase, NULL_PHRASE)`` (see
#: module doc; chosen by ``scripts/tune_intent_threshold.py``).
ENCODER_THRESHOLD = 0.040
#: Templates phrases and genre labels are embedded in, and the "no genre" reference.
PHRASE_TEMPLATE = "a film about {}"
LABEL_TEMPLATE = "a {} film"
NULL_PHRASE = "a film about something"

#: Curated phrase → (genre label, confidence) list. Labels not in a graph are skipped,
#: so one lexicon serves ML-100K ("Children's") and the sample ("Family").
LEXICON: dict[str, tuple[tuple[str, float], ...]] = {}


def _lex(labels: str | tuple[str, ...], confidence: float, *phrases: str) -> None:
    names = (labels,) if isinstance(labels, str) else labels
    for p in phrases:
        LEXICON[p] = tuple((n, confidence) for n in names)


_lex("Romance", 0.9, "romantic", "romance", "romances", "love story", "love stories")
_lex(("Romance", "Comedy"), 0.9, "romcom", "rom-com", "rom com", "romantic comedy")
_lex("Comedy", 0.9, "funny", "comedy", "comedies", "comedic", "hilarious", "humorous",
     "humour", "humor", "laughs")
_lex("Sci-Fi", 0.95, "sci fi", "sci-fi", "scifi", "science fiction", "science-fiction")
_lex(("Children's", "Family"), 0.9, "kids", "kid", "children", "childrens", "children's",
     "family", "families", "family-friendly", "family friendly")
_lex("Horror", 0.9, "scary", "horror", "frightening", "terrifying", "spooky", "creepy")
_lex("War", 0.9, "war", "wartime", "military")
_lex("Animation", 0.9, "animated", "animation", "cartoon", "cartoons", "anime")
_lex("Western", 0.9, "western", "westerns", "cowboy", "cowboys")
_lex("Thriller", 0.85, "thriller", "thrillers", "suspense", "suspenseful", "thrilling")
_lex("Action", 0.85, "action", "action-packed", "action packed")
_lex("Adventure", 0.85, "adventure", "adventures", "adventurous")
_lex("Crime", 0.85, "crime", "gangster", "gangsters", "mafia", "mob", "heist")
_lex("Documentary", 0.9, "documentary", "documentaries", "non-fiction", "nonfiction")
_lex("Drama", 0.85, "drama", "dramas", "dramatic")
_lex("Fantasy", 0.85, "fantasy", "magical", "fairy tale", "fairy-tale")
_lex("Film-Noir", 0.95, "film noir", "film-noir", "noir", "films noirs", "noirs")
_lex("Musical", 0.9, "musical", "musicals", "song and dance")
_lex("Mystery", 0.85, "mystery", "mysteries", "whodunit", "whodunnit")

#: Soft era words: ``recent`` prefers the catalogue's newest years, ``old`` its oldest.
SOFT_YEARS: dict[str, str] = {
    "recent": "recent", "new": "recent", "newer": "recent", "newest": "recent",
    "latest": "recent", "modern": "recent", "contemporary": "recent",
    "old": "old", "older": "old", "oldie": "old", "oldies": "old", "classic": "old",
    "classics": "old", "vintage": "old", "golden age": "old", "black and white": "old",
    "black-and-white": "old", "silent": "old",
}

NEGATIONS = {"not", "no", "without", "except", "excluding", "nothing", "never", "avoid",
             "minus", "isn't", "aren't", "don't", "dont", "but not", "anything but",
             "everything but", "rather than", "instead of", "none", "skip", "hate"}
#: Phrases that tie the next person to a role.
ROLE_CUES: dict[str, str | None] = {
    "directed by": "directed_by", "direction by": "directed_by", "by director": "directed_by",
    "from director": "directed_by", "by": "directed_by", "director": "directed_by",
    "starring": "starring", "with": "starring", "featuring": "starring", "stars": "starring",
    "actor": "starring", "actress": "starring", "written by": "written_by",
    "screenplay by": "written_by", "produced by": "produced_by",
}
LIKE_CUES = ("similar to", "such as", "in the style of", "in the vein of", "reminds me of",
             "reminiscent of", "along the lines of", "same as", "as good as", "like")
#: Words that end a negation scope or a title after a like-cue.
BOUNDARIES = {",", ";", "!", "?", "(", ")", '"', "but", "though", "however", "yet"}
STOPWORDS = {
    "a", "an", "the", "of", "in", "and", "or", "film", "films", "movie", "movies", "me",
    "for", "to", "some", "something", "anything", "i", "it", "is", "on", "from", "up", "that",
    "this", "want", "wanna", "watch", "see", "show", "give", "find", "recommend", "please",
    "good", "great", "best", "nice", "about", "any", "my", "we", "our", "us", "you", "your",
    "would", "could", "can", "should", "tonight", "today", "one", "ones", "kind", "sort",
    "type", "really", "very", "more", "most", "less", "much", "lot", "lots", "get", "let's",
    "lets", "im", "i'm", "i'd", "id", "are", "was", "be", "been", "have", "has", "do",
    "pick", "picks", "title", "titles", "flick", "flicks", "picture", "pictures", "cinema",
    "please", "maybe", "perhaps", "all", "time", "times", "era", "year", "years", "decade",
    "made", "released", "set", "at", "as", "so", "just", "also", "too", "than", "then",
    "them", "they", "their", "there", "where", "which", "who", "what", "when", "how", "into",
    "its", "it's", "enjoy", "love", "loved", "liked", "likes", "fan", "fans", "mood",
    "feel", "feeling", "night", "weekend", "evening", "date", "stuff", "thing", "things",
    "like", "similar", "genre", "genres", "other", "another", "well", "well-known", "famous",
    "popular", "top", "rated", "early", "late", "mid", "between", "before", "after", "since",
    "until", "till", "prior", "later", "earlier", "post", "pre", "with", "by", "starring",
    "directed", "written", "featuring", "director", "actor", "actress", "cast", "stars",
}
_DECADE_WORDS = {"twenties": 1920, "thirties": 1930, "forties": 1940, "fifties": 1950,
                 "sixties": 1960, "seventies": 1970, "eighties": 1980, "nineties": 1990,
                 "noughties": 2000}
_DECADE = re.compile(r"^(?:(1[89]\d|20\d)0|(\d)0)s$")
_YEAR = re.compile(r"^(1[89]\d\d|20\d\d)$")
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9'&.\-]*|[,;!?()\"]")


# -- typed results ---------------------------------------------------------------------
@dataclass(frozen=True)
class Match:
    """One piece of the query matched to the graph.

    Attributes:
        entity: entity id (``"genre:Comedy"``, ``"person:Alfred Hitchcock"``, ``"movie:1"``).
        label: its human name.
        kind: node type (``genre``, ``person``, ``movie``, ...).
        words: the query words it came from.
        confidence: in ``[0, 1]``: 1 for an exact label, the lexicon's figure, the
            encoder's cosine, a string similarity for close spellings.
        source: ``label``, ``lexicon``, ``encoder``, ``surname``, ``title`` or ``fuzzy``.
        role: for people, the relation asked for (``directed_by``, ``starring`` ...) or
            ``None`` for any role.
    """

    entity: str
    label: str
    kind: str
    words: str
    confidence: float
    source: str
    role: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"entity": self.entity, "label": self.label, "kind": self.kind,
                "words": self.words, "confidence": round(self.confidence, 4),
                "source": self.source, "role": self.role}

    def __repr__(self) -> str:
        role = f" {self.role}" if self.role else ""
        return f"{self.label}{role} ({self.confidence:.2f} {self.source}: {self.words!r})"


@dataclass(frozen=True)
class YearConstraint:
    """A release-year constraint.

    Attributes:
        kind: ``before``, ``after``, ``between``, ``year``, ``decade`` (hard) or ``recent``,
            ``old`` (soft).
        min_year, max_year: inclusive bounds (``None`` = open); for soft kinds ``None``.
        words: the query words; confidence: in ``[0, 1]``.
    """

    kind: str
    min_year: int | None
    max_year: int | None
    words: str
    confidence: float = 1.0

    @property
    def hard(self) -> bool:
        return self.kind not in ("recent", "old")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "min_year": self.min_year, "max_year": self.max_year,
                "words": self.words, "confidence": round(self.confidence, 4),
                "hard": self.hard}

    def __repr__(self) -> str:
        if not self.hard:
            return f"{self.kind} (soft: {self.words!r})"
        lo = "" if self.min_year is None else str(self.min_year)
        hi = "" if self.max_year is None else str(self.max_year)
        return f"{lo}..{hi} ({self.words!r})"


@dataclass(frozen=True)
class QueryIntent:
    """How a request was understood.

    Attributes:
        text: the request as given.
        include: genres (and other labelled entities) asked for.
        exclude: genres, people, other entities to leave out ("not animated").
        people: people asked for, each with its ``role``.
        like: movies the results should resemble ("like Heat"), or titles named.
        years: release-year constraints (hard bounds and soft preferences).
        remainder: words not explained by any match (for text similarity).
        excluded_words: negated words that matched nothing ("without gore").
    """

    text: str
    include: tuple[Match, ...] = ()
    exclude: tuple[Match, ...] = ()
    people: tuple[Match, ...] = ()
    like: tuple[Match, ...] = ()
    years: tuple[YearConstraint, ...] = ()
    remainder: str = ""
    excluded_words: tuple[str, ...] = ()

    @property
    def year_bounds(self) -> tuple[int | None, int | None]:
        """Intersection of the hard bounds other than decades: ``(min, max)``."""
        lo = [y.min_year for y in self.years if y.hard and y.kind != "decade" and y.min_year is not None]
        hi = [y.max_year for y in self.years if y.hard and y.kind != "decade" and y.max_year is not None]
        return (max(lo) if lo else None, min(hi) if hi else None)

    @property
    def decades(self) -> tuple[tuple[int, int], ...]:
        """Year ranges of the decades named (their union is allowed)."""
        return tuple((y.min_year, y.max_year) for y in self.years  # type: ignore[misc]
                     if y.kind == "decade")

    @property
    def is_empty(self) -> bool:
        return not (self.include or self.exclude or self.people or self.like or self.years)

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "include": [m.to_dict() for m in self.include],
                "exclude": [m.to_dict() for m in self.exclude],
                "people": [m.to_dict() for m in self.people],
                "like": [m.to_dict() for m in self.like],
                "years": [y.to_dict() for y in self.years], "remainder": self.remainder,
                "excluded_words": list(self.excluded_words)}

    def __repr__(self) -> str:
        parts = [f"+{m!r}" for m in self.include] + [f"-{m!r}" for m in self.exclude]
        parts += [f"person {m!r}" for m in self.people] + [f"like {m!r}" for m in self.like]
        parts += [f"years {y!r}" for y in self.years]
        if self.remainder:
            parts.append(f"text {self.remainder!r}")
        if self.excluded_words:
            parts.append(f"not {' '.join(self.excluded_words)!r}")
        return f"QueryIntent({self.text!r}: {'; '.join(parts) or 'nothing understood'})"


# -- text helpers ----------------------------------------------------------------------
def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _norm_word(word: str) -> str:
    w = word.lower().rstrip(".")
    if w.endswith("'s") and len(w) > 3 and w[:-2].isdigit():
        w = w[:-2] + "s"                                   # 70's → 70s
    return w


def _split(text: str) -> list[str]:
    """Tokens in original case; a hyphen next to a digit splits (``pre-1960``)."""
    out: list[str] = []
    for tok in _TOKEN.findall(_ascii(text)):
        pieces = re.split(r"(?<=\d)-|-(?=\d)", tok) if any(c.isdigit() for c in tok) else [tok]
        out.extend(p for p in pieces if p)
    return out


def key(text: str) -> str:
    """Match key of a label or phrase: lower case, accents and punctuation dropped."""
    return " ".join(_norm_word(t) for t in _split(text) if t not in BOUNDARIES)


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def title_variants(label: str) -> set[str]:
    """Keys of a title: itself, without a leading article, ``"Godfather, The"`` turned
    round, without a parenthesised alias (``"Seven (Se7en)"`` → ``seven``)."""
    label = label.strip()
    forms = {label, re.sub(r"\s*\([^)]*\)\s*$", "", label)}
    for f in list(forms):
        m = re.match(r"^(.*), (The|A|An|La|Le|Les|Il|L')$", f)
        if m:
            forms |= {f"{m.group(2)} {m.group(1)}", m.group(1)}
        m = re.match(r"^(The|A|An) (.*)$", f)
        if m:
            forms.add(m.group(2))
    return {k for k in (key(f) for f in forms) if k}


# -- vocabulary ------------------------------------------------------------------------
class Vocabulary:
    """Everything :func:`parse` matches against, built once from a graph.

    Args:
        kg: the knowledge graph (labels of genres, people, movies and other entities;
            ``rated`` edges give popularity for disambiguating equal titles).
        years: movie entity id (or bare item id) → release year.
        encode: optional ``texts → [n, d]`` L2-normalised embeddings (a
            :class:`~kgrec.text.TextEncoder`'s ``encode``) for paraphrase matching; the
            genre labels are embedded once here.
        threshold: encoder cosine threshold (default :data:`ENCODER_THRESHOLD`).
    """

    def __init__(self, kg: KnowledgeGraph, years: Mapping[str, Any] | None = None, *,
                 encode: Callable[[list[str]], torch.Tensor] | None = None,
                 threshold: float = ENCODER_THRESHOLD):
        self.threshold = threshold
        self.encode = encode
        self.labels: dict[str, str] = {}
        self.titles: dict[str, list[str]] = {}
        self.people: dict[str, list[str]] = {}
        self.surnames: dict[str, list[str]] = {}
        self.genres: dict[str, str] = {}
        self.others: dict[str, list[str]] = {}
        self.degree: dict[str, int] = {}
        self.years: dict[str, int] = {}
        for (src, _rel, dst), index in kg.edges.items():
            if src == "movie" and dst != "user":
                counts = np.bincount(index[1], minlength=kg.num_nodes(dst))
                for ent, c in zip(kg.nodes[dst], counts):
                    self.degree[ent] = self.degree.get(ent, 0) + int(c)
        rated = kg.edges.get(("user", "rated", "movie"))
        pop = (np.bincount(rated[1], minlength=kg.num_items) if rated is not None
               else np.zeros(kg.num_items, dtype=np.int64))
        for ent, c in zip(kg.nodes.get("movie", ()), pop):
            self.degree[ent] = int(c)
        for (y_key, y) in (years or {}).items():
            try:
                y = int(y)
            except (TypeError, ValueError):             # None, NaN, pandas NA
                continue
            ent = y_key if str(y_key).startswith("movie:") else f"movie:{y_key}"
            self.years[ent] = int(y)
        for kind, ents in kg.nodes.items():
            if kind == "user":
                continue
            for ent in ents:
                label = kg.labels.get(ent)
                if not label or (kind == "genre" and label.lower() in ("unknown", "(no genres listed)")):
                    continue
                self.labels[ent] = label
                if kind == "movie":
                    for k in title_variants(label):
                        self.titles.setdefault(k, []).append(ent)
                elif kind == "person":
                    k = key(label)
                    self.people.setdefault(k, []).append(ent)
                    last = k.split()[-1] if k else ""
                    if len(k.split()) > 1 and len(last) > 2:
                        self.surnames.setdefault(last, []).append(ent)
                elif kind == "genre":
                    k = key(label)
                    self.genres[k] = ent
                    self.genres.setdefault(_singular(k), ent)
                    if "-" in k:
                        self.genres.setdefault(k.replace("-", " "), ent)
                elif len(label) >= 3:
                    self.others.setdefault(key(label), []).append(ent)
        by_label = {key(self.labels[e]): e for e in self.genres.values()}
        self.lexicon: dict[str, tuple[tuple[str, float], ...]] = {}
        for phrase, targets in LEXICON.items():
            hits = tuple((by_label[key(n)], c) for n, c in targets if key(n) in by_label)
            if hits:
                self.lexicon[key(phrase)] = hits
        for ents in (*self.titles.values(), *self.people.values(), *self.surnames.values()):
            ents.sort(key=lambda e: -self.degree.get(e, 0))
        self.max_words = max((len(k.split()) for k in (*self.titles, *self.people,
                              *self.others, *self.lexicon, *SOFT_YEARS)), default=1)
        known = [y for y in self.years.values()]
        self.year_range = (min(known), max(known)) if known else (1900, 2030)
        self._genre_list = sorted(set(self.genres.values()))
        self.genre_vectors = self.null_vector = None
        if encode is not None and self._genre_list:
            texts = [LABEL_TEMPLATE.format(self.labels[g]) for g in self._genre_list]
            self.genre_vectors = np.asarray(encode(texts), dtype=np.float32)
            self.null_vector = np.asarray(encode([NULL_PHRASE]), dtype=np.float32)[0]
        # words that explain a query better than a one-word title
        self.explaining_words = set(STOPWORDS) | {w for k in (*self.lexicon, *SOFT_YEARS,
                                                            *self.genres) for w in k.split()}

    @classmethod
    def from_graph(cls, kg: KnowledgeGraph, items: Any = None, **kwargs: Any) -> Vocabulary:
        """Vocabulary of ``kg``; ``items`` a ``MovieDataset.items`` frame (for years)."""
        years = None
        if items is not None:
            years = dict(zip(items["item_id"].astype(str), items["year"]))
        return cls(kg, years, **kwargs)

    def nearest_genre(self, phrases: Sequence[str]) -> list[tuple[str, float, float]]:
        """``(genre, cosine, margin)`` of the closest genre for each phrase (see the module
        formula); empty when no encoder was given."""
        if self.encode is None or self.genre_vectors is None or not phrases:
            return []
        q = np.asarray(self.encode([PHRASE_TEMPLATE.format(p) for p in phrases]),
                       dtype=np.float32)
        sims = q @ self.genre_vectors.T
        null = q @ self.null_vector
        best = sims.argmax(1)
        return [(self._genre_list[b], float(sims[i, b]), float(sims[i, b] - null[i]))
                for i, b in enumerate(best)]

    def __repr__(self) -> str:
        return (f"Vocabulary(titles={len(self.titles):,}, people={len(self.people):,}, "
                f"genres={len(self._genre_list)}, encoder={'yes' if self.encode else 'no'})")


# -- parsing ---------------------------------------------------------------------------
@dataclass
class _State:
    raw: list[str]
    words: list[str]
    used: list[bool]
    negated: list[bool] = field(default_factory=list)
    include: list[Match] = field(default_factory=list)
    exclude: list[Match] = field(default_factory=list)
    people: list[Match] = field(default_factory=list)
    like: list[Match] = field(default_factory=list)
    years: list[YearConstraint] = field(default_factory=list)

    def span(self, i: int, j: int) -> str:
        return " ".join(self.words[i:j])

    def free(self, i: int, j: int) -> bool:
        return j <= len(self.words) and not any(self.used[i:j])

    def take(self, i: int, j: int) -> None:
        self.used[i:j] = [True] * (j - i)


def _phrase_at(words: list[str], i: int, phrases: Sequence[str] | Mapping[str, Any]) -> int:
    """Length (in words) of the longest phrase of ``phrases`` starting at ``i``, or 0."""
    best = 0
    for p in phrases:
        n = len(p.split())
        if n > best and " ".join(words[i:i + n]) == p:
            best = n
    return best


def _negation_scopes(s: _State) -> None:
    """Mark the words under a negation: from a marker to the next boundary or positive
    cue (``with``, ``by``, ``like``, ``from`` ...); a role cue right after the marker
    belongs to the scope ("not directed by X")."""
    s.negated = [False] * len(s.words)
    enders = BOUNDARIES | {"like", "similar", "from", "directed", "starring", "by", "before",
                           "after", "since", "and"}
    i = 0
    while i < len(s.words):
        w = s.words[i]
        if w.startswith("non-") and len(w) > 4:
            s.negated[i] = True
            s.words[i] = w[4:]
            i += 1
            continue
        n = _phrase_at(s.words, i, NEGATIONS)
        if n:
            s.take(i, i + n)
            j = i + n
            while j < len(s.words) and s.words[j] in ("directed", "by", "starring", "with",
                                                       "featuring", "written", "the"):
                s.negated[j] = True
                j += 1
            while j < len(s.words) and (s.words[j] not in enders or (
                    s.words[j] == "and" and j + 1 < len(s.words) and s.words[j + 1] in NEGATIONS)):
                s.negated[j] = True
                j += 1
            i = j
        else:
            i += 1


def _parse_years(s: _State, vocab: Vocabulary) -> None:
    w = s.words
    n = len(w)

    def year_at(i: int) -> int | None:
        return int(w[i]) if i < n and _YEAR.match(w[i]) else None

    def decade_at(i: int) -> tuple[int, int] | None:
        if i >= n:
            return None
        if w[i] in _DECADE_WORDS:
            d = _DECADE_WORDS[w[i]]
            return d, d + 9
        m = _DECADE.match(w[i])
        if not m:
            return None
        if m.group(1):
            d = int(m.group(1)) * 10
        else:
            x = int(m.group(2))
            d = 2000 + 10 * x if x <= 2 else 1900 + 10 * x
        return d, d + 9

    i = 0
    while i < n:
        if s.used[i]:
            i += 1
            continue
        start = i
        j = i + 1 if w[i] == "the" else i
        part = w[j] if j < n else ""
        part_len = 0
        if part in ("early", "mid", "late"):
            part_len = 1
        d = decade_at(j + part_len)
        if d is not None:
            lo, hi = d
            if part == "early":
                hi = lo + 4
            elif part == "mid":
                lo, hi = lo + 3, lo + 7
            elif part == "late":
                lo = lo + 5
            # a preceding "from" / "in" belongs to the decade
            if start > 0 and w[start - 1] in ("from", "in", "of") and not s.used[start - 1]:
                start -= 1
            end = j + part_len + 1
            s.years.append(YearConstraint("decade", lo, hi, " ".join(w[start:end])))
            s.take(start, end)
            i = end
            continue
        cue = w[i]
        two = " ".join(w[i:i + 2])
        lo_cues = {"after": 1, "post": 1, "since": 0, "later than": 1, "newer than": 1,
                   "from": 0}
        hi_cues = {"before": -1, "pre": -1, "prior to": -1, "until": 0, "till": 0,
                   "up to": 0, "earlier than": -1, "older than": -1}
        matched = False
        for table, is_lo in ((lo_cues, True), (hi_cues, False)):
            for c, delta in table.items():
                cn = len(c.split())
                if (two if cn == 2 else cue) != c:
                    continue
                k = i + cn
                if k < n and w[k] == "the":
                    k += 1
                y = year_at(k)
                if y is None:
                    continue
                if c == "from":
                    # "from 1990 to 1995" / "from 1995"
                    if k + 2 < n and w[k + 1] in ("to", "until", "through", "and") and year_at(k + 2):
                        y2 = year_at(k + 2)
                        s.years.append(YearConstraint("between", min(y, y2), max(y, y2),
                                                      " ".join(w[i:k + 3])))
                        s.take(i, k + 3)
                        i = k + 3
                    else:
                        s.years.append(YearConstraint("year", y, y, " ".join(w[i:k + 1])))
                        s.take(i, k + 1)
                        i = k + 1
                elif is_lo:
                    s.years.append(YearConstraint("after", y + delta, None, " ".join(w[i:k + 1])))
                    s.take(i, k + 1)
                    i = k + 1
                else:
                    s.years.append(YearConstraint("before", None, y + delta, " ".join(w[i:k + 1])))
                    s.take(i, k + 1)
                    i = k + 1
                matched = True
                break
            if matched:
                break
        if matched:
            continue
        if cue == "between" and year_at(i + 1) and i + 3 < n + 1 and year_at(i + 3):
            y1, y2 = year_at(i + 1), year_at(i + 3)
            s.years.append(YearConstraint("between", min(y1, y2), max(y1, y2), " ".join(w[i:i + 4])))
            s.take(i, i + 4)
            i += 4
            continue
        y = year_at(i)
        if y is not None and vocab.year_range[0] - 30 <= y <= vocab.year_range[1] + 30:
            if i + 2 < n and w[i + 1] in ("to", "through") and year_at(i + 2):
                y2 = year_at(i + 2)
                s.years.append(YearConstraint("between", min(y, y2), max(y, y2), " ".join(w[i:i + 3])))
                s.take(i, i + 3)
                i += 3
                continue
            st = i - 1 if i > 0 and w[i - 1] == "in" and not s.used[i - 1] else i
            s.years.append(YearConstraint("year", y, y, " ".join(w[st:i + 1]), 0.9))
            s.take(st, i + 1)
            i += 1
            continue
        m = _phrase_at(w, i, SOFT_YEARS)
        if m and s.free(i, i + m):
            phrase = " ".join(w[i:i + m])
            s.years.append(YearConstraint(SOFT_YEARS[phrase], None, None, phrase, 0.6))
            s.take(i, i + m)
            i += m
            continue
        i += 1


def _match_title(s: _State, vocab: Vocabulary, i: int, fuzzy: bool) -> tuple[int, Match] | None:
    """Longest title starting at word ``i`` (after a like-cue), else a close spelling of
    the words up to the next boundary."""
    w = s.words
    for n in range(min(vocab.max_words, len(w) - i), 0, -1):
        if not s.free(i, i + n):
            continue
        k = " ".join(w[i:i + n])
        hits = vocab.titles.get(k)
        if hits and k not in STOPWORDS:
            return n, Match(hits[0], vocab.labels[hits[0]], "movie", " ".join(s.raw[i:i + n]),
                            1.0, "title")
    if not fuzzy:
        return None
    j = i
    while j < len(w) and w[j] not in BOUNDARIES and w[j] not in ("and", "or", "from", "with",
                                                                    "by", "but") and not s.used[j]:
        j += 1
    phrase = " ".join(w[i:j])
    if len(phrase) < 4:
        return None
    close = difflib.get_close_matches(phrase, list(vocab.titles), n=1, cutoff=0.8)
    if not close:
        return None
    ent = vocab.titles[close[0]][0]
    ratio = difflib.SequenceMatcher(None, phrase, close[0]).ratio()
    return j - i, Match(ent, vocab.labels[ent], "movie", " ".join(s.raw[i:j]), ratio, "fuzzy")


def _parse_like(s: _State, vocab: Vocabulary) -> None:
    w = s.words
    i = 0
    while i < len(w):
        n = _phrase_at(w, i, LIKE_CUES)
        if not n or not s.free(i, i + n):
            i += 1
            continue
        j = i + n
        found = _match_title(s, vocab, j, fuzzy=True)
        if found is None:
            i += 1
            continue
        s.take(i, i + n)
        while found is not None:
            m, match = found
            s.like.append(match)
            s.take(j, j + m)
            j += m
            found = None
            if j < len(w) and w[j] in ("and", "or", ","):
                nxt = _match_title(s, vocab, j + 1, fuzzy=False)
                if nxt is not None:
                    s.take(j, j + 1)
                    j += 1
                    found = nxt
        i = j


def _free_spans(s: _State, max_words: int) -> Iterator[tuple[int, int, str]]:
    """Spans ``(start, length, key)`` of words not yet taken, longest first, then left to
    right; each is checked when it is reached, so a caller may take words in between."""
    w = s.words
    for n in range(min(max_words, len(w)), 0, -1):
        for i in range(len(w) - n + 1):
            if s.free(i, i + n):
                yield i, n, " ".join(w[i:i + n])


def _parse_people(s: _State, vocab: Vocabulary) -> None:
    w = s.words
    for i, n, k in _free_spans(s, vocab.max_words):
        k_poss = k[:-2] if k.endswith("'s") else k
        ents = vocab.people.get(k) or vocab.people.get(k_poss)
        source, conf = "label", 1.0
        if not ents and n == 1:
            cue = _role_before(s, i)
            raw = s.raw[i]
            capital = raw[:1].isupper() and k_poss not in vocab.titles
            if capital and i == 0 and len(w) > 1 and not (
                    k.endswith("'s") or w[1] in ("film", "films", "movie", "movies")):
                capital = False              # sentence case: "Young love stories"
            if (cue is not None or capital) and k_poss not in vocab.explaining_words:
                ents = vocab.surnames.get(k_poss)
                if ents:
                    source = "surname"
                    conf = 0.8 if len(ents) == 1 else 0.6
        if not ents:
            continue
        role, cue_start = _role_before(s, i) or (None, i)
        end = i + n
        chosen = ents[:1]
        if source == "surname" and end < len(w) and w[end] in ("brothers", "sisters"):
            chosen, end = ents, end + 1               # "the Coen brothers": all of them
        for ent in chosen:
            match = Match(ent, vocab.labels[ent], "person", " ".join(s.raw[i:end]), conf,
                          source, role)
            (s.exclude if s.negated[i] else s.people).append(match)
        s.take(cue_start, end)


def _role_before(s: _State, i: int) -> tuple[str | None, int] | None:
    """The role cue ending just before word ``i`` (skipping ``the``/``director``)."""
    j = i
    while j > 0 and s.words[j - 1] in ("the", "director", "actor", "actress"):
        j -= 1
    for n in (2, 1):
        if j - n >= 0:
            cue = " ".join(s.words[j - n:j])
            if cue in ROLE_CUES and not any(s.used[j - n:j]):
                return ROLE_CUES[cue], j - n
    if j < i:                                             # "director X" without "by"
        return ROLE_CUES.get(s.words[j]), j
    return None


def _add_entity(s: _State, match: Match, negated: bool) -> None:
    target = s.exclude if negated else s.include
    if all(m.entity != match.entity for m in target):
        target.append(match)


def _parse_entities(s: _State, vocab: Vocabulary) -> None:
    """Genres by label, lexicon and plural; other labelled entities; free-text titles."""
    for i, n, k in _free_spans(s, vocab.max_words):
        raw = " ".join(s.raw[i:i + n])
        neg = s.negated[i]
        if k in vocab.lexicon:
            for ent, conf in vocab.lexicon[k]:
                exact = key(vocab.labels[ent]) in (k, _singular(k))
                _add_entity(s, Match(ent, vocab.labels[ent], "genre", raw,
                                     1.0 if exact else conf, "label" if exact else "lexicon"),
                            neg)
            s.take(i, i + n)
            continue
        g = vocab.genres.get(k) or (vocab.genres.get(_singular(k)) if n == 1 else None)
        if g:
            _add_entity(s, Match(g, vocab.labels[g], "genre", raw, 1.0, "label"), neg)
            s.take(i, i + n)
            continue
        if k in vocab.others and k not in vocab.explaining_words:
            ent = vocab.others[k][0]
            _add_entity(s, Match(ent, vocab.labels[ent], ent.partition(":")[0], raw, 1.0,
                                 "label"), neg)
            s.take(i, i + n)
            continue
        hits = vocab.titles.get(k)
        if hits and _title_allowed(s, vocab, i, n):
            match = Match(hits[0], vocab.labels[hits[0]], "movie", raw, 0.8, "title")
            (s.exclude if neg else s.like).append(match)
            s.take(i, i + n)


def _title_allowed(s: _State, vocab: Vocabulary, i: int, n: int) -> bool:
    """A title outside a like-cue counts only when no better explanation of its words
    exists (see module doc)."""
    words = s.words[i:i + n]
    content = [x for x in words if x not in vocab.explaining_words]
    whole = all(s.words[j] in STOPWORDS or s.words[j] in BOUNDARIES
                for j in range(len(s.words)) if not i <= j < i + n)
    if whole and content:
        return True
    if len(content) >= 2:
        return True
    return (len(content) == 1 and n == 1 and s.raw[i][:1].isupper() and i > 0
            and len(words[0]) >= 4)


def _parse_paraphrases(s: _State, vocab: Vocabulary) -> None:
    """Encoder matches of leftover content words (bigrams, then unigrams) to genres."""
    if vocab.encode is None:
        return
    w = s.words
    spans = [(i, i + n) for n in (2, 1) for i in range(len(w) - n + 1)
             if s.free(i, i + n) and all(x not in STOPWORDS and x not in BOUNDARIES
                                         and not x.isdigit() for x in w[i:i + n])]
    if not spans:
        return
    best = vocab.nearest_genre([" ".join(w[a:b]) for a, b in spans])
    for (a, b), (genre, cos, margin) in sorted(zip(spans, best), key=lambda t: -t[1][2]):
        if margin < vocab.threshold or not s.free(a, b):
            continue
        _add_entity(s, Match(genre, vocab.labels[genre], "genre", " ".join(s.raw[a:b]),
                             float(cos), "encoder"), s.negated[a])
        s.take(a, b)


def parse(text: str, vocabulary: Vocabulary) -> QueryIntent:
    """Understand ``text`` against ``vocabulary`` (stateless: nothing is cached).

    A query that is exactly a title (and not a genre or lexicon word) is that title.
    Otherwise, in order: negation scopes, year constraints, like-cue titles, people, genres and
    entities (labels, lexicon, titles that nothing explains better), encoder paraphrases;
    words used by one step are not reused by the next.

    Raises:
        TypeError: ``text`` is not a string.
    """
    if not isinstance(text, str):
        raise TypeError(f"query must be a string, got {type(text).__name__}")
    raw = _split(text)
    words = [_norm_word(t) for t in raw]
    s = _State(raw, words, [w in BOUNDARIES for w in words])
    whole = " ".join(w for w in words if w not in BOUNDARIES)
    if (whole in vocabulary.titles and whole not in vocabulary.lexicon
            and whole not in vocabulary.genres and whole not in SOFT_YEARS):
        ent = vocabulary.titles[whole][0]                 # the query is a title ("Up")
        return QueryIntent(text=text, like=(Match(ent, vocabulary.labels[ent], "movie", text,
                                                  0.9, "title"),))
    _negation_scopes(s)
    _parse_years(s, vocabulary)
    _parse_like(s, vocabulary)
    _parse_people(s, vocabulary)
    _parse_entities(s, vocabulary)
    _parse_paraphrases(s, vocabulary)
    leftover = [(s.raw[i], s.negated[i]) for i in range(len(words))
                if not s.used[i] and words[i] not in STOPWORDS and words[i] not in BOUNDARIES]
    # an entity both asked for and excluded keeps its more confident reading
    both = {m.entity for m in s.include} & {m.entity for m in s.exclude}
    for ent in both:
        inc = next(m for m in s.include if m.entity == ent)
        exc = next(m for m in s.exclude if m.entity == ent)
        loser, side = (exc, s.exclude) if inc.confidence >= exc.confidence else (inc, s.include)
        side.remove(loser)
        leftover.append((loser.words, side is s.exclude))
    soft_seen: set[str] = set()
    years = []
    for y in s.years:
        if not y.hard and y.kind in soft_seen:
            continue
        soft_seen.add(y.kind)
        years.append(y)
    s.years = years
    return QueryIntent(text=text, include=tuple(s.include), exclude=tuple(s.exclude),
                       people=tuple(s.people), like=tuple(s.like), years=tuple(s.years),
                       remainder=" ".join(r for r, neg in leftover if not neg),
                       excluded_words=tuple(r for r, neg in leftover if neg))
