"""``kgrec demo``: the whole pipeline on the bundled sample, end to end, in about a minute.

Example::

    kgrec demo                      # sample: 450 users, 418 films, 27,925 ratings
    kgrec demo --users 1 --epochs 20 --json
    kgrec demo --save models/sample # keep the fitted recommender for `kgrec recommend`

Stages, each timed:

1. load the dataset (default: the bundled ``sample``);
2. split every user's ratings at random into 80% train, 10% valid, 10% test (seeded);
3. build the knowledge graph of the training part and embed its node texts with the
   transformer encoder (cached on disk: only the first run pays for it);
4. ``Recommender(config).fit(dataset, train=, valid=)``: the default hybrid model, trained
   with early stopping on the valid part;
5. evaluate on the test part with full ranking, next to a popularity baseline fitted on
   the same training part;
6. top-10 lists with explanation sentences for a few users (held-out test hits marked);
7. a natural-language query and a cold-start user who names movies they like.
"""

from __future__ import annotations

import argparse

NAME = "demo"
HELP = ("Run the whole pipeline on the bundled sample: fit, evaluate against popularity, "
        "explained top-10 lists, a text query and a cold-start user.")

DEFAULT_QUERY = "movies directed by Quentin Tarantino"
DEFAULT_LIKED = ("Heat", "Casino")

#: Metrics shown side by side, in this order.
METRICS = ("ndcg@10", "recall@10", "recall@20", "precision@10", "hit@10", "mrr@10", "map@10",
           "ndcg@20", "coverage@10", "novelty@10")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from kgrec.cli.train import add_config_arguments

    parser.add_argument("--dataset", default="sample", metavar="NAME_OR_PATH",
                        help="dataset name or folder of CSV/TSV files (default: %(default)s)")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="folder holding the dataset's files (default: the kgrec cache)")
    parser.add_argument("--users", type=int, default=3, metavar="N",
                        help="users whose explained top-10 is shown (default %(default)s)")
    parser.add_argument("--query", default=DEFAULT_QUERY, metavar="TEXT",
                        help="natural-language query (default: %(default)r)")
    parser.add_argument("--liked", nargs="+", metavar="TITLE",
                        help="titles a cold-start user likes (default: "
                             + " ".join(DEFAULT_LIKED) + ")")
    add_config_arguments(parser)
    parser.add_argument("--save", metavar="DIR", help="save the fitted recommender to DIR")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object (metrics, lists, timings) instead of text")


def comparison_table(ours, baseline, names: tuple[str, str]) -> str:
    """Metric rows with our model, the baseline and the relative change."""
    rows = [("metric", names[0], names[1], "change")]
    for key in METRICS:
        if key in ours.metrics and key in baseline.metrics:
            a, b = ours[key], baseline[key]
            change = f"{100 * (a - b) / b:+.0f}%" if b else ""
            rows.append((key, f"{a:.4f}", f"{b:.4f}", change))
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    return "\n".join("  " + "  ".join(cell.ljust(w) if c == 0 else cell.rjust(w)
                                      for c, (cell, w) in enumerate(zip(row, widths)))
                     for row in rows)


def run(args: argparse.Namespace) -> int:
    from kgrec.cli.train import prefer_passive_omp, torch_threads

    prefer_passive_omp()
    with torch_threads(args.threads):
        return _demo(args)


