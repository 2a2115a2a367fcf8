"""parse(): synonyms, negation, year bounds, roles, like-X, titles that must not match."""

from __future__ import annotations

import pytest

from kgrec.serve.intent import QueryIntent, parse


def labels(matches):
    return sorted(m.label for m in matches)


def test_synonyms_map_to_genres(vocab):
    assert labels(parse("a romantic comedy", vocab).include) == ["Comedy", "Romance"]
    assert labels(parse("sci fi", vocab).include) == ["Sci-Fi"]
    assert labels(parse("science fiction please", vocab).include) == ["Sci-Fi"]
    assert labels(parse("something scary", vocab).include) == ["Horror"]
    assert labels(parse("war movies", vocab).include) == ["War"]
    funny = parse("something funny", vocab).include[0]
    assert (funny.label, funny.source, funny.words) == ("Comedy", "lexicon", "funny")
    assert 0 < funny.confidence < 1


def test_plural_labels(vocab):
    assert labels(parse("westerns", vocab).include) == ["Western"]
    assert labels(parse("thrillers", vocab).include) == ["Thriller"]


def test_negation_excludes(vocab):
    intent = parse("a funny movie but not animated", vocab)
    assert labels(intent.include) == ["Comedy"]
    assert labels(intent.exclude) == ["Animation"]
    intent = parse("no horror, 90s thrillers", vocab)
    assert labels(intent.exclude) == ["Horror"] and labels(intent.include) == ["Thriller"]
    intent = parse("comedies without romance or war", vocab)
    assert labels(intent.exclude) == ["Romance", "War"]
    assert parse("anything but a western", vocab).exclude[0].label == "Western"
    # a negated word with no entity is kept apart from the text remainder
    intent = parse("a comedy without gore", vocab)
    assert intent.excluded_words == ("gore",) and "gore" not in intent.remainder


@pytest.mark.parametrize("text, lo, hi", [
    ("an old black-and-white classic from before 1960", None, 1959),
    ("sci-fi after 2000", 2001, None), ("dramas since 1990", 1990, None),
    ("movies between 1980 and 1990", 1980, 1990), ("pre-1970 westerns", None, 1969),
    ("films from 1995", 1995, 1995),
])
def test_year_bounds(vocab, text, lo, hi):
    assert parse(text, vocab).year_bounds == (lo, hi)


def test_decades_and_soft_eras(vocab):
    assert parse("comedies from the 70s", vocab).decades == ((1970, 1979),)
    assert parse("90s thrillers", vocab).decades == ((1990, 1999),)
    assert parse("late 80s action", vocab).decades == ((1985, 1989),)
    assert parse("a 1950s noir", vocab).decades == ((1950, 1959),)
    old = parse("an old classic", vocab)
    assert [y.kind for y in old.years] == ["old"] and not old.years[0].hard
    assert [y.kind for y in parse("something recent", vocab).years] == ["recent"]


def test_people_with_roles(vocab):
    intent = parse("movies directed by Steven Spielberg", vocab)
    (p,) = intent.people
    assert (p.label, p.role, p.source) == ("Steven Spielberg", "directed_by", "label")
    intent = parse("Westerns with Clint Eastwood", vocab)
    assert intent.people[0].role == "starring" and labels(intent.include) == ["Western"]
    assert parse("Tom Hanks", vocab).people[0].role is None
    surname = parse("Hitchcock films from the 50s", vocab).people[0]
    assert (surname.label, surname.source) == ("Alfred Hitchcock", "surname")
    assert parse("nothing with Tom Cruise", vocab).exclude[0].label == "Tom Cruise"
    assert parse("Kubrick", vocab).people[0].label == "Stanley Kubrick"
    # a capitalised first word is sentence case, not a surname ("Allen", "Anderson" exist)
    assert {"allen", "anderson"} <= set(vocab.surnames)
    assert not parse("Anderson saga from the 90s", vocab).people
    assert parse("a comedy by Anderson", vocab).people[0].role == "directed_by"
    excluded = parse("not directed by Steven Spielberg", vocab)
    assert not excluded.people and excluded.exclude[0].role == "directed_by"
    coens = parse("films by the Coen brothers", vocab).people
    assert sorted(m.label for m in coens) == ["Ethan Coen", "Joel Coen"]


