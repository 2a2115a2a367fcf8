"""Latency of requests through the facade on ML-100K: recommend(query=..., k=10,
explain=True) over the query benchmark's queries, new users' liked titles, and feedback +
the next recommend.

    PYTHONPATH=$PWD HF_HUB_OFFLINE=1 python scripts/request_latency.py \\
        --ml100k ../shared/datasets/ml-100k --kg-dir ../shared/datasets/kg-links/RecBole-ml-100k

The model is EASE (closed form, fitted in seconds); the request path (parsing, intent
scoring, explanations, feedback) is the same for every model. Each figure is wall-clock
and CPU time (``time.process_time``: this process only, so less sensitive to other jobs
on the machine) on one torch thread, after one warm-up request. Queries are timed the
first time they are seen (no cached query embedding) and again (cached) separately.
Report them with the load average printed before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def timed(fn: Callable[[], object], wall: list[float], cpu: list[float]) -> None:
    """Run ``fn`` once, appending its wall and CPU milliseconds."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    wall.append((time.perf_counter() - t0) * 1000)
    cpu.append((time.process_time() - c0) * 1000)


def show(label: str, wall: list[float], cpu: list[float]) -> None:
    w, c = np.array(wall), np.array(cpu)
    print(f"{label}: n={w.size}, wall p50 {np.median(w):.1f} ms, p95 {np.percentile(w, 95):.1f} "
          f"ms; CPU p50 {np.median(c):.1f} ms, p95 {np.percentile(c, 95):.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ml100k", type=Path, required=True)
    ap.add_argument("--kg-dir", type=Path, help="RecBole ml-100k KG folder to merge")
    ap.add_argument("--profile", action="store_true",
                    help="also print the costliest kgrec functions of the query requests")
    ap.add_argument("--model", default="ease")
    ap.add_argument("--repeats", type=int, default=2, help="cached passes over the queries")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    from kgrec import Recommender
    from kgrec.config import KGRecConfig
    from kgrec.data import load_dataset

    print(f"load average before: {os.getloadavg()}")
    ds = load_dataset("ml-100k", data_dir=args.ml100k, kg_dir=args.kg_dir)
    config = KGRecConfig().replace(model={"name": args.model}, text={"show_progress": False},
                                   train={"show_progress": False})
    rec = Recommender(config).fit(ds)
    queries = [q["q"] for q in json.loads((HERE / "query_benchmark_queries.json")
                                          .read_text(encoding="utf-8"))["ml-100k"]]
    rec.recommend(query="something to watch tonight", k=10)   # warm-up (loads the encoder)
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
    for label, passes in (("first time", 1), ("cached", args.repeats)):
        wall: list[float] = []
        cpu: list[float] = []
        for _ in range(passes):
            for q in queries:
                if profiler is not None and label == "first time":
                    profiler.enable()
                timed(lambda q=q: rec.recommend(query=q, k=10, explain=True), wall, cpu)
                if profiler is not None:
                    profiler.disable()
        show(f"recommend(query=..., k=10, explain=True), {label}", wall, cpu)
    if profiler is not None:
        import pstats

        pstats.Stats(profiler).sort_stats("cumulative").print_stats("kgrec", 30)
    titles = [ds.items["title"].iloc[i] for i in range(0, 300, 7)]
    wall, cpu = [], []
    for j in range(len(titles) - 2):
        timed(lambda j=j: rec.recommend(liked=titles[j:j + 3], k=10, explain=True), wall, cpu)
    show("recommend(liked=3 titles, k=10, explain=True)", wall, cpu)
    rng = np.random.default_rng(0)
    signals = ("dislike", "more_like_this", "not_interested", "like")
    for explain, users in ((True, rec.kg_.user_ids[:20]), (False, rec.kg_.user_ids[20:40])):
        wall, cpu = [], []
        for u in users:
            recs = rec.recommend(u, k=10)
            for j in range(4):
                item = recs[int(rng.integers(len(recs)))].item_id

                def step(u=u, item=item, j=j, explain=explain) -> None:
                    nonlocal recs
                    rec.feedback(u, item, signals[j])
                    recs = rec.recommend(u, k=10, explain=explain)

                timed(step, wall, cpu)
        show(f"feedback + next recommend(user, k=10, explain={explain})", wall, cpu)
    wall, cpu = [], []
    for j in range(20):
        timed(lambda j=j: (rec.feedback(f"s{j}", "Heat", "more_like_this"),
                           rec.recommend(liked=["Toy Story"], session=f"s{j}", k=10)), wall, cpu)
    show("cold session feedback + next recommend(liked=..., session=...)", wall, cpu)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
