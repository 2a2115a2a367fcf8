"""Catalog: per-movie fields and the movie → entity links, checked against the graph."""

import numpy as np


def _edges_to(kg, entity):
    kind = entity.partition(":")[0]
    e = kg.index(entity)
    return {(rel, int(m)) for (src, rel, dst), index in kg.edges.items()
            if src == "movie" and dst == kind for m in index[0][index[1] == e]}


def test_links_agree_with_the_graph(kg, catalog):
    tarantino = next(e for e in kg.nodes["person"] if kg.labels.get(e) == "Quentin Tarantino")
    edges = _edges_to(kg, tarantino)
    assert set(catalog.movies_of(tarantino).tolist()) == {m for _, m in edges}
    movie = min(m for _, m in edges)
    relation, count = catalog.link(movie, tarantino)
    assert (relation, movie) in edges
    assert count == sum(1 for r, _ in edges if r == relation)
    unrelated = next(m for m in range(kg.num_items) if m not in {m for _, m in edges})
    assert catalog.link(unrelated, tarantino) is None
    assert catalog.movies_of("person:nobody at all").size == 0


def test_genres_years_and_titles(sample_dataset, kg, catalog):
    crime = catalog.genre_movies("genre:Crime")
    assert set(crime.tolist()) == {m for r, m in _edges_to(kg, "genre:Crime") if r == "has_genre"}
    assert "genre:Crime" in catalog.genres
    items = sample_dataset.items.set_index("item_id")
    first = kg.item_ids[0]
    assert catalog.titles[0] == items.at[first, "title"] and catalog.item_ids[0] == first
    year = items.at[first, "year"]
    assert catalog.year(0) == (None if np.isnan(year) else int(year))
    nineties = catalog.decade_mask([1990]).numpy()
    assert np.array_equal(nineties, (catalog.years >= 1990) & (catalog.years < 2000))


def test_entity_matrix_is_the_graphs(kg, catalog):
    relations = ("directed_by", "has_genre")
    expected, _ = kg.item_entity_matrix(relations)
    got = catalog.entity_matrix(relations)
    assert got.shape == expected.shape and (got != expected).nnz == 0
