"""Query benchmark: mean precision@10 of intent-obeying results and share explained.

Ground truth comes from the raw files, read here with the standard library (not through
kgrec's loaders): ML-100K ``u.item`` genre flags and years, and its directors from HetRec's
``movie_directors.dat`` (keyed by MovieLens-10M/20M ids) joined through ``ml-1m/movies.dat``
by exact title and year (ML-100K actors have no names anywhere in the shared data, so
actor queries run on the bundled sample only); the bundled sample's ``items.csv`` genres,
directors and actors. Queries and truth rules: ``scripts/query_benchmark_queries.json``.

Ranking is kgrec's: :func:`kgrec.serve.intent.parse` + :func:`kgrec.serve.intent_scoring.rank_intent`
over the training-free parts (graph facts, MiniLM text similarity of the query remainder;
no user). For ML-100K the graph includes the RecBole Freebase KG when ``--kg-dir`` is given.

    PYTHONPATH=$PWD HF_HUB_OFFLINE=1 python scripts/query_benchmark.py \\
        --ml100k ../shared/datasets/ml-100k --kg-dir ../shared/datasets/kg-links/RecBole-ml-100k

Metrics: P@10 = relevant among the top 10 / 10; capped P@10 = relevant / min(10, |truth|)
(the best a system can reach when fewer than 10 movies qualify); ceiling = min(10, |truth|) / 10,
the best P@10 any ranking can reach on the query; explained = share of
results with at least one explanation; path-explained = share whose first explanation
cites a graph edge (the rest cite the release year or the text similarity). ``--out`` keeps
every query's results, each marked ``+`` (in the truth) or ``-``.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _hetrec_names(hetrec: Path) -> dict[str, set[str]]:
    """HetRec movie id (= MovieLens-10M/20M id) → director names."""
    names: dict[str, set[str]] = {}
    lines = (hetrec / "movie_directors.dat").read_text(encoding="latin-1").splitlines()
    for line in lines[1:]:
        f = line.split("\t")
        if len(f) >= 3:
            names.setdefault(f[0], set()).add(f[2])
    return names


def _ml1m_ids(ml1m: Path) -> dict[str, str]:
    """Lower-cased ``"Title (Year)"`` of ml-1m → its MovieLens id."""
    out = {}
    for line in (ml1m / "movies.dat").read_text(encoding="latin-1").splitlines():
        movie, title, _genres = line.split("::")
        out[title.strip().lower()] = movie
    return out


def raw_directors(ml1m: Path | None, hetrec: Path | None, kg_dir: Path | None = None
                  ) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Two independent director truths, keyed by lower-cased ``"Title (Year)"`` of ml-1m:
    HetRec's ``movie_directors.dat``, and Freebase's ``film.film.directed_by`` (RecBole's
    ``ml-100k.kg``, its ``ml-100k.link`` keyed by MovieLens-20M ids) with each director
    entity named by the HetRec name most of its films carry. Empty when a folder is
    missing. HetRec has errors (e.g. Raiders of the Lost Ark "by Mike Nawrocki", The
    Terminator "by McG": same-title films confused), hence the second truth."""
    if not ml1m or not hetrec or not (ml1m / "movies.dat").is_file() \
            or not (hetrec / "movie_directors.dat").is_file():
        return {}, {}
    names, ids = _hetrec_names(hetrec), _ml1m_ids(ml1m)
    hetrec_truth = {title: names.get(movie, set()) for title, movie in ids.items()}
    if not kg_dir or not (kg_dir / "ml-100k.kg").is_file():
        return hetrec_truth, {}
    film_of = {}
    for line in (kg_dir / "ml-100k.link").read_text(encoding="utf-8").splitlines()[1:]:
        movie, entity = line.split("\t")
        film_of[entity] = movie
    directed: dict[str, set[str]] = {}
    for line in (kg_dir / "ml-100k.kg").read_text(encoding="utf-8").splitlines()[1:]:
        head, relation, tail = line.split("\t")
        if relation == "film.film.directed_by" and head in film_of:
            directed.setdefault(film_of[head], set()).add(tail)
    votes: dict[str, dict[str, int]] = {}
    for movie, people in directed.items():
        for person in people:
            for name in names.get(movie, ()):
                votes.setdefault(person, {}).setdefault(name, 0)
                votes[person][name] += 1
    label = {p: max(v, key=lambda n: (v[n], n)) for p, v in votes.items()}
    freebase_truth = {title: {label[p] for p in directed.get(movie, ()) if p in label}
                      for title, movie in ids.items()}
    return hetrec_truth, freebase_truth


