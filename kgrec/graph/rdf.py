"""RDF view of a :class:`~kgrec.graph.KnowledgeGraph`: vocabulary, Turtle, SPARQL.

The vocabulary is public and fixed (SPARQL queries elsewhere are written against it):

* entities: ``kg:entity/<type>/<key>`` with ``KG = https://kgrec.dev/`` and ``<key>``
  percent-encoded (:func:`entity_uri` / :func:`uri_entity`), e.g. ``movie:1`` ↔
  ``<https://kgrec.dev/entity/movie/1>``, ``person:Quentin Tarantino`` ↔
  ``<https://kgrec.dev/entity/person/Quentin%20Tarantino>``;
* classes (``rdf:type``): movie → ``schema:Movie``, person → ``schema:Person``, genre →
  ``kg:Genre``, user → ``kg:User``, country → ``schema:Country``, tag → ``kg:Tag``,
  language → ``schema:Language``, any other type → ``kg:Entity`` (:data:`TYPE_CLASSES`);
* labels: ``rdfs:label`` plain literals, for entities that have one;
* relations (:func:`relation_uri` / :func:`uri_relation`): directed_by →
  ``schema:director``, starring → ``schema:actor``, has_genre → ``schema:genre``,
  from_country → ``schema:countryOfOrigin``, written_by → ``schema:author``, produced_by →
  ``schema:producer``, in_language → ``schema:inLanguage``, has_tag → ``schema:keywords``,
  rated → ``kg:rated``, any other relation ``r`` → ``kg:relation/<r>`` (percent-encoded).
  One triple per knowledge-graph edge, in the graph's direction (movie → person, user →
  movie); rating values are not stored in RDF.

``schema:`` is ``https://schema.org/``. Prefixes for SPARQL: :data:`PREFIXES` (passed to
every :func:`sparql` query) or the text :data:`SPARQL_PREFIXES`.

Large graphs: :func:`write_turtle` streams the same triples to a Turtle file without an
rdflib graph, and :func:`open_store` loads them into an on-disk pyoxigraph store
(SPARQL 1.1 in Rust); :func:`rdf_view` picks rdflib up to :data:`MAX_RDFLIB_TRIPLES`
triples and the store above. :func:`sparql` runs on either.

This module imports rdflib at top level (pyoxigraph lazily); it is itself imported lazily
(by ``KnowledgeGraph.to_rdf`` and by callers that query RDF).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import RDF, RDFS, XSD
from rdflib.term import Node

from kgrec.data.dataset import entity_key, entity_type
from kgrec.io import atomic_write

if TYPE_CHECKING:
    from kgrec.graph.knowledge_graph import KnowledgeGraph

KG = Namespace("https://kgrec.dev/")
SDO = Namespace("https://schema.org/")

ENTITY_BASE = str(KG) + "entity/"
RELATION_BASE = str(KG) + "relation/"

#: ``rdf:type`` of each node type; other types get :data:`DEFAULT_CLASS`.
TYPE_CLASSES: dict[str, URIRef] = {
    "movie": SDO["Movie"],
    "person": SDO["Person"],
    "genre": KG["Genre"],
    "user": KG["User"],
    "country": SDO["Country"],
    "tag": KG["Tag"],
    "language": SDO["Language"],
}
DEFAULT_CLASS: URIRef = KG["Entity"]

#: Predicate of each known relation; others map to ``kg:relation/<relation>``.
RELATION_URIS: dict[str, URIRef] = {
    "directed_by": SDO["director"],
    "starring": SDO["actor"],
    "has_genre": SDO["genre"],
    "from_country": SDO["countryOfOrigin"],
    "written_by": SDO["author"],
    "produced_by": SDO["producer"],
    "in_language": SDO["inLanguage"],
    "has_tag": SDO["keywords"],
    "rated": KG["rated"],
}
_URI_RELATIONS: dict[URIRef, str] = {uri: rel for rel, uri in RELATION_URIS.items()}

#: Namespaces available to every :func:`sparql` query.
PREFIXES: dict[str, Namespace] = {"kg": KG, "schema": SDO, "rdf": Namespace(str(RDF)),
                                  "rdfs": Namespace(str(RDFS)), "xsd": Namespace(str(XSD))}
#: The same prefixes as SPARQL ``PREFIX`` lines, for queries run elsewhere.
SPARQL_PREFIXES = "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in PREFIXES.items())


# -- vocabulary ----------------------------------------------------------------------------
def entity_uri(entity_id: str) -> URIRef:
    """URI of an entity id: ``"person:Quentin Tarantino"`` →
    ``<https://kgrec.dev/entity/person/Quentin%20Tarantino>``.

    The key is percent-encoded with ``urllib.parse.quote(key, safe="")`` (so ``/``, spaces
    and non-ASCII characters are escaped). ``ValueError`` if the id has no type prefix.
    """
    kind = entity_type(entity_id)
    return URIRef(f"{ENTITY_BASE}{quote(kind, safe='')}/{quote(entity_key(entity_id), safe='')}")


def uri_entity(uri: str) -> str:
    """Entity id of an entity URI, the inverse of :func:`entity_uri`."""
    text = str(uri)
    kind, sep, key = text[len(ENTITY_BASE):].partition("/")
    if not text.startswith(ENTITY_BASE) or not sep or not kind:
        raise ValueError(f"{text!r} is not a kgrec entity URI (expected {ENTITY_BASE}<type>/<key>)")
    return f"{unquote(kind)}:{unquote(key)}"


def type_class(kind: str) -> URIRef:
    """``rdf:type`` class of a node type (:data:`TYPE_CLASSES`, else ``kg:Entity``)."""
    return TYPE_CLASSES.get(kind, DEFAULT_CLASS)


def relation_uri(relation: str) -> URIRef:
    """Predicate URI of a relation name: ``"directed_by"`` → ``schema:director``; unknown
    relations → ``kg:relation/<quote(relation)>``."""
    uri = RELATION_URIS.get(relation)
    return uri if uri is not None else URIRef(RELATION_BASE + quote(relation, safe=""))


def uri_relation(uri: str) -> str:
    """Relation name of a predicate URI, the inverse of :func:`relation_uri`."""
    ref = URIRef(str(uri))
    known = _URI_RELATIONS.get(ref)
    if known is not None:
        return known
    if ref.startswith(RELATION_BASE) and len(ref) > len(RELATION_BASE):
        return unquote(ref[len(RELATION_BASE):])
    raise ValueError(f"{str(uri)!r} is not a kgrec relation URI")


# -- export --------------------------------------------------------------------------------
def to_rdf(kg: KnowledgeGraph) -> Graph:
    """Export ``kg`` as an rdflib ``Graph`` in the vocabulary above.

    Triples: per node one ``rdf:type``, per labelled node one ``rdfs:label``, per edge one
    ``(head, relation_uri(relation), tail)``; so
    ``len(graph) == num_nodes + num_labelled_nodes + num_edges``. Prefixes ``kg``,
    ``schema`` and one per node type (``movie:`` = ``kg:entity/movie/``) are bound, which
    makes the Turtle readable. Triples are added in bulk (``Graph.addN``) with one
    ``URIRef`` made per node: about 10 µs per triple.
    """
    graph = Graph(bind_namespaces="core")
    graph.bind("kg", KG)
    graph.bind("schema", SDO)
    taken = {prefix for prefix, _ in graph.namespace_manager.namespaces()}
    for kind in kg.nodes:
        if kind not in taken and _PREFIX_NAME.match(kind):
            graph.bind(kind, Namespace(f"{ENTITY_BASE}{quote(kind, safe='')}/"))
    uris = {kind: [entity_uri(e) for e in ids] for kind, ids in kg.nodes.items()}

    def quads() -> Iterator[tuple[Node, Node, Node, Graph]]:
        labels = kg.labels
        for kind, ids in kg.nodes.items():
            cls = type_class(kind)
            for entity, uri in zip(ids, uris[kind]):
                yield uri, RDF.type, cls, graph
                label = labels.get(entity)
                if label is not None:
                    yield uri, RDFS.label, Literal(str(label)), graph
        for (src, rel, dst), index in kg.edges.items():
            predicate = relation_uri(rel)
            heads, tails = uris[src], uris[dst]
            for h, t in zip(index[0].tolist(), index[1].tolist()):
                yield heads[h], predicate, tails[t], graph

    graph.addN(quads())
    return graph


# -- Turtle --------------------------------------------------------------------------------
# Turtle prefixed names (PN_PREFIX ":" PN_LOCAL), restricted to the ASCII subset we emit.
_PREFIX_NAME = re.compile(r"[A-Za-z](?:[A-Za-z0-9_.-]*[A-Za-z0-9_-])?\Z")
_LOCAL_CHAR = r"(?:[A-Za-z0-9_-]|%[0-9A-Fa-f]{2})"
_LOCAL_NAME = re.compile(
    rf"(?:[A-Za-z0-9_]|%[0-9A-Fa-f]{{2}})(?:(?:{_LOCAL_CHAR}|\.)*{_LOCAL_CHAR})?\Z")


def _turtle_chunks(graph: Graph) -> Iterator[str]:
    """Turtle text of ``graph``: ``@prefix`` lines, then one block per subject (sorted),
    ``rdf:type`` first, predicates and objects sorted, so equal graphs give equal files.

    IRIs under a bound prefix become prefixed names when the rest is a plain local name
    (``movie:1``, ``person:Quentin%20Tarantino``), else ``<full IRI>``; literals use
    rdflib's own N3 escaping.
    """
    namespaces = sorted(((p, str(ns)) for p, ns in graph.namespace_manager.namespaces()
                         if p and _PREFIX_NAME.match(p)), key=lambda pn: -len(pn[1]))
    used: set[str] = set()
    cache: dict[Node, str] = {}

    def text(term: Node) -> str:
        out = cache.get(term)
        if out is None:
            out = term.n3()
            if isinstance(term, URIRef):
                for prefix, ns in namespaces:
                    if term.startswith(ns) and _LOCAL_NAME.match(term, len(ns)):
                        out = f"{prefix}:{term[len(ns):]}"
                        used.add(prefix)
                        break
            elif not isinstance(term, (Literal, BNode)):
                raise ValueError(f"cannot write {term!r} as Turtle (not an IRI, blank node "
                                 f"or literal)")
            cache[term] = out
        return out

    rows = sorted((text(s), 0, "a", text(o)) if p == RDF.type else (text(s), 1, text(p), text(o))
                  for s, p, o in graph)
    yield "".join(f"@prefix {p}: <{ns}> .\n" for p, ns in sorted(namespaces) if p in used)
    last_s = last_p = None
    for s, _, p, o in rows:
        if s != last_s:
            yield (" .\n\n" if last_s is not None else "\n") + f"{s} {p} {o}"
        elif p != last_p:
            yield f" ;\n    {p} {o}"
        else:
            yield f" ,\n        {o}"
        last_s, last_p = s, p
    if last_s is not None:
        yield " .\n"


def save_turtle(graph: Graph, path: str | Path) -> Path:
    """Write ``graph`` to ``path`` as Turtle, atomically (temporary file + rename).

    A streaming writer (sorted, grouped by subject) that is ~10× faster than rdflib's
    pretty serializer on large graphs and deterministic; the file parses back to an
    isomorphic graph with :func:`load_turtle` or any Turtle parser.
    """
    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
            for chunk in _turtle_chunks(graph):
                handle.write(chunk)

    return atomic_write(path, write)


def load_turtle(path: str | Path) -> Graph:
    """Read a Turtle file into a new ``Graph``; errors name the file (and the line, as
    reported by the parser)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: Turtle file not found")
    graph = Graph(bind_namespaces="core")
    try:
        graph.parse(path, format="turtle")
    except Exception as exc:  # rdflib raises BadSyntax and assorted parser errors
        raise ValueError(f"{path}: not valid Turtle: {exc}") from exc
    return graph


