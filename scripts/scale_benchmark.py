#!/usr/bin/env python3
"""Time and peak memory of the training pipeline per stage, at several catalogue sizes.

    python scripts/scale_benchmark.py --ratings 100000 250000 500000 1000000 --out results/scale \\
        [--epochs N] [--model hybrid] [--threads 1] [--seed 0] [--make-catalog PATH] \\
        [--catalogues DIR]
    python scripts/scale_benchmark.py --serve MODEL_DIR   # load time, recommend() p50/p95 (wall, CPU)

For each size a synthetic catalogue is generated with ``make_catalog.py`` (default
``../shared/scale/make_catalog.py``; movies, people and users scale with the ratings as
in its default 1M / 50k / 200k / 60k catalogue) and the pipeline of ``kgrec train`` runs
stage by stage in a fresh child process: ``load`` (CSV folder → MovieDataset), ``graph``
(seeded 90/10 split, KnowledgeGraph), ``text`` (node-text embeddings, empty cache),
``model`` (fit, validation included), ``evaluate`` (validation NDCG@10 / Recall@20 over
at most 10,000 sampled validation users, as ``kgrec train`` reports them),
``save`` (Recommender set-up + save) and ``turtle`` (streamed RDF export). Prints a
table, writes ``OUT/scale.json`` and a log-log plot ``OUT/scale.png``. ``--epochs``
defaults to the package default (as ``kgrec train``); ``--catalogues DIR`` keeps the
generated catalogues in ``DIR/<ratings>`` and reuses them (large ones take minutes to
make; write them outside the repository).

Timings on a shared machine are upper bounds: the load average is recorded with them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from collections.abc import Iterator
from typing import Any

STAGES = ("load", "graph", "text", "model", "evaluate", "save", "turtle", "reload")
DEFAULT_MAKER = Path(__file__).resolve().parents[1] / ".." / "shared" / "scale" / "make_catalog.py"


def catalogue_sizes(ratings: int) -> dict[str, int]:
    """Movies, people and users for ``ratings`` in the proportions of the default
    catalogue (1M ratings: 50k movies, 200k people, 60k users)."""
    return {"ratings": ratings, "movies": max(100, ratings // 20),
            "people": max(400, ratings // 5), "users": max(120, ratings * 6 // 100)}


def run_stages(folder: Path, work: Path, *, model: str, epochs: int | None, threads: int,
               seed: int, text: dict[str, Any] | None = None,
               model_options: dict[str, Any] | None = None,
               skip_text: bool = False) -> dict[str, Any]:
    """Run the pipeline on catalogue ``folder`` in this process; per-stage seconds and
    peak RSS (MB, sampled), plus sizes and validation metrics. ``text``: extra
    :class:`~kgrec.text.TextConfig` settings (e.g. ``{"derive_above": 0}``),
    ``model_options`` extra :class:`~kgrec.config.ModelConfig` ones.
    ``skip_text``: no transformer pass; every node gets a zero feature row and the text
    stage is marked ``skipped`` (to time the other stages when the encoder would take too
    long; the default hybrid does not use text in its scores)."""
    import torch

    torch.set_num_threads(threads)
    from kgrec.benchmark import PeakMemory
    from kgrec.config import KGRecConfig
    from kgrec.data import load_dataset
    from kgrec.data.splits import random_split
    from kgrec.evaluate import evaluate, to_csr
    from kgrec.graph import KnowledgeGraph
    from kgrec.graph.rdf import write_turtle
    from kgrec.recommender import Recommender
    from kgrec.text import encode_graph
    from kgrec.train.fit import ModelContext, fit_model, item_years
    from kgrec.train.fusion import validation_subset

    train = {"seed": seed, "threads": threads, "show_progress": False}
    if epochs is not None:
        train["epochs"] = epochs
    config = KGRecConfig().replace(
        model={"name": model, **(model_options or {})}, train=train,
        text={"cache_dir": str(work / "embeddings"), "show_progress": False, **(text or {})})
    stages: dict[str, dict[str, float]] = {}
    state: dict[str, Any] = {}

    def stage(name: str, fn) -> None:
        with PeakMemory() as memory:
            start = time.perf_counter()
            cpu = time.process_time()
            fn()
            stages[name] = {"seconds": time.perf_counter() - start,
                            "cpu_seconds": time.process_time() - cpu, "peak_mb": memory.peak_mb}
        print(f"  {name:<9} {stages[name]['seconds']:8.1f} s  {memory.peak_mb:8.0f} MB",
              file=sys.stderr, flush=True)

    def load() -> None:
        state["ds"] = load_dataset(str(folder))

    def graph() -> None:
        ds = state["ds"]
        split = random_split(ds.ratings, (0.9, 0.1, 0.0), seed=seed)
        state["train"], state["valid"] = split.train, split.valid
        state["kg"] = KnowledgeGraph.from_dataset(ds, split.train)

    def text() -> None:
        if skip_text:
            kg = state["kg"]
            state["features"] = {k: torch.zeros(kg.num_nodes(k), 384) for k in kg.node_types
                                 if k != "user"}
            return
        state["features"] = encode_graph(state["kg"], state["ds"], config.text)

    def fit() -> None:
        kg = state["kg"]
        state["valid_csr"] = to_csr(state["valid"], kg)
        state["ctx"] = ModelContext.from_graph(kg, state["valid_csr"], state["features"],
                                               item_years(state["ds"], kg))
        state["fitted"] = fit_model(model, state["ctx"], config)
        state["weights"] = state["fitted"].details.get("weights")

    def evaluation() -> None:
        kg = state["kg"]
        result = evaluate(state["fitted"].model, test=validation_subset(state["valid_csr"]),
                          mask=kg.interaction_matrix(), ks=(10, 20))
        state["metrics"] = {k: result.metrics[k] for k in ("ndcg@10", "recall@20")}

    def save() -> None:
        import pandas as pd

        rec = Recommender.from_fitted(state["ds"], state["ctx"], state["fitted"].model,
                                      pd.concat([state["train"], state["valid"]]), config)
        rec.save(work / "model")

    def turtle() -> None:
        write_turtle(state["kg"], work / "graph.ttl")

    def reload() -> None:
        for key in ("ctx", "fitted", "features", "kg_train"):
            state.pop(key, None)
        state["rec"] = Recommender.load(work / "model")

    for name, fn in zip(STAGES, (load, graph, text, fit, evaluation, save, turtle, reload)):
        stage(name, fn)
    serve = recommend_latency(state["rec"], seed=seed)
    kg = state["kg"]
    if skip_text:
        stages["text"]["skipped"] = True
    return {"stages": stages, "metrics": state["metrics"], "serve": serve,
            "fusion_weights": state["weights"],
            "nodes": {k: len(v) for k, v in kg.nodes.items()},
            "edges": int(sum(v.shape[1] for v in kg.edges.values())),
            "ratings": int(len(state["ds"].ratings))}


def recommend_latency(rec: Any, *, users: int = 200, seed: int = 0) -> dict[str, float]:
    """Milliseconds per ``recommend(user, k=10, explain=True)`` for ``users`` random known
    users (after 5 warm-up calls): p50, p95, mean of the wall time, and p50 / p95 of the
    calling thread's CPU time (``cpu_p50_ms``, ``cpu_p95_ms``: what a shared machine
    distorts least)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    ids = [str(u).removeprefix("user:") for u in rec.kg_.nodes["user"]]
    chosen = [ids[i] for i in rng.choice(len(ids), min(users, len(ids)), replace=False)]
    for user in chosen[:5]:
        rec.recommend(user, k=10, explain=True)
    times, cpu = [], []
    for user in chosen:
        start, start_cpu = time.perf_counter(), time.thread_time()
        rec.recommend(user, k=10, explain=True)
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.thread_time() - start_cpu) * 1000)
    return {"p50_ms": float(np.percentile(times, 50)), "p95_ms": float(np.percentile(times, 95)),
            "mean_ms": float(np.mean(times)), "cpu_p50_ms": float(np.percentile(cpu, 50)),
            "cpu_p95_ms": float(np.percentile(cpu, 95)), "users": len(times)}