def raw_ml100k(folder: Path, directors: dict[str, set[str]] | None = None) -> dict[str, dict]:
    """``u.item`` movies: title, year, genres; ``directors`` from a :func:`raw_directors`
    truth (keyed by lower-cased ``"Title (Year)"``, which ``u.item`` shares with ml-1m)."""
    genres = [line.split("|")[0] for line in
              (folder / "u.genre").read_text(encoding="latin-1").splitlines() if line]
    directors = directors or {}
    out = {}
    for line in (folder / "u.item").read_text(encoding="latin-1").splitlines():
        f = line.split("|")
        m = re.match(r"^(.*)\((\d{4})\)\s*$", f[1])
        title = m.group(1).strip() if m else f[1].strip()
        year = int(m.group(2)) if m else (int(f[2][-4:]) if f[2] else -1)
        out[f[0]] = {"title": title, "year": year,
                     "genres": {g for g, flag in zip(genres, f[5:]) if flag == "1"},
                     "directors": set(directors.get(f[1].strip().lower(), ())),
                     "actors": set()}
    return out


def raw_sample(path: Path) -> dict[str, dict]:
    out = {}
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            out[row["item_id"]] = {"title": row["title"], "year": int(row["year"]),
                                   "genres": set(row["genres"].split("|")),
                                   "directors": set(row["directors"].split("|")),
                                   "actors": set(row["actors"].split("|"))}
    return out


def truth(spec: dict, movies: dict[str, dict]) -> set[str]:
    anchor = None
    if spec.get("like"):
        anchor = next(i for i, m in movies.items() if m["title"] == spec["like"])
    rel = set()
    for i, m in movies.items():
        g = m["genres"]
        if not set(spec.get("all_genres", ())) <= g:
            continue
        if spec.get("any_genres") and not set(spec["any_genres"]) & g:
            continue
        if set(spec.get("none_genres", ())) & g:
            continue
        if spec.get("min_year") is not None and m["year"] < spec["min_year"]:
            continue
        if spec.get("max_year") is not None and not 0 < m["year"] <= spec["max_year"]:
            continue
        if spec.get("director") and spec["director"] not in m["directors"]:
            continue
        if spec.get("actor") and spec["actor"] not in m["actors"]:
            continue
        if spec.get("anyrole") and spec["anyrole"] not in m["directors"] | m["actors"]:
            continue
        if anchor is not None:
            a = movies[anchor]["genres"]
            if i == anchor or len(a & g) / max(1, len(a | g)) < 0.5:
                continue
        rel.add(i)
    return rel


def run(dataset, queries: list[dict], movies: dict[str, dict], k: int,
        second: dict[str, dict] | None = None) -> list[dict]:
    """Rank every query; ``second``: movies with a second truth (directors by HetRec or
    Freebase) whose P@10 is reported beside the first's."""
    import torch

    from kgrec.graph import KnowledgeGraph
    from kgrec.serve.intent import Vocabulary, parse
    from kgrec.serve.intent_scoring import (
        ItemFacts,
        prototype_vector,
        rank_intent,
        uses_prototype,
    )
    from kgrec.text import TextConfig, TextEncoder
    from kgrec.text.node_text import node_texts

    kg = KnowledgeGraph.from_dataset(dataset)
    enc = TextEncoder(TextConfig(show_progress=False))
    items = torch.nn.functional.normalize(enc.encode(node_texts(kg, dataset)["movie"]).float(), dim=1)
    encode = lambda xs: enc.encode(xs).numpy()
    vocab = Vocabulary.from_graph(kg, dataset.items, encode=encode)
    facts = ItemFacts.from_items(kg, dataset.items)
    rows = []
    for spec in queries:
        t0 = time.perf_counter()
        intent = parse(spec["q"], vocab)
        if uses_prototype(intent):       # as the facade: no encoder run for a matched request
            text = items.numpy() @ prototype_vector(intent, facts, items.numpy())
        else:
            q = torch.nn.functional.normalize(enc.encode([intent.remainder or spec["q"]]).float(),
                                              dim=1)[0]
            text = (items @ q).numpy()
        results = rank_intent(intent, facts, k, text=text)
        ms = (time.perf_counter() - t0) * 1000
        rel = truth(spec, movies)
        ids = [kg.item_ids[i] for i, _, _ in results]
        hits = sum(i in rel for i in ids)
        rel2 = truth(spec, second) if second is not None else rel
        rows.append({"q": spec["q"], "cat": spec["cat"], "p10": hits / k,
                     "p10_either": sum(i in rel2 for i in ids) / k,
                     "p10_capped": hits / max(1, min(k, len(rel))), "truth": len(rel),
                     "ceiling": min(k, len(rel)) / k,
                     "explained": float(np.mean([bool(e) for _, _, e in results])) if results else 0.0,
                     "path_explained": float(np.mean([bool(e and e[0].steps) for _, _, e in results]))
                     if results else 0.0,
                     "ms": ms, "intent": repr(intent),
                     "top": [("+" if kg.item_ids[i] in rel else "-")
                             + f" {facts.titles[i]} ({facts.years[i]}): {e[0].text if e else '-'}"
                             for i, _, e in results]})
    return rows


