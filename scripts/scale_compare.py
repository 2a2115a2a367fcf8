#!/usr/bin/env python3
"""Held-out accuracy on a large catalogue: the default model against popularity and ItemKNN.

    python scripts/scale_compare.py CATALOGUE_DIR [--models hybrid pop itemknn] [--seed 0]
        [--max-users 10000] [--threads 1] [--out results/scale-compare.json]

A seeded per-user 80/10/10 split of the catalogue's ratings (``kgrec.data.random_split``):
every model fits on the 80% part, the validation 10% drives what the package uses it for
(fusion weights, early stopping), and NDCG@10 / Recall@20 are measured on the test 10%
with training and validation items masked, over the same seeded sample of at most
``--max-users`` test users for every model (full ranking costs ``users x movies``). The
models are the package's own (``kgrec.models.registry``), with their default settings.
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

    config = KGRecConfig().replace(train={"seed": a.seed, "threads": a.threads,
                                          "show_progress": False})
    dataset = load_dataset(str(a.catalogue))
    split = random_split(dataset.ratings, (0.8, 0.1, 0.1), seed=a.seed)
    needs_text = any(get_spec(m).needs_text(config) for m in a.models)
    ctx = build_context(dataset, split.train, split.valid, config, text=needs_text)
    kg = ctx.kg
    test = validation_subset(to_csr(split.test, kg), a.max_users, seed=a.seed)
    mask = (ctx.train + ctx.valid).tocsr()
    rows = {}
    for name in a.models:
        with PeakMemory() as memory:
            start = time.perf_counter()
            fitted = fit_model(name, ctx, config)
            fit_seconds = time.perf_counter() - start
        metrics = evaluate(fitted.model, test=test, mask=mask, ks=(10, 20)).metrics
        rows[name] = {"ndcg@10": metrics["ndcg@10"], "recall@20": metrics["recall@20"],
                      "fit_seconds": fit_seconds, "fit_peak_mb": memory.peak_mb,
                      "weights": fitted.details.get("weights")}
        print(f"{name:<10} NDCG@10 {metrics['ndcg@10']:.4f}  Recall@20 "
              f"{metrics['recall@20']:.4f}  fit {fit_seconds:.1f} s, {memory.peak_mb:.0f} MB",
              file=sys.stderr, flush=True)
    result = {"catalogue": str(a.catalogue), "seed": a.seed, "split": "random 80/10/10",
              "users": kg.num_users, "movies": kg.num_items,
              "test_users": int((test.getnnz(axis=1) > 0).sum()),
              "load_average": os.getloadavg()[0], "models": rows}
    if a.out is not None:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
