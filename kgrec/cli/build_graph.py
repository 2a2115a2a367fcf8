"""``kgrec build-graph``: dataset → knowledge graph → artifacts folder, with a summary.

Example::

    kgrec build-graph --dataset hetrec-2k --data-dir ../shared/datasets
    kgrec build-graph --dataset ml-100k --kg-dir ../shared/datasets/kg-links/RecBole-ml-100k
    kgrec build-graph --dataset my_csv_folder/ --out graphs/mine --no-turtle --json

Writes ``graph.ttl``, ``hetero_data.safetensors``, ``nodes/<type>.parquet``, ``stats.json`` and
``manifest.json``
(see :mod:`kgrec.graph.artifacts`; read back with ``kgrec.graph.artifacts.load_graph``).
"""

from __future__ import annotations

import argparse

NAME = "build-graph"
HELP = ("Build the knowledge graph of a dataset and write its artifacts (Turtle, tensors, "
        "node tables).")

#: Person roles reported separately: relation → plural role name.
ROLES = {"directed_by": "directors", "starring": "actors", "written_by": "writers",
         "produced_by": "producers"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", default="sample", metavar="NAME_OR_PATH",
                        help="dataset name (sample, ml-100k, ml-1m, hetrec-2k, ...) or a folder "
                             "of CSV/TSV files (default: %(default)s)")
    parser.add_argument("--data-dir", default=None, metavar="DIR",
                        help="folder holding the dataset's files (default: the kgrec cache)")
    parser.add_argument("--kg-dir", default=None, metavar="DIR",
                        help="RecBole folder (.kg/.link files) whose triples are merged into "
                             "the dataset")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="output folder (default: data/graph-<dataset>)")
    parser.add_argument("--no-turtle", action="store_true",
                        help="skip graph.ttl (the slowest artifact on large graphs)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object instead of the text summary")


def _plural(kind: str) -> str:
    if kind.endswith("s"):
        return kind
    if kind.endswith("y") and kind[-2:-1] not in tuple("aeiou"):
        return kind[:-1] + "ies"
    return kind + "s"


def dataset_counts(dataset) -> dict[str, int]:
    """Users, movies, ratings, triples, then distinct entities per side type (plural
    names, sorted) and per person role (``directors`` = distinct tails of
    ``directed_by``, ...)."""
    counts = {"users": dataset.num_users, "movies": dataset.num_items,
              "ratings": dataset.num_ratings, "triples": len(dataset.triples)}
    triples = dataset.triples
    entities = {e for column in ("head", "tail") for e in triples[column].unique()}
    per_kind: dict[str, int] = {}
    for entity in entities:
        kind = entity.partition(":")[0]
        if kind not in ("movie", "user"):
            per_kind[kind] = per_kind.get(kind, 0) + 1
    roles = {}
    for relation, role in ROLES.items():
        tails = triples.loc[triples["relation"] == relation, "tail"]
        if len(tails):
            roles[role] = int(tails.nunique())
    for kind in sorted(per_kind):
        counts[_plural(kind)] = per_kind[kind]
        if kind == "person":  # roles listed under persons
            counts.update(roles)
    counts.update(roles)
    return counts


def _default_out(dataset: str) -> str:
    from pathlib import Path

    name = Path(dataset).name or "dataset"
    return str(Path("data") / f"graph-{name}")


def _text_report(name: str, counts: dict[str, int], notes: list[str], table: str, out: str,
                 files: list[str], timings: dict[str, float]) -> str:
    rows = [(("    " if key in ROLES.values() else "  ") + key, value)
            for key, value in counts.items()]
    width = max(len(key) for key, _ in rows)
    lines = [f"dataset {name}"] + [f"{key:<{width}}  {value:>10,}" for key, value in rows]
    if notes:
        lines.append("notes")
        lines += [f"  {note}" for note in notes]
    lines += ["", table, "", f"wrote {out}: {', '.join(files)}",
              "timings: " + ", ".join(f"{k} {v:.2f} s" for k, v in timings.items())]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import json
    import sys
    import time
    import warnings

    from kgrec.cli import CLIError
    from kgrec.data import load_dataset
    from kgrec.graph import KnowledgeGraph
    from kgrec.graph.artifacts import save_graph

    timings: dict[str, float] = {}
    start = clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = now - clock
        clock = now

    with warnings.catch_warnings(record=True) as caught:  # shown once, below, not as code
        warnings.simplefilter("always")
        dataset = load_dataset(args.dataset, data_dir=args.data_dir)
        lap("load")
        if args.kg_dir:
            try:
                from kgrec.data.sources.recbole import merge_kg
            except ImportError as exc:
                raise CLIError(f"--kg-dir needs kgrec.data.sources.recbole, which cannot be "
                               f"imported: {exc}") from exc
            dataset = merge_kg(dataset, args.kg_dir, data_dir=args.data_dir)
            lap("merge-kg")
    for message in dict.fromkeys(str(w.message) for w in caught):
        if message not in dataset.notes:  # notes are printed with the summary anyway
            print(f"kgrec {NAME}: warning: {message}", file=sys.stderr)
    kg = KnowledgeGraph.from_dataset(dataset)
    lap("build")

    counts = dataset_counts(dataset)
    notes = [str(n) for n in dataset.notes]
    out = args.out or _default_out(args.dataset)
    meta = {"dataset": dataset.name, "source": args.dataset, "kg_dir": args.kg_dir,
            "counts": counts, "notes": notes}
    try:
        save_graph(kg, out, turtle=not args.no_turtle, meta=meta)
    except OSError as exc:
        raise CLIError(f"cannot write graph artifacts to {out}: {exc}") from exc
    lap("save")
    timings["total"] = time.perf_counter() - start

    stats = kg.stats()
    files = (["graph.ttl"] if not args.no_turtle else []) + [
        "hetero_data.safetensors", "nodes/*.parquet", "stats.json", "manifest.json"]
    if args.json:
        print(json.dumps({
            "dataset": dataset.name, "counts": counts, "notes": notes,
            "graph": {"nodes": stats.nodes,
                      "edges": [{"src": s, "relation": r, "dst": d, "count": n}
                                for (s, r, d), n in stats.edges.items()]},
            "out": out, "files": files,
            "timings": {k: round(v, 4) for k, v in timings.items()},
        }, ensure_ascii=False))
    else:
        print(_text_report(dataset.name, counts, notes, stats.table(), out, files, timings))
    return 0
