#!/usr/bin/env python3
"""Held-out accuracy on a large catalogue: the default model against popularity and ItemKNN.

    python scripts/scale_compare.py CATALOGUE_DIR [--models hybrid pop itemknn] [--seed 0]
        [--max-users 10000] [--threads 1] [--set SECTION.KEY=VALUE ...]
        [--out results/scale-compare.json]

A seeded per-user 80/10/10 split of the catalogue's ratings (``kgrec.data.random_split``):
every model fits on the 80% part, the validation 10% drives what the package uses it for
(fusion weights, early stopping), and NDCG@10 / Recall@20 are measured on the validation
10% (training items masked) and on the test 10% (training and validation items masked),
each over the same seeded sample of at most ``--max-users`` users for every model (full
ranking costs ``users x movies``). The models are the package's own
(``kgrec.models.registry``), with their default settings (``--set model.KEY=VALUE``
changes one, e.g. ``--set model.knn_shrinkage=10``; a value is read as JSON when it
parses, else as a string). Choose settings on the validation columns only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("catalogue", type=Path)
    p.add_argument("--models", nargs="+", default=["hybrid", "pop", "itemknn"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-users", type=int, default=10_000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override one config value (repeatable)")
    a = p.parse_args(argv)

    import os

    import torch

    torch.set_num_threads(a.threads)
    from kgrec.benchmark import PeakMemory
    from kgrec.config import KGRecConfig
    from kgrec.data import load_dataset
    from kgrec.data.splits import random_split
    from kgrec.evaluate import evaluate, to_csr
    from kgrec.models.registry import get_spec
    from kgrec.train import build_context, fit_model
    from kgrec.train.fusion import validation_subset

    sections: dict = {"train": {"seed": a.seed, "threads": a.threads, "show_progress": False}}
    for item in a.set:
        key, sep, value = item.partition("=")
        section, dot, name = key.partition(".")
        if not sep or not dot:
            p.error(f"--set {item!r}: expected SECTION.KEY=VALUE")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        sections.setdefault(section, {})[name] = tuple(parsed) if isinstance(parsed, list) else parsed
    try:
        config = KGRecConfig().replace(**sections)
    except (TypeError, ValueError) as exc:
        p.error(f"--set: {exc}")
    dataset = load_dataset(str(a.catalogue))
    split = random_split(dataset.ratings, (0.8, 0.1, 0.1), seed=a.seed)
    needs_text = any(get_spec(m).needs_text(config) for m in a.models)
    ctx = build_context(dataset, split.train, split.valid, config, text=needs_text)
    kg = ctx.kg
    test = validation_subset(to_csr(split.test, kg), a.max_users, seed=a.seed)
    valid = validation_subset(ctx.valid, a.max_users, seed=a.seed)
    mask = (ctx.train + ctx.valid).tocsr()
    rows = {}
    for name in a.models:
        with PeakMemory() as memory:
            start, cpu = time.perf_counter(), time.process_time()
            fitted = fit_model(name, ctx, config)
            fit_seconds, fit_cpu = time.perf_counter() - start, time.process_time() - cpu
        checked = evaluate(fitted.model, test=valid, mask=ctx.train, ks=(10, 20)).metrics
        metrics = evaluate(fitted.model, test=test, mask=mask, ks=(10, 20)).metrics
        rows[name] = {"valid_ndcg@10": checked["ndcg@10"], "valid_recall@20": checked["recall@20"],
                      "ndcg@10": metrics["ndcg@10"], "recall@20": metrics["recall@20"],
                      "fit_seconds": fit_seconds, "fit_cpu_seconds": fit_cpu,
                      "fit_peak_mb": memory.peak_mb, "weights": fitted.details.get("weights")}
        print(f"{name:<10} valid NDCG@10 {checked['ndcg@10']:.4f} Recall@20 "
              f"{checked['recall@20']:.4f} | test NDCG@10 {metrics['ndcg@10']:.4f} Recall@20 "
              f"{metrics['recall@20']:.4f} | fit {fit_seconds:.1f} s ({fit_cpu:.1f} CPU s), "
              f"{memory.peak_mb:.0f} MB", file=sys.stderr, flush=True)
    result = {"catalogue": str(a.catalogue), "seed": a.seed, "split": "random 80/10/10",
              "users": kg.num_users, "movies": kg.num_items,
              "test_users": int((test.getnnz(axis=1) > 0).sum()),
              "valid_users": int((valid.getnnz(axis=1) > 0).sum()),
              "config": {k: v for k, v in sections.items() if k != "train"},
              "load_average": os.getloadavg()[0], "models": rows}
    if a.out is not None:
        from kgrec.io import atomic_write_text

        a.out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(a.out, json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
