"""Filters: one string is one value, types and ranges checked, errors name the key."""

import pytest
import torch

from kgrec.serve.filters import Filters


def test_parse_single_strings_and_lists(catalog):
    assert Filters.parse({"genres": "Crime"}, catalog).genres == ("genre:Crime",)
    assert Filters.parse({"genres": ["Crime", "genre:Western"]}, catalog).genres == (
        "genre:Crime", "genre:Western")
    item = catalog.item_ids[3]
    assert Filters.parse({"exclude": item}, catalog).exclude == (item,)
    assert Filters.parse({"exclude": [int(item)]}, catalog).exclude == (item,)
    assert Filters.parse({"min_year": 1990.0}, catalog).min_year == 1990
    assert not Filters.parse(None, catalog) and not Filters.parse({}, catalog)


@pytest.mark.parametrize("filters, error, match", [
    ({"colour": "red"}, ValueError, "unknown filters \\['colour'\\]"),
    ({"genres": "C"}, KeyError, "filters\\['genres'\\]: unknown genre 'C'"),
    ({"genres": [["Crime"]]}, TypeError, "filters\\['genres'\\]\\[0\\] must be a string"),
    ({"genres": 7}, TypeError, "filters\\['genres'\\] must be a string or a list"),
    ({"exclude": "no-such-id"}, KeyError, "unknown item id 'no-such-id'"),
    ({"min_year": "1990"}, TypeError, "filters\\['min_year'\\] must be an integer year"),
    ({"max_year": 1990.5}, ValueError, "filters\\['max_year'\\] must be an integer year"),
    ({"max_year": float("inf")}, ValueError, "max_year"),
    ({"min_year": True}, TypeError, "min_year"),
    ({"min_year": 2001, "max_year": 2000}, ValueError, "after max_year"),
    (["genres"], TypeError, "filters must be a dict"),
])
def test_bad_filters_are_refused_naming_the_key(catalog, filters, error, match):
    with pytest.raises(error, match=match):
        Filters.parse(filters, catalog)


def test_apply_drops_exactly_the_filtered_movies(catalog):
    n = catalog.num_items
    item = catalog.item_ids[0]
    f = Filters.parse({"genres": "Crime", "min_year": 1990, "max_year": 1999,
                       "exclude": item}, catalog)
    scores = torch.zeros(n)
    f.apply(scores, catalog)
    crime = set(catalog.genre_movies("genre:Crime").tolist())
    expected = {i for i in range(n) if i in crime and 1990 <= catalog.years[i] <= 1999} - {0}
    assert {i for i in range(n) if scores[i] > -torch.inf} == expected
    batch = torch.zeros(2, n)
    f.apply(batch, catalog)
    assert torch.equal(batch[0], scores) and torch.equal(batch[1], scores)
