#!/usr/bin/env python3
"""Exact vs low-rank vs neighbourhood DLAE on a fixed split: what the scalable forms cost.

    OPENBLAS_NUM_THREADS=1 python scripts/dlae_low_rank.py \\
        [--split-dir ../shared/benchmarks/ml-100k/random-811-seed0] \\
        [--data-dir ../shared/datasets/ml-100k] [--ranks 64 128 256 512] \\
        [--neighbors 50 100 200]

Validation: train items masked; test: train + valid items masked (the benchmark protocol).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--split-dir", type=Path,
                   default=ROOT / ".." / "shared" / "benchmarks" / "ml-100k" / "random-811-seed0")
    p.add_argument("--data-dir", type=Path, default=ROOT / ".." / "shared" / "datasets" / "ml-100k")
    p.add_argument("--ranks", type=int, nargs="+", default=[64, 128, 256, 512])
    p.add_argument("--neighbors", type=int, nargs="*", default=[50, 100, 200])
    a = p.parse_args(argv)
    import torch

    from kgrec.data import load_dataset, read_split
    from kgrec.evaluate import evaluate, to_csr
    from kgrec.graph import KnowledgeGraph
    from kgrec.models.linear import DLAE

    torch.set_num_threads(1)
    split = read_split(a.split_dir)
    kg = KnowledgeGraph.from_dataset(load_dataset("ml-100k", data_dir=a.data_dir), split.train)
    valid, test = to_csr(split.valid, kg), to_csr(split.test, kg)
    train = kg.interaction_matrix()
    forms = ([("exact", {"max_dense_items": kg.num_items})]
             + [(f"rank {r}", {"max_dense_items": 0, "large_form": "low_rank", "rank": r})
                for r in a.ranks]
             + [(f"{n} neighbours", {"max_dense_items": 0, "neighbors": n}) for n in a.neighbors])
    for label, options in forms:
        start = time.perf_counter()
        model = DLAE(kg.num_users, kg.num_items, **options).fit(train)
        seconds = time.perf_counter() - start
        v = evaluate(model, test=valid, mask=train, ks=(10, 20)).metrics
        t = evaluate(model, test=test, mask=(train + valid).tocsr(), ks=(10, 20)).metrics
        print(json.dumps({"form": label, "fit_seconds": round(seconds, 2),
                          "valid_ndcg@10": round(v["ndcg@10"], 4),
                          "test_ndcg@10": round(t["ndcg@10"], 4),
                          "test_recall@20": round(t["recall@20"], 4)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
