"""One English sentence per :class:`~kgrec.explain.types.Explanation`, with real names.

Titles and names come from ``kg.labels``. Entities without a label (Freebase mids such as
``entity:m.0abc``) are named by their role instead: "shares a cast member with Heat",
"shares an award nomination with Casino". Examples::

    Reservoir Dogs: you liked Pulp Fiction, also directed by Quentin Tarantino.
    Reservoir Dogs: another Crime film like Heat, which you liked.
    Heat: people who liked Casino and Goodfellas also liked it (37 viewers).
    Desperado: you liked Pulp Fiction, directed by Quentin Tarantino, who also stars in it.

For a person who is not in the graph (``Explanation.user == ""``, from
:meth:`~kgrec.explain.PathExplainer.explain_from`) the likes are stated, not past ratings,
so the sentences say "like" and the path is read from its first step (the anchor)::

    Reservoir Dogs: you like Pulp Fiction, also directed by Quentin Tarantino.
    Casino: shares a cast member with Heat, which you like.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from kgrec.data.dataset import entity_key, entity_type
from kgrec.data.titles import normalise_title
from kgrec.explain.types import Explanation, PathStep

if TYPE_CHECKING:
    from kgrec.graph.knowledge_graph import KnowledgeGraph

__all__ = ["display_name", "render", "role_noun", "unambiguous_titles"]

Namer = Callable[[str], "str | None"]

#: Entity types whose bare key is a readable name when no label is given, unless the key
#: is an opaque identifier (:data:`OPAQUE_KEY`).
READABLE_KEYS = frozenset({"person", "genre", "country", "language"})
#: Keys that are identifiers, not names: Freebase mids (``m.0abc``, ``g.11b...``), numbers.
OPAQUE_KEY = re.compile(r"(?:[mg]\.[0-9a-z_]+|\d+)\Z")

#: Role noun of a relation (what the non-movie end is to the movie), after
#: :func:`_simplify`.
ROLE_NOUNS: dict[str, str] = {
    "directed_by": "director", "director": "director",
    "starring": "cast member", "actor": "cast member",
    "written_by": "writer", "writer": "writer",
    "produced_by": "producer", "producer": "producer",
    "has_genre": "genre", "genre": "genre", "films_in_this_genre": "genre",
    "from_country": "country of origin", "country": "country of origin",
    "in_language": "language", "language": "language",
    "has_tag": "tag", "tag": "tag",
    "award_won": "award", "award_nomination": "award nomination",
    "cinematography": "cinematographer", "cinematographer": "cinematographer",
    "production_companies": "production company", "production_company": "production company",
    "rating": "content rating", "content_rating": "content rating",
    "subjects": "subject", "subject": "subject",
}

#: Content sentences for known movie → entity relations: "you liked A, <phrase>".
_SHARED_PHRASES = {
    "directed_by": "also directed by {e}",
    "starring": "also starring {e}",
    "written_by": "also written by {e}",
    "produced_by": "also produced by {e}",
    "from_country": "also from {e}",
    "in_language": "also in {e}",
    "has_tag": "also tagged {e}",
}
#: Walking movie → entity along a known relation (the entity named).
_FORWARD = {
    "directed_by": "directed by {e}", "starring": "starring {e}",
    "written_by": "written by {e}", "produced_by": "produced by {e}",
    "has_genre": "a {e} film", "from_country": "from {e}", "in_language": "in {e}",
    "has_tag": "tagged {e}",
}
#: Walking entity → movie along a known relation (the movie named).
_BACKWARD = {
    "directed_by": "who directed {m}", "starring": "who stars in {m}",
    "written_by": "who wrote {m}", "produced_by": "who produced {m}",
    "has_genre": "the genre of {m}", "from_country": "the country of origin of {m}",
    "in_language": "the language of {m}", "has_tag": "a tag of {m}",
}
_BACKWARD_TO_ITEM = {
    "directed_by": "who also directed it", "starring": "who also stars in it",
    "written_by": "who also wrote it", "produced_by": "who also produced it",
}


def _simplify(relation: str) -> str:
    """``"film.film.award_nomination"`` → ``"award_nomination"``; ``"film.director.film"``
    → ``"director"``; ``"film.film_genre.films_in_this_genre"`` → ``"films_in_this_genre"``;
    plain names unchanged."""
    if "." not in relation:
        return relation
    parts = [p for p in relation.split(".") if p and p not in ("film", "films")]
    name = parts[-1] if parts else relation
    return name[5:] if name.startswith("film_") and len(name) > 5 else name


def role_noun(relation: str) -> str:
    """What the non-movie end of ``relation`` is: ``"directed_by"`` → ``"director"``,
    ``"starring"`` → ``"cast member"``, ``"award_nomination"`` → ``"award nomination"``,
    ``"film.film.production_companies"`` → ``"production company"``; unknown names are
    humanised (``has_``/``_by`` dropped, ``_`` → space, plural → singular)."""
    name = _simplify(relation)
    if name in ROLE_NOUNS:
        return ROLE_NOUNS[name]
    for prefix in ("has_", "is_"):
        if name.startswith(prefix) and len(name) > len(prefix):
            name = name[len(prefix):]
    if name.endswith("_by") and len(name) > 3:
        name = name[:-3]
    words = name.replace("_", " ").replace("-", " ").split()
    if not words:
        return "relation"
    last = words[-1]
    if last.endswith("ies") and len(last) > 4:
        last = last[:-3] + "y"
    elif last.endswith("s") and not last.endswith("ss") and len(last) > 3:
        last = last[:-1]
    return " ".join(words[:-1] + [last])


def _article(noun: str) -> str:
    return ("an " if noun[:1] and noun[:1].lower() in "aeiou" else "a ") + noun


def unambiguous_titles(kg: KnowledgeGraph, movies: pd.DataFrame | None = None
                       ) -> tuple[dict[str, str], np.ndarray]:
    """Titles that name one film each, and which movies are the same film.

    A title (label) shared by movies of different years gets its year: ``"Sabrina
    (1954)"``, ``"Sabrina (1995)"``. Movies with the same title (after
    :func:`~kgrec.data.titles.normalise_title`) *and* year are one film listed twice (ML-100K
    has 18 such pairs, e.g. *Chasing Amy* as items 246 and 268): they keep the plain title
    and share a ``same_film`` group. Without ``movies`` (no years), a title shared by
    several movies gets the item id instead (``"Sabrina [item 915]"``) and no movies are
    merged.

    Args:
        kg: the graph (movie nodes and labels).
        movies: the dataset's items table (``item_id``, ``title``, ``year``), optional.

    Returns:
        ``(titles, same_film)``: movie entity → title for every movie, and ``[I]`` the
        index of the first movie of each movie's film (its own index when unique).
    """
    entities = kg.nodes["movie"]
    labels = [str(kg.labels.get(e, e)) for e in entities]
    years: list[int | None] = [None] * len(entities)
    if movies is not None:
        by_id = dict(zip(movies["item_id"].astype(str).tolist(), movies["year"].tolist()))
        for i, entity in enumerate(entities):
            year = by_id.get(entity_key(entity))
            years[i] = None if year is None or pd.isna(year) else int(year)
    keys = [normalise_title(label) for label in labels]
    groups: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    titles = dict(zip(entities, labels))
    same_film = np.arange(len(entities), dtype=np.int64)
    for members in groups.values():
        if len(members) < 2:
            continue
        if movies is None:
            for i in members:
                titles[entities[i]] = f"{labels[i]} [item {entity_key(entities[i])}]"
            continue
        first_of_year: dict[int | None, int] = {}
        for i in members:
            same_film[i] = first_of_year.setdefault(years[i], i)
            if years[i] is None:  # no year to tell it apart
                same_film[i] = i
        if len({years[i] for i in members}) > 1:
            for i in members:
                if years[i] is not None:
                    titles[entities[i]] = f"{labels[i]} ({years[i]})"
                else:
                    titles[entities[i]] = f"{labels[i]} [item {entity_key(entities[i])}]"
    return titles, same_film


def named_nodes(kg: KnowledgeGraph, kind: str) -> np.ndarray:
    """``bool [num_nodes(kind)]``: which nodes of type ``kind`` :func:`display_name` gives a
    name (a label, a movie, or a readable key), computed per type rather than per node."""
    ids = kg.nodes[kind]
    if kind == "movie":
        return np.ones(len(ids), dtype=bool)
    labels = kg.labels
    named = np.fromiter((e in labels for e in ids), dtype=bool, count=len(ids))
    if kind in READABLE_KEYS:
        start = len(kind) + 1  # the key after "<kind>:"
        for i in np.flatnonzero(~named).tolist():
            named[i] = OPAQUE_KEY.match(ids[i], start) is None
    return named


def display_name(kg: KnowledgeGraph, entity: str, *, markdown: bool = False,
                 titles: dict[str, str] | None = None) -> str | None:
    """Label of ``entity`` (titles italicised with ``markdown=True``); the bare key for
    people, genres, countries and languages without a label (``person:Quentin
    Tarantino``); ``None`` when the entity has no readable name (a Freebase mid such as
    ``person:m.0abc`` or ``entity:m.0abc``, a numeric id). Movies always get a name (their
    id); ``titles`` (from :func:`unambiguous_titles`) overrides movie labels."""
    kind = entity_type(entity)
    label = titles.get(entity) if titles is not None and kind == "movie" else None
    label = label if label is not None else kg.labels.get(entity)
    if label is None:
        if kind == "movie":
            label = entity
        elif kind in READABLE_KEYS and not OPAQUE_KEY.match(entity_key(entity)):
            label = entity_key(entity)
        else:
            return None
    label = str(label)
    if markdown and kind == "movie":
        return "*" + label.replace("*", "\\*") + "*"
    return label


def render(kg: KnowledgeGraph, explanation: Explanation, *, markdown: bool = False,
           titles: dict[str, str] | None = None) -> str:
    """The sentence of ``explanation``, starting with the item's title.

    Args:
        kg: the graph the explanation comes from (for labels).
        explanation: a content, collaborative or kg explanation.
        markdown: italicise movie titles (``*Heat*``); plain text by default.
        titles: movie titles to use instead of the labels (:func:`unambiguous_titles`).
    """
    def name(entity: str) -> str | None:
        return display_name(kg, entity, markdown=markdown, titles=titles)

    item = name(explanation.item)
    # a known user rated the anchor in the past; a person not in the graph states a like
    like = "liked" if explanation.user else "like"
    if explanation.kind == "collaborative":
        anchors = [explanation.anchor or "", *explanation.co_anchors]
        titles = " and ".join(str(name(a)) for a in anchors)
        n = explanation.support
        viewers = f"{n} viewer" + ("" if n == 1 else "s")
        return f"{item}: people who liked {titles} also liked it ({viewers})."
    if explanation.kind == "content":
        return _render_content(kg, explanation, name, item, like)
    if explanation.kind == "kg":
        return _render_chain(kg, explanation, name, item, like)
    raise ValueError(f"unknown explanation kind {explanation.kind!r} "
                     f"(expected content, collaborative or kg)")


def _render_content(kg: KnowledgeGraph, e: Explanation, name: Namer, item: str | None,
                    like: str = "liked") -> str:
    """Content sentence; ``like`` is the verb for the anchor ("liked" or "like")."""
    anchor = name(e.anchor) if e.anchor else None
    link = e.steps[-1]
    relation = link.relation
    role = role_noun(relation)
    if e.shared is None:  # direct movie–movie link
        if link.forward:  # anchor -r-> item: the item is the anchor's <role>
            return f"{item}: the {role} of {anchor}, which you {like}."
        return f"{item}: you {like} {anchor}, its {role}."
    shared = name(e.shared)
    movie_head = entity_type(link.head) == "movie"
    if shared is None:
        return f"{item}: shares {_article(role)} with {anchor}, which you {like}."
    if movie_head and relation == "has_genre":
        return f"{item}: another {shared} film like {anchor}, which you {like}."
    if movie_head and relation in _SHARED_PHRASES:
        return f"{item}: you {like} {anchor}, {_SHARED_PHRASES[relation].format(e=shared)}."
    return f"{item}: shares the {role} {shared} with {anchor}, which you {like}."


def _describes_tail(step: PathStep) -> bool:
    """Whether the role noun of ``step.relation`` describes the edge's tail (movie →
    entity and movie → movie relations) rather than its head (entity → movie)."""
    return entity_type(step.head) == "movie" or entity_type(step.tail) != "movie"


def _render_chain(kg: KnowledgeGraph, e: Explanation, name: Namer, item: str | None,
                  like: str = "liked") -> str:
    """``"<item>: you <like> <anchor>, <clause>, <clause>..."``. Each step from the anchor
    on (after the ``rated`` step, when there is a user) is a clause about the node it
    leaves; a step into an unnamed entity opens "whose <role>" and the next step
    completes it as a predicate ("whose director also stars in it")."""
    anchor = name(e.anchor) if e.anchor else None
    text = f"{item}: you {like} {anchor}"
    pending = False  # the previous clause was "whose <role>", awaiting a predicate
    for step in (e.steps[1:] if e.user else e.steps):
        to_item = step.target == e.item
        relation = step.relation
        role = role_noun(relation)
        target = None if to_item else name(step.target)
        opens = False
        if entity_type(step.head) == "movie" and relation in _FORWARD:
            if step.forward:  # movie → entity, the entity named
                if target is None and not to_item:
                    clause, opens = f"whose {role}", True
                else:
                    clause = _FORWARD[relation].format(e=target)
                predicate = "has " + (_article(role) if target is None else
                                      f"the {role} {target}")
            else:  # entity → movie
                if to_item:
                    clause = _BACKWARD_TO_ITEM.get(relation, f"also its {role}")
                else:
                    clause = _BACKWARD[relation].format(m=target)
                predicate = (clause[4:] if clause.startswith("who ")
                             else "is " + clause)
        elif step.forward == _describes_tail(step):  # the next node is the role
            if to_item:
                clause = f"whose {role} it is"
                predicate = f"has it as {_article(role)}"
            elif target is None:
                clause, opens = f"whose {role}", True
                predicate = f"has {_article(role)}"
            else:
                clause = f"whose {role} is {target}"
                predicate = f"has the {role} {target}"
        else:  # the current node is the role of the next one
            if to_item:
                clause = f"also its {role}"
            elif target is None:
                clause = f"the {role} of another title"
            else:
                clause = f"the {role} of {target}"
            predicate = "is " + clause
        if pending:
            text += " " + predicate
            pending = False
        else:
            text += ", " + clause
            pending = opens
    return text + "."