def test_like_anchors_resolve_to_titles(vocab):
    intent = parse("something like Heat and Casino", vocab)
    assert [m.label for m in intent.like] == ["Heat", "Casino"]
    assert all(m.kind == "movie" and m.source == "title" for m in intent.like)
    fuzzy = parse("similar to the godfathr", vocab).like[0]
    assert fuzzy.label == "The Godfather" and fuzzy.source == "fuzzy" and fuzzy.confidence < 1


def test_titles_not_matched_when_words_explain_better(vocab):
    """The sample has films titled "Up", "The Birds", "Frozen"; common and genre words
    win over them."""
    assert {"up", "birds", "frozen"} <= set(vocab.titles)
    intent = parse("animated movies for kids", vocab)
    assert labels(intent.include) == ["Animation", "Family"] and not intent.like
    assert not parse("something to cheer me up", vocab).like
    assert not parse("war movies", vocab).like
    assert not parse("a scary movie about birds", vocab).like
    assert not parse("frozen lakes and mountains", vocab).like
    # but a title named on its own is a title, unless it is a genre word
    assert [m.label for m in parse("Heat", vocab).like] == ["Heat"]
    assert [m.label for m in parse("Up", vocab).like] == ["Up"]


def test_kids_is_a_genre_word_unless_named_as_a_title():
    """ML-100K has a movie titled *Kids* (1995): "movies for kids" means Children's."""
    import numpy as np

    from kgrec.graph import KnowledgeGraph
    from kgrec.serve.intent import Vocabulary

    kg = KnowledgeGraph({"user": [], "movie": ["movie:1", "movie:2"], "genre": ["genre:Children's"]},
                        {("movie", "has_genre", "genre"): np.array([[1], [0]])},
                        {"movie:1": "Kids", "movie:2": "Toy Story", "genre:Children's": "Children's"})
    v = Vocabulary(kg, {"1": 1995, "2": 1995})
    for text in ("animated movies for kids", "movies for Kids", "Kids"):
        intent = parse(text, v)
        assert not intent.like and [m.label for m in intent.include] == ["Children's"], text
    assert [m.label for m in parse("something like Kids", v).like] == ["Kids"]


def test_intent_is_typed_and_readable(vocab):
    intent = parse("a funny movie but not animated, before 1990, like Heat", vocab)
    assert isinstance(intent, QueryIntent)
    with pytest.raises(AttributeError):
        intent.text = "x"  # frozen
    d = intent.to_dict()
    assert d["include"][0]["label"] == "Comedy" and d["exclude"][0]["label"] == "Animation"
    assert d["years"][0]["max_year"] == 1989 and d["like"][0]["label"] == "Heat"
    assert "Comedy" in repr(intent) and "-Animation" in repr(intent)
    with pytest.raises(TypeError, match="string"):
        parse(None, vocab)  # type: ignore[arg-type]


def test_encoder_paraphrase(sample_kg, sample_dataset):
    """A paraphrase in no lexicon reaches its genre through the encoder; a non-genre
    word does not."""
    from kgrec.serve.intent import Vocabulary
    from kgrec.text import TextConfig, TextEncoder

    enc = TextEncoder(TextConfig(show_progress=False))
    v = Vocabulary.from_graph(sample_kg, sample_dataset.items,
                              encode=lambda xs: enc.encode(xs).numpy())
    hit = parse("a haunted house", v).include
    assert [(m.label, m.source) for m in hit] == [("Horror", "encoder")]
    assert not parse("an underrated one", v).include