# -- streamed Turtle and the on-disk store (large graphs) ---------------------------------
#: Prefixes rdflib binds in a ``Graph(bind_namespaces="core")``, plus ours: node types
#: with these names get no prefix of their own, as in :func:`to_rdf`.
_RESERVED_PREFIXES = frozenset({"xml", "rdf", "rdfs", "xsd", "owl", "kg", "schema"})


def _turtle_string(text: str) -> str:
    """A Turtle ``"..."`` string literal (ECHAR escapes for ``\\ " \\n \\r \\t``)."""
    return '"' + (text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
                  .replace("\r", "\\r").replace("\t", "\\t")) + '"'


def _streamed_turtle(kg: KnowledgeGraph) -> Iterator[str]:
    """Turtle text of ``kg`` in the vocabulary of :func:`to_rdf`, produced node by node
    and edge by edge: one block ``node a Class ; rdfs:label "..." .`` per node, then one
    ``head predicate tail .`` line per edge. Memory: one name string per node."""
    prefixes = {"kg": str(KG), "schema": str(SDO), "rdf": str(RDF), "rdfs": str(RDFS)}
    kind_prefix: dict[str, str] = {}
    for kind in kg.nodes:
        if kind not in _RESERVED_PREFIXES and _PREFIX_NAME.match(kind):
            kind_prefix[kind] = kind
            prefixes[kind] = f"{ENTITY_BASE}{quote(kind, safe='')}/"
    yield "".join(f"@prefix {p}: <{ns}> .\n" for p, ns in sorted(prefixes.items())) + "\n"

    def iri(uri: str) -> str:
        for prefix in ("schema", "kg"):
            ns = prefixes[prefix]
            if uri.startswith(ns) and _LOCAL_NAME.match(uri, len(ns)):
                return f"{prefix}:{uri[len(ns):]}"
        return f"<{uri}>"

    names: dict[str, list[str]] = {}
    for kind, ids in kg.nodes.items():
        prefix = kind_prefix.get(kind)
        column = []
        for entity in ids:
            key = quote(entity_key(entity), safe="")
            column.append(f"{prefix}:{key}" if prefix and _LOCAL_NAME.match(key)
                          else f"<{entity_uri(entity)}>")
        names[kind] = column
    labels = kg.labels
    for kind, ids in kg.nodes.items():
        cls = iri(str(type_class(kind)))
        block = []
        for entity, name in zip(ids, names[kind]):
            label = labels.get(entity)
            block.append(f"{name} a {cls} .\n" if label is None
                         else f"{name} a {cls} ;\n    rdfs:label {_turtle_string(str(label))} .\n")
            if len(block) >= 4096:
                yield "".join(block)
                block = []
        yield "".join(block)
    for (src, rel, dst), index in kg.edges.items():
        predicate = iri(str(relation_uri(rel)))
        heads, tails = names[src], names[dst]
        for lo in range(0, index.shape[1], 4096):
            yield "".join(f"{heads[h]} {predicate} {tails[t]} .\n"
                          for h, t in zip(index[0, lo:lo + 4096].tolist(),
                                          index[1, lo:lo + 4096].tolist()))


