"""Natural-language queries and titles → graph entities.

:class:`QueryParser` finds the names of movies, people and genres of the knowledge graph
in a free-text query ("a 90s crime film like Pulp Fiction" → movie *Pulp Fiction*,
genre *Crime*, decade 1990s) by matching word n-grams against the graph's labels, and
resolves liked titles with clear errors and close matches for misspellings.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field

from kgrec.graph.knowledge_graph import KnowledgeGraph

_WORD = re.compile(r"[0-9a-z][0-9a-z'\-&.]*")
_DECADE = re.compile(r"\b(?:(1[89]|20)(\d)0|'?(\d)0)'?s\b")
_STOP = {"the", "a", "an", "of", "in", "and", "film", "films", "movie", "movies", "like", "with",
         "by", "me", "for", "to", "some", "something", "i", "it", "is", "on", "from", "up"}


def normalize(text: str) -> str:
    """Lower-case, accents stripped, punctuation other than ``'-&.`` turned to spaces."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return " ".join(_WORD.findall(text.lower().replace(",", " ").replace(":", " ")))


def _variants(label: str) -> set[str]:
    """Match keys of a label: itself, without a leading article, and for MovieLens-style
    titles "Godfather, The" the natural order."""
    out = {normalize(label)}
    m = re.match(r"^(.*), (The|A|An)$", label.strip())
    if m:
        out.add(normalize(f"{m.group(2)} {m.group(1)}"))
        out.add(normalize(m.group(1)))
    m = re.match(r"^(The|A|An) (.*)$", label.strip())
    if m:
        out.add(normalize(m.group(2)))
    return {v for v in out if v}


@dataclass
class ParsedQuery:
    """Entities found in a query.

    Attributes:
        text: the query as given.
        movies, people, genres, others: entity ids found (in order of appearance).
        decades: decades mentioned (``1990`` for "90s" or "1990s").
    """

    text: str
    movies: list[str] = field(default_factory=list)
    people: list[str] = field(default_factory=list)
    genres: list[str] = field(default_factory=list)
    others: list[str] = field(default_factory=list)
    decades: list[int] = field(default_factory=list)

    @property
    def entities(self) -> list[str]:
        return self.movies + self.people + self.genres + self.others


class QueryParser:
    """Label index over a graph's movies, people and genres.

    Args:
        kg: the knowledge graph (its ``labels`` give the names).
        kinds: node types whose labels are matched in queries.
        min_length: shortest label (in characters) matched inside a free-text query,
            so that very short titles ("M", "Up") match only as whole queries or titles.
    """

    def __init__(self, kg: KnowledgeGraph, kinds: tuple[str, ...] = ("movie", "person", "genre"),
                 min_length: int = 4):
        self.kg = kg
        self.min_length = min_length
        self._index: dict[str, list[str]] = {}
        self._titles: dict[str, list[str]] = {}
        for kind in kinds:
            for entity in kg.nodes.get(kind, ()):
                label = kg.labels.get(entity)
                if not label:
                    continue
                for key in _variants(label):
                    self._index.setdefault(key, []).append(entity)
                    if kind == "movie":
                        self._titles.setdefault(key, []).append(entity)
        self._max_words = max((len(k.split()) for k in self._index), default=1)

    def parse(self, text: str) -> ParsedQuery:
        """Entities and decades mentioned in ``text``; longest matches win, and matched
        words are not reused by shorter names."""
        parsed = ParsedQuery(text)
        words = normalize(text).split()
        used = [False] * len(words)
        for n in range(min(self._max_words, len(words)), 0, -1):
            for start in range(len(words) - n + 1):
                if any(used[start:start + n]):
                    continue
                key = " ".join(words[start:start + n])
                if n == 1 and (key in _STOP or len(key) < self.min_length) and key != normalize(text):
                    continue
                if len(key) < 3 or key in _STOP:
                    continue
                hits = self._index.get(key)
                if not hits:
                    continue
                used[start:start + n] = [True] * n
                for entity in hits:
                    kind = entity.partition(":")[0]
                    bucket = {"movie": parsed.movies, "person": parsed.people,
                              "genre": parsed.genres}.get(kind, parsed.others)
                    if entity not in bucket:
                        bucket.append(entity)
        for m in _DECADE.finditer(text.lower()):
            if m.group(1):
                decade = int(m.group(1) + m.group(2) + "0")
            else:
                d = int(m.group(3))
                decade = 2000 + d * 10 if d <= 2 else 1900 + d * 10
            if decade not in parsed.decades:
                parsed.decades.append(decade)
        return parsed

    def resolve_title(self, title: str) -> list[str]:
        """Movie entity ids whose title (or item id, as ``movie:ID``) is ``title``.

        Raises:
            KeyError: naming the title and up to five close matches.
        """
        if title.startswith("movie:") and self.kg.has(title):
            return [title]
        hits = self._titles.get(normalize(title))
        if hits:
            return list(hits)
        close = difflib.get_close_matches(normalize(title), list(self._titles), n=5, cutoff=0.6)
        names = []
        for key in close:
            for entity in self._titles[key]:
                label = self.kg.labels.get(entity, entity)
                if label not in names:
                    names.append(label)
        hint = f"; did you mean {', '.join(repr(n) for n in names[:5])}?" if names else ""
        raise KeyError(f"unknown title {title!r}{hint}")
