"""``kgrec data``: what a dataset holds, before anything is fitted.

Example::

    kgrec data                                            # the bundled sample
    kgrec data --dataset ml-100k --data-dir ../shared/datasets --json

Prints the counts of users, movies, ratings, triples and side entities (with people per
role), the rating scale and sparsity, ratings per user and per movie, the years covered,
the triples per relation, and the loader's notes (what it decided on the caller's behalf).
"""

from __future__ import annotations

import argparse

NAME = "data"
HELP = "Summarise a dataset: counts, ratings, relations and the loader's notes."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", default="sample", metavar="NAME_OR_PATH",
                        help="dataset name (sample, ml-100k, ml-1m, hetrec-2k, ...) or a folder "
                             "of CSV/TSV files (default: %(default)s)")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="folder holding the dataset's files (default: the kgrec cache)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object instead of the text summary")


def _spread(counts) -> dict[str, float]:
    """min / median / mean / max of a pandas Series of counts (empty: zeros)."""
    if len(counts) == 0:
        return {"min": 0, "median": 0, "mean": 0.0, "max": 0}
    return {"min": int(counts.min()), "median": float(counts.median()),
            "mean": round(float(counts.mean()), 2), "max": int(counts.max())}


def summarize(dataset) -> dict:
    """JSON-ready summary of a :class:`~kgrec.data.MovieDataset`."""
    import pandas as pd

    from kgrec.cli.build_graph import dataset_counts

    ratings, items = dataset.ratings, dataset.items
    n_users, n_items = dataset.num_users, dataset.num_items
    values = ratings["rating"]
    years = items["year"].dropna()
    rating_info = {
        "scale": None if values.empty else [float(values.min()), float(values.max())],
        "mean": None if values.empty else round(float(values.mean()), 3),
        "distinct_values": int(values.nunique()),
        "density": round(len(ratings) / (n_users * n_items), 5) if n_users and n_items else 0.0,
        "per_user": _spread(ratings.groupby("user_id").size()),
        "per_movie": _spread(ratings.groupby("item_id").size()),
        "unrated_movies": int(n_items - ratings["item_id"].nunique()),
        "first": None if ratings.empty else str(pd.to_datetime(
            int(ratings["timestamp"].min()), unit="s").date()),
        "last": None if ratings.empty else str(pd.to_datetime(
            int(ratings["timestamp"].max()), unit="s").date()),
    }
    movie_info = {
        "years": None if years.empty else [int(years.min()), int(years.max())],
        "with_year": int(len(years)),
        "with_description": int((items["text"].str.strip() != "").sum()),
    }
    relations = {str(k): int(v) for k, v in
                 dataset.triples["relation"].value_counts().sort_index().items()}
    return {"dataset": dataset.name, "counts": dataset_counts(dataset), "ratings": rating_info,
            "movies": movie_info, "relations": relations,
            "notes": [str(n) for n in dataset.notes]}


def _text(summary: dict) -> str:
    counts, r, m = summary["counts"], summary["ratings"], summary["movies"]
    rows = [(("    " if key in ("directors", "actors", "writers", "producers") else "  ") + key,
             f"{value:,}") for key, value in counts.items()]

    def spread(s: dict) -> str:
        return f"min {s['min']:,} · median {s['median']:g} · mean {s['mean']:g} · max {s['max']:,}"

    n_movies = max(counts.get("movies", 0), 1)
    rows += [("ratings", "")]
    if r["scale"]:
        rows += [("  scale", f"{r['scale'][0]:g}–{r['scale'][1]:g} "
                             f"({r['distinct_values']} values, mean {r['mean']:.2f})")]
    rows += [("  density", f"{100 * r['density']:.2f}% of user × movie pairs"),
             ("  per user", spread(r["per_user"])),
             ("  per movie", spread(r["per_movie"])),
             ("  unrated movies", f"{r['unrated_movies']:,}")]
    if r["first"]:
        rows += [("  dates", f"{r['first']} … {r['last']}")]
    rows += [("movies", "")]
    if m["years"]:
        rows += [("  years", f"{m['years'][0]}–{m['years'][1]} ({m['with_year']:,} with a year)")]
    rows += [("  descriptions", f"{m['with_description']:,} "
                                f"({100 * m['with_description'] / n_movies:.0f}%)")]
    if summary["relations"]:
        rows += [("triples per relation", "")]
        rows += [(f"  {k}", f"{v:,}") for k, v in summary["relations"].items()]
    width = max(len(k) for k, _ in rows)
    lines = [f"dataset {summary['dataset']}"]
    lines += [f"{k:<{width}}  {v}".rstrip() for k, v in rows]
    lines.append("notes" + ("" if summary["notes"] else ": none"))
    lines += [f"  {note}" for note in summary["notes"]]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import json

    from kgrec.cli.train import load_dataset_quietly

    dataset = load_dataset_quietly(args.dataset, args.data_dir, NAME)
    summary = summarize(dataset)
    print(json.dumps(summary, ensure_ascii=False) if args.json else _text(summary))
    return 0