def write_turtle(kg: KnowledgeGraph, path: str | Path) -> Path:
    """Write ``kg`` as Turtle to ``path`` without building an rdflib graph, atomically.

    The same triples as :func:`to_rdf` (the files parse back to isomorphic graphs), in
    node then edge order rather than sorted by subject; memory is one prefixed name per
    node (not ~1 kB per triple as an rdflib graph), time linear in nodes + edges. Use it
    for graphs too large for :func:`to_rdf` + :func:`save_turtle`.
    """
    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
            for chunk in _streamed_turtle(kg):
                handle.write(chunk)

    return atomic_write(path, write)


#: Above this many triples :func:`rdf_view` returns an on-disk pyoxigraph store instead
#: of an in-memory rdflib graph (rdflib holds ~1 kB per triple: 1 GB per million).
MAX_RDFLIB_TRIPLES = 1_000_000


def triple_count(kg: KnowledgeGraph) -> int:
    """Triples of the RDF view: one ``rdf:type`` per node, one label per labelled node,
    one per edge."""
    nodes = sum(len(ids) for ids in kg.nodes.values())
    labelled = sum(1 for ids in kg.nodes.values() for e in ids if kg.labels.get(e) is not None)
    return nodes + labelled + sum(index.shape[1] for index in kg.edges.values())


