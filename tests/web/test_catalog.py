"""The catalogue behind title completion and display names, on the sample model."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def catalog(web_rec):
    from kgrec.web.catalog import Catalog

    return Catalog(web_rec)


def test_movies_have_titles_years_and_genres(catalog, web_rec):
    items = web_rec.dataset_.items.set_index("item_id")
    assert set(catalog.movies) == set(items.index)
    pulp = next(m for m in catalog.movies.values() if m.title == "Pulp Fiction")
    assert pulp.year == 1994 and pulp.genres == ("Crime", "Drama")


def test_search_ignores_case_and_accents_and_ranks_prefixes_first(catalog):
    assert [m.title for m in catalog.search("PULP", 5)] == ["Pulp Fiction"]
    hits = catalog.search("bill", 10)
    assert {"Kill Bill: Vol. 1", "Kill Bill: Vol. 2"} <= {m.title for m in hits}
    assert [m.title for m in catalog.search("the g", 3)][0].lower().startswith("the g")
    assert len(catalog.search("", 7)) == 7
    popularity = [m.popularity for m in catalog.search("", 20)]
    assert popularity == sorted(popularity, reverse=True)


def test_labels_and_find(catalog):
    assert catalog.label("genre:Crime") == "Crime"
    assert catalog.label("user:u7") == "user u7"
    pulp = catalog.search("Pulp Fiction", 1)[0]
    assert catalog.find("pulp fiction") == catalog.find(f"movie:{pulp.item_id}") == pulp.item_id
    assert catalog.find("no such film") == "no such film"