def _demo(args: argparse.Namespace) -> int:
    import json
    import time

    import pandas as pd
    import torch

    from kgrec.cli import CLIError
    from kgrec.cli.recommend import format_recommendations
    from kgrec.cli.train import build_config, load_dataset_quietly
    from kgrec.data import random_split
    from kgrec.evaluate import evaluate, to_csr
    from kgrec.recommender import Recommender
    from kgrec.text import TextEncoder
    from kgrec.train import build_context, fit_model

    if args.users < 0:
        raise CLIError(f"--users must be >= 0, got {args.users}")
    if not args.query.strip():
        raise CLIError("--query is empty")
    config = build_config(args)
    seed = config.train.seed
    quiet = args.json

    def say(text: str = "") -> None:
        if not quiet:
            print(text, flush=True)

    timings: dict[str, float] = {}
    start = clock = time.perf_counter()

    def lap(name: str) -> float:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = now - clock
        clock = now
        return timings[name]

    say(f"kgrec demo: dataset {args.dataset}, model {config.model.name}, seed {seed}, "
        f"{torch.get_num_threads()} torch threads")

    # 1. data ---------------------------------------------------------------------------------
    dataset = load_dataset_quietly(args.dataset, args.data_dir, NAME)
    if dataset.ratings.empty:
        raise CLIError(f"dataset {dataset.name!r} has no ratings")
    say(f"\n[1/7] data ({lap('load'):.1f} s): {dataset.num_users:,} users, "
        f"{dataset.num_items:,} movies, {dataset.num_ratings:,} ratings, "
        f"{len(dataset.triples):,} side-information triples")

    # 2. split --------------------------------------------------------------------------------
    split = random_split(dataset.ratings, (0.8, 0.1, 0.1), seed=seed)
    say(f"[2/7] per-user random split 80/10/10 (seed {seed}, {lap('split'):.1f} s): "
        f"train {len(split.train):,}, valid {len(split.valid):,}, test {len(split.test):,}")

    # 3. graph and text features (cached on disk by text hash), built once: fit uses them --
    encoder = TextEncoder(config.text)
    context = build_context(dataset, split.train, split.valid, config, encoder=encoder)
    lap("graph_text")
    kg, features = context.kg, context.node_features
    n_texts = encoder.stats.embedded + encoder.stats.cached
    say(f"[3/7] knowledge graph and text features ({timings['graph_text']:.1f} s): {kg!r}\n"
        f"      {n_texts:,} node texts → {features['movie'].shape[1]}-d "
        f"{config.text.model_name} vectors; {encoder.stats.embedded:,} embedded, "
        f"{encoder.stats.cached:,} from the cache ({encoder.cache_path})")

    # 4. fit ----------------------------------------------------------------------------------
    rec = Recommender(config).fit(dataset, train=split.train, valid=split.valid, context=context)
    lap("fit")
    result = rec.fit_result_
    training = result.training
    detail = ""
    if training is not None:
        detail = (f"; {len(training.history)} epochs, best {training.best_epoch} "
                  f"(valid NDCG@10 {training.best_score:.4f})")
    weights = result.details.get("weights")
    if weights:
        detail += "; fusion weights " + ", ".join(f"{k} {v:.2f}" for k, v in weights.items())
    say(f"[4/7] fit {config.model.name} ({timings['fit']:.1f} s){detail}")

    # 5. held-out evaluation against popularity -----------------------------------------------
    ours = rec.evaluate(split.test, ks=(10, 20))
    pop = fit_model("pop", context, config).model
    baseline = evaluate(pop, test=to_csr(split.test, kg),
                        mask=to_csr(pd.concat([split.train, split.valid]), kg),
                        ks=(10, 20), item_popularity=context.item_popularity)
    lap("evaluate")
    say(f"[5/7] held-out test ({ours.num_users:,} users, {len(split.test):,} interactions; "
        f"train and valid items masked; {timings['evaluate']:.1f} s)")
    say(comparison_table(ours, baseline, (config.model.name, "popularity")))

    # 6. explained top-10 lists ---------------------------------------------------------------
    titles = dict(zip(dataset.items["item_id"], dataset.items["title"]))
    test_users = set(split.test["user_id"])
    users = [u for u in dict.fromkeys(dataset.ratings["user_id"]) if u in test_users]
    users = users[:args.users]
    unexplained: list[dict[str, str]] = []
    lists = []
    say(f"\n[6/7] top-10 with explanations for {len(users)} user(s) "
        "(✓ = in the user's held-out test part)")
    for user in users:
        recs = rec.recommend(user, k=10)
        held_out = set(split.test.loc[split.test["user_id"] == user, "item_id"])
        mine = split.train[split.train["user_id"] == user].sort_values(
            ["rating", "timestamp"], ascending=[False, False])
        favourites = [titles[i] for i in mine["item_id"].head(3)]
        hits = [r.item_id for r in recs if r.item_id in held_out]
        for r in recs:
            if not r.explanations:
                unexplained.append({"for": f"user {user}", "item_id": r.item_id, "title": r.title})
        lists.append({"user": user, "train_ratings": len(mine), "favourites": favourites,
                      "held_out_hits": hits, "recommendations": [r.to_dict() for r in recs]})
        say(f"\nuser {user}: {len(mine)} training ratings, favourites "
            f"{', '.join(favourites)}; {len(hits)} of 10 in the held-out test part")
        say(format_recommendations(recs, explanations=1, marks={i: "✓" for i in hits}))
    lap("recommend")

    # 7. a natural-language query and a cold-start user ---------------------------------------
    query_recs = rec.recommend(query=args.query, k=10)
    lap("query")
    say(f"\n[7/7] query {args.query!r}")
    say(format_recommendations(query_recs, explanations=1))
    for r in query_recs:
        if not r.explanations:
            unexplained.append({"for": "query", "item_id": r.item_id, "title": r.title})
    liked = list(args.liked or DEFAULT_LIKED)
    try:
        cold = rec.recommend(liked=liked, k=10)
    except KeyError as exc:
        if args.liked:  # the user's own titles: a misspelling is an error
            raise
        cold, liked_note = [], f"skipped: {exc.args[0] if exc.args else exc}"
    else:
        liked_note = ""
    lap("cold_start")
    say(f"\ncold-start user who likes {', '.join(liked)}" + (f" ({liked_note})" if liked_note
                                                                else ""))
    if cold:
        say(format_recommendations(cold, explanations=1))
    for r in cold:
        if not r.explanations:
            unexplained.append({"for": "liked", "item_id": r.item_id, "title": r.title})

    saved = None
    if args.save:
        try:
            saved = str(rec.save(args.save))
        except OSError as exc:
            raise CLIError(f"cannot save the recommender to {args.save}: {exc}") from exc
        lap("save")
    timings["total"] = time.perf_counter() - start

    if args.json:
        print(json.dumps({
            "dataset": dataset.name, "model": config.model.name, "seed": seed,
            "split": {"train": len(split.train), "valid": len(split.valid),
                      "test": len(split.test)},
            "text": {"model": config.text.model_name, "embedded": encoder.stats.embedded,
                     "cached": encoder.stats.cached},
            "training": None if training is None else {
                "epochs": len(training.history), "best_epoch": training.best_epoch,
                "best_valid_ndcg@10": training.best_score},
            "fusion_weights": weights,
            "metrics": {config.model.name: ours.to_dict(), "popularity": baseline.to_dict()},
            "users": lists,
            "query": {"text": args.query, "recommendations": [r.to_dict() for r in query_recs]},
            "cold_start": {"liked": liked, "note": liked_note,
                           "recommendations": [r.to_dict() for r in cold]},
            "unexplained": unexplained, "saved": saved,
            "timings": {k: round(v, 3) for k, v in timings.items()},
        }, ensure_ascii=False))
        return 0
    if saved:
        say(f"\nsaved the fitted recommender to {saved} "
            f"(try: kgrec recommend --model {saved} --user {users[0] if users else 'ID'})")
    explained = sum(len(x["recommendations"]) for x in lists) + len(query_recs) + len(cold)
    say(f"\nexplained {explained - len(unexplained)} of {explained} recommendations"
        + ("" if not unexplained else " (no path found for: "
           + ", ".join(f"{x['title']} [{x['for']}]" for x in unexplained) + ")"))
    say("timings: " + " · ".join(f"{k.replace('_', ' ')} {v:.1f} s" for k, v in timings.items()))
    return 0