def open_store(kg: KnowledgeGraph, folder: str | Path) -> Any:
    """An on-disk ``pyoxigraph.Store`` in ``folder`` holding the triples of ``kg``.

    The graph is streamed to ``folder/graph.ttl`` (:func:`write_turtle`) and bulk-loaded;
    an existing store in ``folder`` is reopened as it is (delete the folder to rebuild
    it). Query it with :func:`sparql`, like an rdflib graph.
    """
    import pyoxigraph

    folder = Path(folder)
    store_dir = folder / "store"
    existing = store_dir.is_dir() and any(store_dir.iterdir())
    folder.mkdir(parents=True, exist_ok=True)
    store = pyoxigraph.Store(str(store_dir))
    if not existing:
        turtle = write_turtle(kg, folder / "graph.ttl")
        store.bulk_load(path=str(turtle), format=pyoxigraph.RdfFormat.TURTLE)
        store.flush()
    return store


def rdf_view(kg: KnowledgeGraph, store_folder: str | Path | None = None, *,
             max_rdflib_triples: int = MAX_RDFLIB_TRIPLES) -> Any:
    """The RDF view to query: an in-memory rdflib ``Graph`` (:func:`to_rdf`) up to
    ``max_rdflib_triples`` triples, else an on-disk pyoxigraph store in ``store_folder``
    (:func:`open_store`; required then). Both work with :func:`sparql` and
    :func:`movies_sharing`."""
    if triple_count(kg) <= max_rdflib_triples:
        return to_rdf(kg)
    if store_folder is None:
        raise ValueError(f"the graph has {triple_count(kg):,} triples (> max_rdflib_triples="
                         f"{max_rdflib_triples:,}): pass store_folder for an on-disk store")
    return open_store(kg, store_folder)