def report(name: str, rows: list[dict]) -> None:
    print(f"\n== {name}: {len(rows)} queries ==")
    for r in rows:
        print(f"{r['p10']:.1f} {r['p10_capped']:.2f} |T|={r['truth']:<4} {r['cat']:<10} {r['q']!r}")
        print(f"      {r['intent']}")
        for t in r["top"][:3]:   # all k, each marked + (in the truth) or -, in --out
            print(f"      {t}")
    cats = sorted({r["cat"] for r in rows})
    for c in cats + ["ALL"]:
        rs = [r for r in rows if c in ("ALL", r["cat"])]
        print(f"{c:<11} n={len(rs):>2}  P@10 {np.mean([r['p10'] for r in rs]):.3f}  "
              f"(either truth {np.mean([r['p10_either'] for r in rs]):.3f})  "
              f"capped {np.mean([r['p10_capped'] for r in rs]):.3f}  ceiling "
              f"{np.mean([r['ceiling'] for r in rs]):.3f}  explained "
              f"{np.mean([r['explained'] for r in rs]):.3f}  path-explained "
              f"{np.mean([r['path_explained'] for r in rs]):.3f}")
    ms = np.array([r["ms"] for r in rows])
    print(f"latency parse+score+explain: median {np.median(ms):.1f} ms, p95 {np.percentile(ms, 95):.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ml100k", type=Path, help="raw ml-100k folder (u.item, u.genre, u.data)")
    ap.add_argument("--kg-dir", type=Path, help="RecBole ml-100k KG folder to merge")
    ap.add_argument("--ml1m", type=Path, help="raw ml-1m folder for the directors' truth "
                    "(default: beside --ml100k)")
    ap.add_argument("--hetrec", type=Path, help="HetRec 2k folder for the directors' truth "
                    "(default: beside --ml100k)")
    ap.add_argument("--queries", type=Path, default=HERE / "query_benchmark_queries.json")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--out", type=Path, help="write per-query rows as JSON")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    from kgrec.data import load_dataset

    spec = json.loads(args.queries.read_text(encoding="utf-8"))
    out = {}
    if args.ml100k:
        ds = load_dataset("ml-100k", data_dir=args.ml100k, kg_dir=args.kg_dir)
        hetrec, freebase = raw_directors(
            args.ml1m or args.ml100k.parent / "ml-1m",
            args.hetrec or args.ml100k.parent / "hetrec2011-movielens-2k-v2", args.kg_dir)
        queries = spec["ml-100k"]
        if not hetrec or not args.kg_dir:
            print("no --kg-dir or no ml-1m / HetRec folder (the graph has no named directors,"
                  " or no truth for them): the ML-100K person queries are skipped")
            queries = [q for q in queries if q["cat"] != "person"]
        either = {t: hetrec[t] | freebase.get(t, set()) for t in hetrec}
        out["ml-100k"] = run(ds, queries, raw_ml100k(args.ml100k, hetrec), args.k,
                             second=raw_ml100k(args.ml100k, either) if freebase else None)
        report("ml-100k", out["ml-100k"])
    sample_items = Path(__file__).resolve().parents[1] / "kgrec" / "data" / "sample" / "items.csv"
    out["sample"] = run(load_dataset("sample"), spec["sample"], raw_sample(sample_items), args.k)
    report("sample (people)", out["sample"])
    if args.out:
        from kgrec.io import atomic_write_text

        atomic_write_text(args.out, json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
