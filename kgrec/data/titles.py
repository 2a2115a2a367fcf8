"""Movie titles as MovieLens writes them, and matching them across datasets.

MovieLens titles put leading articles at the end (``"Godfather, The"``), give alternate
or original titles in parentheses (``"City of Lost Children, The (Cité des enfants perdus,
La)"``, ``"Hard 8 (a.k.a. Sydney, a.k.a. Hard Eight)"``), use Latin-1 accents and
superscripts (``"Alien³"``), and sometimes differ by a year between releases. Matching
compares *keys* in tiers, most specific first, and accepts a candidate only when exactly
one film of the other list has that key (same year, or ±1 year when no same-year film has
any key of that tier): a title that could be either of two films is left unmatched rather
than guessed.

Tiers of keys (:func:`title_keys`):

0. the whole title, accents folded, case and punctuation ignored, a trailing article moved
   to the front (``"Godfather, The"`` → ``"the godfather"``);
1. the same without the parenthesised parts, and each parenthesised alternate title;
2. tier 0 and 1 keys with leading articles dropped and spaces removed
   (``"Alien³"`` and ``"Alien 3"`` → ``"alien3"``; ``"Boys, Les"`` stays apart from
   ``"Boys, The"`` in tier 0);
3. the main title's part before a colon or the part after `` - `` (``"Star Wars:
   Episode IV - A New Hope"`` → ``"star wars"``, ``"a new hope"``).
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = ["TitleMatch", "match_titles", "normalise_title", "title_keys"]

#: Articles MovieLens moves to the end of a title (English, French, Spanish, Italian,
#: German, ...): ``"Boys, Les"``, ``"Bewegte Mann, Der"``.
ARTICLES = ("the", "a", "an", "les", "le", "la", "l'", "il", "el", "los", "las", "lo",
            "das", "der", "die", "den", "det", "une", "un", "i")
_TRAILING_ARTICLE = re.compile(r"^(.*\S),\s*(" + "|".join(re.escape(a) for a in ARTICLES)
                               + r")$", re.IGNORECASE)
_LEADING_ARTICLE = re.compile(r"^(?:" + "|".join(re.escape(a.rstrip("'")) for a in ARTICLES)
                              + r")\s+")
_PARENS = re.compile(r"\s*\(([^()]*)\)")
_AKA = re.compile(r"^\s*(?:a\.k\.a\.|aka)\s*", re.IGNORECASE)


def _fold(text: str) -> str:
    """Accents and superscripts folded to ASCII (``"Cité"`` → ``"Cite"``, ``"³"`` →
    ``"3"``)."""
    if text.isascii():  # nothing to fold (NFKD leaves ASCII as it is): most titles
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def normalise_title(title: str) -> str:
    """Comparable form of one title: accents folded, lower case, a trailing article moved to
    the front, ``&`` read as ``and``, punctuation → spaces.

    ``"Godfather, The"`` → ``"the godfather"``; ``"The Godfather"`` → ``"the godfather"``;
    ``"Cité des enfants perdus, La"`` → ``"la cite des enfants perdus"``.
    """
    text = _fold(title).strip()
    moved = _TRAILING_ARTICLE.match(text)
    if moved:
        text = f"{moved.group(2)} {moved.group(1)}"
    text = text.lower().replace("&", " and ")
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text).split())


def _loose(key: str) -> str:
    """Tier-2 form: leading article dropped, spaces removed."""
    return _LEADING_ARTICLE.sub("", key).replace(" ", "")


def title_keys(title: str) -> list[set[str]]:
    """Match keys of a title without its year, by tier (see the module docstring).

    Args:
        title: e.g. ``"Shall We Dance? (Shall We Dansu?)"`` (no trailing ``(1996)``).

    Returns:
        Four sets of keys, tier 0 first; empty keys are dropped.
    """
    title = title.strip()
    alternates = []
    for part in _PARENS.findall(title):
        for alt in re.split(r",\s*(?=a\.k\.a\.)", part, flags=re.IGNORECASE):
            alternates.append(_AKA.sub("", alt))
    main = _PARENS.sub("", title).strip()
    tier0 = {normalise_title(title)}
    tier1 = {normalise_title(main), *(normalise_title(a) for a in alternates)}
    tier2 = {_loose(k) for k in tier0 | tier1}
    tier3 = set()
    for piece in (main.split(":", 1)[0], main.rsplit(" - ", 1)[-1]):
        if piece.strip() != main:
            tier3.add(normalise_title(piece))
    tiers = [tier0, tier1 - tier0, tier2, tier3]
    return [{k for k in tier if k} for tier in tiers]


def _cumulative(tiers: list[set[str]]) -> list[set[str]]:
    """Keys of each tier together with those of the stronger tiers."""
    out, seen = [], set()
    for keys in tiers:
        seen = seen | keys
        out.append(seen)
    return out


@dataclass
class TitleMatch:
    """Result of :func:`match_titles`.

    Attributes:
        mapping: source id → target id for every matched film.
        near_year: source ids matched with a year differing by one.
        ambiguous: source id → target ids that fit equally well (left unmatched).
        unmatched: source ids with no candidate at all.
        tiers: number of matches made at each key tier.
    """

    mapping: dict[str, str] = field(default_factory=dict)
    near_year: list[str] = field(default_factory=list)
    ambiguous: dict[str, list[str]] = field(default_factory=dict)
    unmatched: list[str] = field(default_factory=list)
    tiers: list[int] = field(default_factory=lambda: [0, 0, 0, 0])

    @property
    def num_matched(self) -> int:
        return len(self.mapping)


def match_titles(source: Iterable[tuple[str, str, int | None]],
                 target: Sequence[tuple[str, str, int | None]]) -> TitleMatch:
    """Match each film of ``source`` to at most one film of ``target`` by title and year.

    For each tier in order, the target films sharing any key of that tier or a stronger one
    with the source title are collected (so ``"Star Wars"`` meets the tier-3 key of ``"Star
    Wars: Episode IV - A New Hope"``); those of the same year win, else (only when no same-year film
    matched at that tier) those one year apart. Exactly one candidate → matched; several →
    recorded as ambiguous (and no later tier is tried: a weaker key cannot settle what a
    stronger one found ambiguous); none → the next tier. Titles without a year match only
    titles without a year.

    Args:
        source: ``(id, title without year, year or None)`` per film.
        target: the same for the reference list.

    Returns:
        A :class:`TitleMatch`; several source films may map to one target film (a film
        listed twice in the source).
    """
    index: list[dict[str, set[int]]] = [defaultdict(set) for _ in range(4)]
    years = [y for _, _, y in target]
    for position, (_, title, _) in enumerate(target):
        for tier, keys in enumerate(_cumulative(title_keys(title))):
            for key in keys:
                index[tier][key].add(position)
    result = TitleMatch()
    for source_id, title, year in source:
        outcome: list[int] | None = None
        for tier, keys in enumerate(_cumulative(title_keys(title))):
            hits = set().union(*(index[tier].get(k, set()) for k in keys)) if keys else set()
            same = sorted(h for h in hits if years[h] == year)
            near = sorted(h for h in hits if year is not None and years[h] is not None
                          and abs(years[h] - year) == 1)
            found = same or near
            if not found:
                continue
            outcome = found
            if len(found) == 1:
                result.tiers[tier] += 1
                if not same:
                    result.near_year.append(source_id)
            break
        if outcome is None:
            result.unmatched.append(source_id)
        elif len(outcome) == 1:
            result.mapping[source_id] = target[outcome[0]][0]
        else:
            result.ambiguous[source_id] = [target[h][0] for h in outcome]
    return result