def _is_oxigraph(graph: Any) -> bool:
    return type(graph).__module__.split(".")[0] == "pyoxigraph"


def _oxigraph_select(store: Any, query: str, bindings: dict[str, Node]) -> list[dict[str, str]]:
    """:func:`sparql` on a pyoxigraph store. Bindings become an inline ``VALUES`` block
    at the start of the query's first group (``WHERE {``), so bound variables keep their
    values in the results, as with rdflib's ``initBindings``; results come back through
    :func:`term_str`."""
    import pyoxigraph as ox

    if bindings:
        brace = query.find("{")
        if brace < 0:
            raise ValueError("SPARQL syntax error: no '{' group to bind variables in")
        names = " ".join(f"?{name}" for name in bindings)
        values = " ".join(term.n3() for term in bindings.values())
        query = f"{query[:brace + 1]} VALUES ({names}) {{ ({values}) }} {query[brace + 1:]}"
    prefixes = {p: str(ns) for p, ns in PREFIXES.items()}
    try:
        result = store.query(query, prefixes=prefixes)
    except SyntaxError as exc:
        raise ValueError(f"SPARQL syntax error: {exc}") from exc
    if not isinstance(result, ox.QuerySolutions):
        raise ValueError(f"sparql() runs SELECT queries, got {type(result).__name__}")
    names = [v.value for v in result.variables]
    rows = []
    for solution in result:
        row = {}
        for name in names:
            value = solution[name]
            if value is not None:
                row[name] = term_str(URIRef(value.value) if isinstance(value, ox.NamedNode)
                                     else Literal(value.value))
        rows.append(row)
    return rows


# -- SPARQL --------------------------------------------------------------------------------
def _as_term(name: str, value: Any) -> Node:
    if isinstance(value, Node):
        return value
    if isinstance(value, str):
        try:
            return entity_uri(value)
        except ValueError:
            raise ValueError(f"binding ?{name}={value!r} is not an entity id ('type:key'); pass "
                             f"an rdflib Literal or URIRef for other values") from None
    if isinstance(value, (bool, int, float)):
        return Literal(value)
    raise TypeError(f"binding ?{name} has unsupported type {type(value).__name__}")


