"""Latency of requests through the facade on ML-100K: recommend(query=..., k=10,
explain=True) over the query benchmark's queries, and feedback + the next recommend.

    PYTHONPATH=$PWD HF_HUB_OFFLINE=1 python scripts/request_latency.py --ml100k ../shared/datasets/ml-100k

The model is EASE (closed form, fitted in seconds); the request path (parsing, intent
scoring, explanations, feedback) is the same for every model. Timings are wall-clock on
one torch thread, after one warm-up request; report them with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ml100k", type=Path, required=True)
    ap.add_argument("--model", default="ease")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    from kgrec import Recommender
    from kgrec.config import KGRecConfig
    from kgrec.data import load_dataset

    ds = load_dataset("ml-100k", data_dir=args.ml100k)
    config = KGRecConfig().replace(model={"name": args.model}, text={"show_progress": False},
                                   train={"show_progress": False})
    rec = Recommender(config).fit(ds)
    queries = [q["q"] for q in json.loads((HERE / "query_benchmark_queries.json")
                                          .read_text(encoding="utf-8"))["ml-100k"]]
    rec.recommend(query=queries[0], k=10)                      # warm-up (loads the encoder)
    times = []
    for _ in range(args.repeats):
        for q in queries:
            t0 = time.perf_counter()
            rec.recommend(query=q, k=10, explain=True)
            times.append((time.perf_counter() - t0) * 1000)
    t = np.array(times)
    print(f"recommend(query=..., k=10, explain=True): n={t.size}, median {np.median(t):.1f} ms, "
          f"p95 {np.percentile(t, 95):.1f} ms")
    rng = np.random.default_rng(0)
    signals = ("dislike", "more_like_this", "not_interested", "like")
    for explain, users in ((True, rec.kg_.user_ids[:20]), (False, rec.kg_.user_ids[20:40])):
        fb = []
        for u in users:
            recs = rec.recommend(u, k=10)
            for j in range(4):
                t0 = time.perf_counter()
                rec.feedback(u, recs[int(rng.integers(len(recs)))].item_id, signals[j])
                recs = rec.recommend(u, k=10, explain=explain)
                fb.append((time.perf_counter() - t0) * 1000)
        f = np.array(fb)
        print(f"feedback + next recommend(user, k=10, explain={explain}): n={f.size}, median "
              f"{np.median(f):.1f} ms, p95 {np.percentile(f, 95):.1f} ms")
    cold = []
    for j in range(20):
        t0 = time.perf_counter()
        rec.feedback(f"s{j}", "Heat", "more_like_this")
        rec.recommend(liked=["Toy Story"], session=f"s{j}", k=10)
        cold.append((time.perf_counter() - t0) * 1000)
    c = np.array(cold)
    print(f"cold session feedback + next recommend: n={c.size}, median {np.median(c):.1f} ms, "
          f"p95 {np.percentile(c, 95):.1f} ms")
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
