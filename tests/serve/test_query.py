"""QueryParser: entity matching in free text and title resolution."""

import pytest

from kgrec.graph import KnowledgeGraph
from kgrec.serve.query import QueryParser, normalize


@pytest.fixture(scope="module")
def parser(sample_dataset):
    return QueryParser(KnowledgeGraph.from_dataset(sample_dataset))


def test_parse_people_genres_movies_decades(parser):
    q = parser.parse("a 90s crime film like Pulp Fiction with Robert De Niro")
    assert parser.kg.labels[q.movies[0]] == "Pulp Fiction"
    assert "genre:Crime" in q.genres
    assert [parser.kg.labels[p] for p in q.people] == ["Robert De Niro"]
    assert q.decades == [1990]
    assert parser.parse("westerns from the 1960s and 2010s").decades == [1960, 2010]


def test_resolve_title_variants_and_errors(parser):
    assert parser.kg.labels[parser.resolve_title("the godfather")[0]] == "The Godfather"
    assert len(parser.resolve_title("Cape Fear")) == 2  # two films share the title
    with pytest.raises(KeyError, match="did you mean 'Casablanca'"):
        parser.resolve_title("Casablanka")
    with pytest.raises(KeyError, match="unknown title 'zzzz qqqq'$|unknown title 'zzzz qqqq'\"$"):
        parser.resolve_title("zzzz qqqq")


def test_normalize():
    assert normalize("Amélie: Le Fabuleux") == "amelie le fabuleux"
