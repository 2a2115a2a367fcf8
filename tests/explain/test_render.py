"""Sentences of explanations: real titles and names, role phrasing for unlabeled
entities, markdown flag."""

from __future__ import annotations

import pandas as pd
import pytest

from kgrec.data import MovieDataset
from kgrec.explain import Explanation, PathExplainer, PathStep, display_name, render, role_noun
from kgrec.graph import KnowledgeGraph

TITLES = {"1": "Pulp Fiction", "2": "Reservoir Dogs", "3": "Heat", "4": "Casino",
          "5": "Goodfellas", "6": "Desperado", "7": "Toy Story", "8": "Toy Story 2",
          "9": "Jackie Brown", "11": "Cars"}


@pytest.fixture(scope="module")
def kg() -> KnowledgeGraph:
    items = pd.DataFrame({"item_id": list(TITLES), "title": list(TITLES.values()),
                          "year": 1995, "text": ""})
    triples = [("movie:1", "directed_by", "person:Quentin Tarantino"),
               ("movie:2", "directed_by", "person:Quentin Tarantino"),
               ("movie:6", "starring", "person:Quentin Tarantino"),
               ("movie:1", "starring", "person:Harvey Keitel"),
               ("movie:2", "starring", "person:Harvey Keitel"),
               ("movie:3", "starring", "person:m.0abc"), ("movie:4", "starring", "person:m.0abc"),
               ("movie:3", "award_nomination", "entity:m.0aw"),
               ("movie:5", "award_nomination", "entity:m.0aw"),
               ("movie:3", "directed_by", "person:m.0dir"),
               ("movie:9", "starring", "person:m.0dir"),
               ("movie:4", "from_country", "country:USA"),
               ("movie:5", "from_country", "country:USA"),
               ("movie:7", "sequel", "movie:8"),
               ("movie:8", "directed_by", "person:John Lasseter"),
               ("movie:11", "directed_by", "person:John Lasseter")]
    triples += [(f"movie:{m}", "has_genre", "genre:Crime") for m in range(1, 6)]
    ratings = [("u1", "1", 5), ("u1", "3", 4), ("u2", "1", 5), ("u2", "2", 5), ("u2", "3", 3),
               ("u3", "3", 5), ("u3", "4", 4), ("u4", "7", 5), ("u5", "1", 4), ("u5", "2", 4),
               ("u6", "8", 5), ("u7", "5", 5)]
    data = MovieDataset(
        "render", items,
        pd.DataFrame(ratings, columns=["user_id", "item_id", "rating"]).assign(timestamp=0),
        pd.DataFrame(triples, columns=["head", "relation", "tail"]),
        labels={"person:Quentin Tarantino": "Quentin Tarantino",
                "person:Harvey Keitel": "Harvey Keitel", "genre:Crime": "Crime",
                "person:John Lasseter": "John Lasseter"})
    return KnowledgeGraph.from_dataset(data)


@pytest.fixture(scope="module")
def explainer(kg) -> PathExplainer:
    return PathExplainer(kg, liked=None)


def texts(explainer, user, item) -> set[str]:
    return {e.text for e in explainer.explain(user, item, k=None)}


def test_content_sentences_name_the_shared_entity(explainer):
    sentences = texts(explainer, "u1", "2")
    assert ("Reservoir Dogs: you liked Pulp Fiction, also directed by Quentin Tarantino."
            in sentences)
    assert "Reservoir Dogs: you liked Pulp Fiction, also starring Harvey Keitel." in sentences
    assert "Reservoir Dogs: another Crime film like Pulp Fiction, which you liked." in sentences
    assert "Casino: you liked Goodfellas, also from USA." in texts(explainer, "u7", "4")


def test_unlabeled_entities_are_named_by_their_role(explainer):
    assert "Casino: shares a cast member with Heat, which you liked." in texts(explainer, "u1", "4")
    assert ("Goodfellas: shares an award nomination with Heat, which you liked."
            in texts(explainer, "u1", "5"))
    # a Freebase mid never leaks into a sentence
    for item in TITLES:
        for sentence in texts(explainer, "u1", item):
            assert "m.0" not in sentence


def test_collaborative_sentence_merges_the_best_anchors(explainer):
    [collab] = [e for e in explainer.explain("u1", "2") if e.kind == "collaborative"]
    assert collab.text == ("Reservoir Dogs: people who liked Pulp Fiction and Heat also liked "
                           "it (2 viewers).")
    single = [e for e in explainer.explain("u1", "2", k=None) if e.anchor == "movie:3"
              and e.kind == "collaborative"]
    assert single[0].text == "Reservoir Dogs: people who liked Heat also liked it (1 viewer)."


def test_kg_path_sentences(explainer):
    [desperado] = explainer.explain("u1", "6", k=1)
    assert desperado.text == ("Desperado: you liked Pulp Fiction, directed by Quentin "
                              "Tarantino, who also stars in it.")
    [cars] = explainer.explain("u4", "11", k=1)
    assert cars.text == ("Cars: you liked Toy Story, whose sequel is Toy Story 2, directed by "
                         "John Lasseter, who also directed it.")
    # the shared person has no label: "whose director also stars in it"
    [jackie] = explainer.explain("u1", "9", k=1)
    assert jackie.text == "Jackie Brown: you liked Heat, whose director also stars in it."


def test_direct_link_sentences(explainer):
    assert "Toy Story 2: the sequel of Toy Story, which you liked." in texts(explainer, "u4", "8")
    assert "Toy Story: you liked Toy Story 2, its sequel." in texts(explainer, "u6", "7")


def test_markdown_italicises_titles_only(explainer, kg):
    e = [x for x in explainer.explain("u1", "2", k=None) if x.relation == "directed_by"][0]
    assert render(kg, e, markdown=True) == (
        "*Reservoir Dogs*: you liked *Pulp Fiction*, also directed by Quentin Tarantino.")
    assert explainer.render(e) == e.text and "*" not in e.text


def test_other_relations_with_labels_are_humanised(kg):
    e = Explanation("user:u1", "movie:5", "content",
                    (PathStep("user:u1", "rated", "movie:3"),
                     PathStep("movie:3", "award_nomination", "entity:oscar"),
                     PathStep("movie:5", "award_nomination", "entity:oscar", False)),
                    "movie:3", "entity:oscar", 0.5, "")
    kg.labels["entity:oscar"] = "Academy Award for Best Picture"
    try:
        assert render(kg, e) == ("Goodfellas: shares the award nomination Academy Award for "
                                 "Best Picture with Heat, which you liked.")
    finally:
        del kg.labels["entity:oscar"]


def test_role_nouns_and_display_names(kg):
    assert role_noun("directed_by") == "director"
    assert role_noun("starring") == "cast member"
    assert role_noun("award_nomination") == "award nomination"
    assert role_noun("film.film.award_nomination") == "award nomination"
    assert role_noun("film.director.film") == "director"
    assert role_noun("film.film_genre.films_in_this_genre") == "genre"
    assert role_noun("film.film.production_companies") == "production company"
    assert role_noun("has_soundtracks") == "soundtrack"
    assert display_name(kg, "person:m.0abc") is None
    assert display_name(kg, "entity:m.0aw") is None
    assert display_name(kg, "country:USA") == "USA"
    assert display_name(kg, "movie:1") == "Pulp Fiction"
    assert display_name(kg, "movie:1", markdown=True) == "*Pulp Fiction*"


def test_unknown_kind_is_an_error(kg):
    e = Explanation("user:u1", "movie:2", "magic", (), None, None, 0.0, "")
    with pytest.raises(ValueError, match="magic"):
        render(kg, e)
