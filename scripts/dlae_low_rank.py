#!/usr/bin/env python3
"""Exact vs low-rank DLAE on a fixed split: what the scalable form costs in accuracy.

    OPENBLAS_NUM_THREADS=1 python scripts/dlae_low_rank.py \\
        [--split-dir ../shared/benchmarks/ml-100k/random-811-seed0] \\
        [--data-dir ../shared/datasets/ml-100k] [--ranks 64 128 256 512]

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
    for rank in [None, *a.ranks]:
        start = time.perf_counter()
        model = DLAE(kg.num_users, kg.num_items, max_dense_items=kg.num_items if rank is None else 0,
                     rank=rank or 1).fit(train)
        seconds = time.perf_counter() - start
        v = evaluate(model, test=valid, mask=train, ks=(10, 20)).metrics
        t = evaluate(model, test=test, mask=(train + valid).tocsr(), ks=(10, 20)).metrics
        print(json.dumps({"rank": rank or "exact", "fit_seconds": round(seconds, 2),
                          "valid_ndcg@10": round(v["ndcg@10"], 4),
                          "test_ndcg@10": round(t["ndcg@10"], 4),
                          "test_recall@20": round(t["recall@20"], 4)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
