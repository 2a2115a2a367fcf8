"""RDF view: vocabulary, triple counts, Turtle round trip, SPARQL helpers."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from rdflib import Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import RDF, RDFS

from kgrec.data import MovieDataset
from kgrec.graph import KnowledgeGraph
from kgrec.graph.rdf import (
    KG,
    SDO,
    entity_uri,
    load_turtle,
    movies_sharing,
    open_store,
    rdf_view,
    relation_uri,
    save_turtle,
    sparql,
    to_rdf,
    triple_count,
    type_class,
    uri_entity,
    uri_relation,
    write_turtle,
)

AWKWARD = 'Ünïcode "quoted" \\ back\nslash'


@pytest.fixture(scope="module")
def dataset() -> MovieDataset:
    """Seeded toy data with directors, actors, genres, a tag, a language, an unknown relation
    and an entity type without a schema.org class, plus awkward keys and labels."""
    rng = np.random.default_rng(7)
    n = 30
    items = pd.DataFrame({"item_id": [str(i) for i in range(1, n + 1)],
                          "title": [f"Title {i}" for i in range(1, n + 1)], "year": 1999,
                          "text": ""})
    items.loc[4, "title"] = AWKWARD
    people = [f"person:Name {j}" for j in range(12)] + ["person:AC/DC: the band"]
    rows = [("movie:1", "has_tag", "tag:feel good"), ("movie:2", "in_language", "language:fr"),
            ("movie:3", "filmed_in", "location:Paris, France"),
            ("movie:4", "from_country", "country:FR")]
    for i in range(1, n + 1):
        rows.append((f"movie:{i}", "directed_by", people[int(rng.integers(0, 5))]))
        rows += [(f"movie:{i}", "starring", p) for p in rng.choice(people[3:], 3, replace=False)]
        rows.append((f"movie:{i}", "has_genre", f"genre:G{int(rng.integers(0, 4))}"))
    triples = pd.DataFrame(rows, columns=["head", "relation", "tail"])
    ratings = pd.DataFrame([(str(u), str(m), 4.0, 0) for u in range(6)
                            for m in rng.choice(np.arange(1, n + 1), 5, replace=False)],
                           columns=["user_id", "item_id", "rating", "timestamp"])
    labels = {p: p.partition(":")[2] for p in people[:8]}
    labels["person:AC/DC: the band"] = AWKWARD
    return MovieDataset("rdf", items, ratings, triples, labels)


@pytest.fixture(scope="module")
def kg(dataset: MovieDataset) -> KnowledgeGraph:
    return KnowledgeGraph.from_dataset(dataset)


@pytest.fixture(scope="module")
def graph(kg: KnowledgeGraph):
    return to_rdf(kg)


# -- vocabulary ----------------------------------------------------------------------------
def test_entity_uris() -> None:
    assert entity_uri("movie:1") == URIRef("https://kgrec.dev/entity/movie/1")
    assert entity_uri("person:Quentin Tarantino") == KG["entity/person/Quentin%20Tarantino"]
    assert entity_uri("person:AC/DC") == URIRef("https://kgrec.dev/entity/person/AC%2FDC")
    for e in ["movie:1", "person:AC/DC: the band", "tag:a:b", "genre:Sci-Fi", "person:Zoë %20"]:
        assert uri_entity(entity_uri(e)) == e
    with pytest.raises(ValueError, match="type prefix"):
        entity_uri("no-prefix")
    with pytest.raises(ValueError, match="not a kgrec entity URI"):
        uri_entity("https://schema.org/Movie")


def test_relation_uris() -> None:
    assert relation_uri("directed_by") == URIRef("https://schema.org/director")
    assert relation_uri("starring") == SDO.actor
    assert relation_uri("has_genre") == SDO.genre
    assert relation_uri("from_country") == SDO.countryOfOrigin
    assert relation_uri("written_by") == SDO.author
    assert relation_uri("produced_by") == SDO.producer
    assert relation_uri("in_language") == SDO.inLanguage
    assert relation_uri("has_tag") == SDO.keywords
    assert relation_uri("rated") == URIRef("https://kgrec.dev/rated")
    assert relation_uri("filmed in") == URIRef("https://kgrec.dev/relation/filmed%20in")
    for r in ["directed_by", "rated", "filmed in", "a/b"]:
        assert uri_relation(relation_uri(r)) == r
    with pytest.raises(ValueError):
        uri_relation(SDO.Movie)


def test_type_classes() -> None:
    assert type_class("movie") == SDO.Movie and type_class("person") == SDO.Person
    assert type_class("genre") == KG.Genre and type_class("user") == KG.User
    assert type_class("country") == SDO.Country and type_class("tag") == KG.Tag
    assert type_class("language") == SDO.Language and type_class("location") == KG.Entity


# -- export --------------------------------------------------------------------------------
def test_triple_counts_per_predicate(kg: KnowledgeGraph, graph) -> None:
    stats = kg.stats()
    per_predicate = Counter(p for _, p, _ in graph)
    expected = Counter()
    for (_, rel, _), n in stats.edges.items():
        expected[relation_uri(rel)] += n
    labelled = sum(e in kg.labels for ids in kg.nodes.values() for e in ids)
    expected[RDF.type] = sum(stats.nodes.values())
    expected[RDFS.label] = labelled
    assert per_predicate == expected
    assert len(graph) == sum(stats.nodes.values()) + labelled + sum(stats.edges.values())
    classes = Counter(o for _, _, o in graph.triples((None, RDF.type, None)))
    assert classes == Counter({type_class(k): n for k, n in stats.nodes.items()})


def test_edges_and_labels_are_the_triples(dataset: MovieDataset, graph) -> None:
    for h, r, t in dataset.triples.itertuples(index=False, name=None):
        assert (entity_uri(h), relation_uri(r), entity_uri(t)) in graph
    assert (entity_uri("movie:5"), RDFS.label, Literal(AWKWARD)) in graph
    assert graph.value(entity_uri("person:Name 9"), RDFS.label) is None
    assert graph.value(entity_uri("location:Paris, France"), RDF.type) == KG.Entity


def test_turtle_round_trip(graph, tmp_path) -> None:
    path = save_turtle(graph, tmp_path / "out" / "graph.ttl")
    text = path.read_text(encoding="utf-8")
    assert "@prefix schema: <https://schema.org/> ." in text
    assert "movie:1 a schema:Movie" in text
    loaded = load_turtle(path)
    assert len(loaded) == len(graph)
    assert isomorphic(loaded, graph)
    save_turtle(loaded, tmp_path / "again.ttl")  # deterministic: same graph, same bytes
    assert (tmp_path / "again.ttl").read_bytes() == path.read_bytes()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["graph.ttl"]


def test_load_turtle_errors_name_the_file(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="missing.ttl"):
        load_turtle(tmp_path / "missing.ttl")
    bad = tmp_path / "bad.ttl"
    bad.write_text("<a> <b> .\n")
    with pytest.raises(ValueError, match="bad.ttl"):
        load_turtle(bad)


# -- SPARQL --------------------------------------------------------------------------------
def test_sparql_returns_ids_and_binds_entities(dataset: MovieDataset, graph) -> None:
    rows = sparql(graph, "SELECT ?p ?name WHERE { ?m schema:director ?p . "
                         "OPTIONAL { ?p rdfs:label ?name } }", m="movie:1")
    director = dataset.triples.query("head == 'movie:1' and relation == 'directed_by'")["tail"]
    assert [r["p"] for r in rows] == list(director)
    assert rows[0].get("name") == dataset.labels.get(director.iloc[0])
    rows = sparql(graph, "SELECT ?m ?r WHERE { ?m ?r ?g }", g="genre:G0")
    assert rows and all(r["r"] == "has_genre" and r["m"].startswith("movie:") for r in rows)
    rows = sparql(graph, "SELECT ?e WHERE { ?e rdfs:label ?l }", l=Literal(AWKWARD))
    assert sorted(r["e"] for r in rows) == ["movie:5", "person:AC/DC: the band"]
    with pytest.raises(ValueError, match="SELECT"):
        sparql(graph, "ASK { ?s ?p ?o }")
    with pytest.raises(ValueError, match="syntax"):
        sparql(graph, "SELEKT ?x WHERE { }")
    with pytest.raises(ValueError, match="entity id"):
        sparql(graph, "SELECT ?x WHERE { ?x ?p ?o }", o="not an id")


def expected_sharing(dataset: MovieDataset, movie: str, relations) -> list[tuple[str, str, str]]:
    t = dataset.triples.drop_duplicates()
    t = t[t["relation"].isin(relations)]
    pairs = t.merge(t, on=["relation", "tail"], suffixes=("", "_other"))
    pairs = pairs[(pairs["head"] == movie) & (pairs["head_other"] != movie)]
    return sorted(set(zip(pairs["head_other"], pairs["relation"], pairs["tail"])))


def test_movies_sharing_matches_pandas(dataset: MovieDataset, kg: KnowledgeGraph, graph) -> None:
    nonempty = 0
    for movie in kg.nodes["movie"]:
        got = movies_sharing(graph, movie)
        assert got == expected_sharing(dataset, movie, ("directed_by", "starring"))
        nonempty += bool(got)
        assert movies_sharing(graph, movie, ["directed_by"]) == expected_sharing(
            dataset, movie, ("directed_by",))
    assert nonempty > 20
    assert movies_sharing(graph, "movie:1", ()) == []
    with pytest.raises(KeyError, match="movie:999"):
        movies_sharing(graph, "movie:999")


def test_movies_sharing_on_loaded_turtle(dataset: MovieDataset, graph, tmp_path) -> None:
    loaded = load_turtle(save_turtle(graph, tmp_path / "g.ttl"))
    assert movies_sharing(loaded, "movie:7") == expected_sharing(
        dataset, "movie:7", ("directed_by", "starring"))


# -- large graphs: streamed Turtle, on-disk pyoxigraph store ---------------------------------
def test_streamed_turtle_is_the_in_memory_graph(kg: KnowledgeGraph, graph, tmp_path) -> None:
    path = write_turtle(kg, tmp_path / "streamed.ttl")
    assert isomorphic(load_turtle(path), graph)
    assert len(load_turtle(path)) == triple_count(kg) == len(graph)


def test_streamed_turtle_of_the_sample(sample_dataset, tmp_path) -> None:
    kg = KnowledgeGraph.from_dataset(sample_dataset)
    streamed = load_turtle(write_turtle(kg, tmp_path / "sample.ttl"))
    assert isomorphic(streamed, to_rdf(kg))


def test_sparql_on_the_oxigraph_store_matches_rdflib(dataset: MovieDataset, kg: KnowledgeGraph,
                                                     graph, tmp_path) -> None:
    pytest.importorskip("pyoxigraph")
    store = open_store(kg, tmp_path / "ox")
    assert len(store) == len(graph)
    queries = [("SELECT ?p ?name WHERE { ?m schema:director ?p . OPTIONAL { ?p rdfs:label ?name } }",
                {"m": "movie:1"}),
               ("SELECT ?m ?r WHERE { ?m ?r ?g }", {"g": "genre:G0"}),
               ("SELECT ?e WHERE { ?e rdfs:label ?l }", {"l": Literal(AWKWARD)})]
    for query, bindings in queries:
        key = lambda rows: sorted(tuple(sorted(r.items())) for r in rows)  # noqa: E731
        assert key(sparql(store, query, **bindings)) == key(sparql(graph, query, **bindings))
    for movie in kg.nodes["movie"][:10]:
        assert movies_sharing(store, movie) == movies_sharing(graph, movie)
    with pytest.raises(KeyError, match="movie:999"):
        movies_sharing(store, "movie:999")
    with pytest.raises(ValueError, match="syntax"):
        sparql(store, "SELEKT ?x WHERE { }")
    del store
    reopened = open_store(kg, tmp_path / "ox")  # an existing store is reused as it is
    assert len(reopened) == len(graph)


def test_rdf_view_switches_to_the_store_above_the_size(kg: KnowledgeGraph, tmp_path) -> None:
    pytest.importorskip("pyoxigraph")
    assert type(rdf_view(kg)).__name__ == "Graph"
    with pytest.raises(ValueError, match="store_folder"):
        rdf_view(kg, max_rdflib_triples=10)
    store = rdf_view(kg, tmp_path / "big", max_rdflib_triples=10)
    assert type(store).__module__.startswith("pyoxigraph") and len(store) == triple_count(kg)