def plot(rows: list[dict[str, Any]], path: Path) -> Path | None:
    """Log-log plot of CPU seconds (a shared machine inflates wall time) and peak MB per
    stage against ratings."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    rows = sorted(rows, key=lambda r: r["ratings"])  # sizes may have run in any order
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(10, 4))
    for name in STAGES:
        kept = [r for r in rows if not r["stages"][name].get("skipped")]
        if not kept:
            continue
        x = [r["ratings"] for r in kept]
        ax_t.plot(x, [max(r["stages"][name]["cpu_seconds"], 1e-3) for r in kept], "o-",
                  label=name)
        ax_m.plot(x, [r["stages"][name]["peak_mb"] for r in kept], "o-", label=name)
    for ax, label in ((ax_t, "CPU seconds"), (ax_m, "peak RSS (MB)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("ratings")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    ax_t.legend(fontsize=8)
    fig.tight_layout()
    from kgrec.io import atomic_write

    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=120, format="png"))
    plt.close(fig)
    return path


def table(rows: list[dict[str, Any]]) -> str:
    head = "| ratings | movies | people | users | " + " | ".join(STAGES) + \
        " | total s (wall) | peak MB | NDCG@10 (valid) |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in sorted(rows, key=lambda r: r["ratings"]):
        st = r["stages"]
        cells = ["skipped" if st[s].get("skipped") else
                 f"{st[s]['seconds']:.1f} s ({st[s]['cpu_seconds']:.1f} CPU) / "
                 f"{st[s]['peak_mb']:.0f} MB" for s in STAGES]
        lines.append(f"| {r['ratings']:,} | {r['sizes']['movies']:,} | {r['sizes']['people']:,} | "
                     f"{r['sizes']['users']:,} | " + " | ".join(cells) +
                     f" | {sum(v['seconds'] for v in st.values()):.1f} | "
                     f"{max(v['peak_mb'] for v in st.values()):.0f} | "
                     f"{r['metrics']['ndcg@10']:.4f} |")
    return "\n".join(lines)


@contextlib.contextmanager
def catalogue_folder(root: Path | None, ratings: int) -> Iterator[str]:
    """``root/<ratings>`` (created, kept), or a temporary folder removed afterwards."""
    if root is None:
        with tempfile.TemporaryDirectory(prefix="kgrec-catalogue-") as folder:
            yield folder
        return
    folder = root / str(ratings)
    folder.mkdir(parents=True, exist_ok=True)
    yield str(folder)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ratings", type=int, nargs="+", default=[20_000, 50_000, 100_000])
    p.add_argument("--out", type=Path, default=Path("results/scale"))
    p.add_argument("--model", default="hybrid")
    p.add_argument("--epochs", type=int, default=None,
                   help="BPR epochs (default: the package default, as kgrec train)")
    p.add_argument("--catalogues", type=Path, default=None,
                   help="keep generated catalogues in DIR/<ratings> and reuse them")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--make-catalog", type=Path, default=DEFAULT_MAKER)
    p.add_argument("--skip-text", action="store_true",
                   help="zero text features instead of the encoder (text stage: skipped)")
    p.add_argument("--serve", type=Path, metavar="MODEL_DIR",
                   help="only time Recommender.load of a saved folder and recommend() latency")
    p.add_argument("--child", type=Path, help=argparse.SUPPRESS)  # internal: run one size
    a = p.parse_args(argv)
    if a.serve is not None:
        import torch

        torch.set_num_threads(a.threads)
        from kgrec.benchmark import PeakMemory
        from kgrec.recommender import Recommender

        with PeakMemory() as memory:
            start, start_cpu = time.perf_counter(), time.process_time()
            rec = Recommender.load(a.serve)
            seconds, cpu = time.perf_counter() - start, time.process_time() - start_cpu
            latency = recommend_latency(rec, seed=a.seed)
        print(json.dumps({"load_seconds": seconds, "load_cpu_seconds": cpu,
                          "peak_mb": memory.peak_mb, **latency,
                          "load_average": os.getloadavg()[0]}))
        return 0
    if a.child is not None:
        with tempfile.TemporaryDirectory(prefix="kgrec-scale-") as work:
            result = run_stages(a.child, Path(work), model=a.model, epochs=a.epochs,
                                threads=a.threads, seed=a.seed, skip_text=a.skip_text)
        print(json.dumps(result))
        return 0
    if not a.make_catalog.is_file():
        p.error(f"--make-catalog {a.make_catalog}: no such file")
    a.out.mkdir(parents=True, exist_ok=True)
    rows = []
    env = dict(os.environ, OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "PASSIVE"),
               OPENBLAS_NUM_THREADS=str(a.threads), HF_HUB_OFFLINE="1")
    for ratings in a.ratings:
        sizes = catalogue_sizes(ratings)
        with catalogue_folder(a.catalogues, ratings) as folder:
            if not (Path(folder) / "ratings.csv").is_file():
                subprocess.run([sys.executable, str(a.make_catalog), folder, "--seed", str(a.seed)]
                               + [f"--{k}={v}" for k, v in sizes.items()], check=True, env=env)
            print(f"{ratings:,} ratings (load average {os.getloadavg()[0]:.1f})", file=sys.stderr)
            start = time.perf_counter()
            out = subprocess.run([sys.executable, __file__, "--child", folder, "--model", a.model,
                                  "--threads", str(a.threads), "--seed", str(a.seed)]
                                 + ([] if a.epochs is None else ["--epochs", str(a.epochs)])
                                 + (["--skip-text"] if a.skip_text else []),
                                 check=True, env=env, stdout=subprocess.PIPE, text=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        result.update(sizes=sizes, wall_seconds=time.perf_counter() - start,
                      load_average=os.getloadavg()[0], model=a.model, epochs=a.epochs,
                      threads=a.threads)
        rows.append(result)
        from kgrec.io import atomic_write_text

        atomic_write_text(a.out / "scale.json", json.dumps(rows, indent=2))
    print(table(rows))
    png = plot(rows, a.out / "scale.png")
    print(f"wrote {a.out / 'scale.json'}" + (f" and {png}" if png else ""), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
