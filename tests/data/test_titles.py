"""Title matching across MovieLens releases (kgrec.data.titles)."""

from __future__ import annotations

from kgrec.data.titles import match_titles, normalise_title, title_keys


def test_article_at_end_matches_article_in_front():
    assert normalise_title("Godfather, The") == normalise_title("The Godfather")
    m = match_titles([("a", "Godfather, The", 1972)], [("858", "The Godfather", 1972)])
    assert m.mapping == {"a": "858"}


def test_accents_and_superscripts_fold():
    assert normalise_title("Cité des enfants perdus, La") == "la cite des enfants perdus"
    m = match_titles([("1", "Alien 3", 1992)], [("1320", "Alien³", 1992)])
    assert m.mapping == {"1": "1320"}


def test_alternate_titles_in_parentheses():
    target = [("2952", "Hard 8 (a.k.a. Sydney, a.k.a. Hard Eight)", 1996),
              ("2019", "Seven Samurai (The Magnificent Seven) (Shichinin no samurai)", 1954),
              ("1", "Star Wars: Episode IV - A New Hope", 1977),
              ("2", "Star Wars: Episode I - The Phantom Menace", 1999)]
    source = [("h", "Hard Eight", 1996), ("m", "Magnificent Seven, The", 1954),
              ("s", "Star Wars", 1977), ("d", "Double vie de Véronique, La (Double Life of "
                                               "Veronique, The)", 1991)]
    m = match_titles(source, target)
    assert m.mapping == {"h": "2952", "m": "2019", "s": "1"}
    assert m.unmatched == ["d"]
    assert "hard eight" in set().union(*title_keys("Hard 8 (a.k.a. Sydney, a.k.a. Hard Eight)"))


def test_year_off_by_one_only_when_unambiguous():
    target = [("1", "Howling, The", 1980), ("2", "Sabrina", 1954), ("3", "Sabrina", 1995)]
    m = match_titles([("a", "Howling, The", 1981), ("b", "Sabrina", 1955),
                      ("c", "Sabrina", 1995), ("d", "Howling, The", 1983)], target)
    assert m.mapping == {"a": "1", "b": "2", "c": "3"}
    assert m.near_year == ["a", "b"] and m.unmatched == ["d"]


def test_two_candidates_are_never_guessed():
    target = [("1", "Boys, Les", 1997), ("2", "Boys, The", 1997), ("3", "Twin", 1990),
              ("4", "Twin", 1990)]
    m = match_titles([("a", "Boys, Les", 1997), ("b", "Twin", 1990)], target)
    assert m.mapping == {"a": "1"}            # the article keeps "Les Boys" apart
    assert m.ambiguous == {"b": ["3", "4"]}   # two films with one title and year


def test_a_film_listed_twice_maps_both_copies_to_one_film():
    m = match_titles([("246", "Chasing Amy", 1997), ("268", "Chasing Amy", 1997)],
                     [("1639", "Chasing Amy", 1997)])
    assert m.mapping == {"246": "1639", "268": "1639"}