def term_str(term: Node) -> str:
    """Plain string of an RDF term as the kgrec API speaks it: entity URIs → entity ids,
    relation predicates → relation names, literals → their lexical form, other IRIs → the
    IRI."""
    if isinstance(term, URIRef):
        if term.startswith(ENTITY_BASE):
            return uri_entity(term)
        if term in _URI_RELATIONS or term.startswith(RELATION_BASE):
            return uri_relation(term)
    return str(term)


def sparql(graph: Graph | Any, query: str, **bindings: Any) -> list[dict[str, str]]:
    """Run a SPARQL ``SELECT`` on ``graph`` (an rdflib ``Graph`` or a pyoxigraph
    ``Store`` from :func:`open_store`); rows as ``{variable: string}``.

    Prefixes ``kg``, ``schema``, ``rdf``, ``rdfs``, ``xsd`` are predeclared. Keyword
    arguments bind variables before evaluation (``initBindings``): a ``str`` is an entity
    id (``movie="movie:1"`` binds ``?movie`` to its URI), numbers and booleans become
    literals, rdflib terms are used as given (e.g. ``relation_uri("starring")``). Values
    come back through :func:`term_str` (entity ids, relation names, literal text);
    unbound variables are left out of their row.

    Only use trusted queries: rdflib evaluates ``SERVICE`` clauses over the network.
    """
    init = {name: _as_term(name, value) for name, value in bindings.items()}
    if _is_oxigraph(graph):
        return _oxigraph_select(graph, query, init)
    try:
        result = graph.query(query, initNs=PREFIXES, initBindings=init)
    except Exception as exc:  # pyparsing.ParseException and friends: say it is the query
        if type(exc).__name__ in ("ParseException", "ParseSyntaxException"):
            raise ValueError(f"SPARQL syntax error: {exc}") from exc
        raise
    if result.type != "SELECT":
        raise ValueError(f"sparql() runs SELECT queries, got a {result.type} query")
    names = [str(v) for v in result.vars or ()]
    rows = []
    for row in result:
        rows.append({name: term_str(value) for name, value in zip(names, row)
                     if value is not None})
    return rows


_SHARING_QUERY = """
SELECT DISTINCT ?other ?relation ?shared WHERE {
    VALUES ?relation { %s }
    ?movie ?relation ?shared .
    ?other ?relation ?shared .
    ?other a schema:Movie .
    FILTER (?other != ?movie)
}
"""


def movies_sharing(graph: Graph, movie: str,
                   relations: Iterable[str] = ("directed_by", "starring")
                   ) -> list[tuple[str, str, str]]:
    """Movies that share a director or actor (any of ``relations``) with ``movie``.

    One SPARQL query, ``?movie`` bound to the movie's URI and the relations given as
    ``VALUES``: ``?movie ?relation ?shared . ?other ?relation ?shared`` with
    ``?other a schema:Movie`` and ``?other != ?movie``.

    Args:
        graph: an RDF view (:func:`to_rdf`, :func:`load_turtle` or :func:`open_store`).
        movie: entity id, e.g. ``"movie:1"``; ``KeyError`` naming it if the graph has no
            such entity.
        relations: relation names (movie → entity), default director and actor.

    Returns:
        Sorted ``(other_movie, relation, shared_entity)`` entity-id/relation-name triples;
        a pair of movies sharing two actors appears twice.
    """
    uri = entity_uri(movie)
    if not sparql(graph, "SELECT ?c WHERE { ?movie a ?c } LIMIT 1", movie=uri):
        raise KeyError(f"{movie!r} is not an entity of this RDF graph")
    predicates = " ".join(relation_uri(r).n3() for r in dict.fromkeys(relations))
    if not predicates:
        return []
    rows = sparql(graph, _SHARING_QUERY % predicates, movie=uri)
    return sorted((r["other"], r["relation"], r["shared"]) for r in rows)
