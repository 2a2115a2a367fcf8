"""Side-by-side benchmark of kgrec's models on a fixed split.

The split gives the interactions (``train/valid/test.tsv``, optionally ``cold_items.tsv``),
the dataset gives movies and side information. Protocol (as in ``shared/benchmarks``):
train on train, choose epochs (and fusion weights) on validation NDCG@10, report test with
full ranking over all items, the user's train and valid items masked. On a cold-start split
the test ranking is over the cold items only, and models that cannot score unseen items
are reported as such.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from kgrec.config import KGRecConfig
from kgrec.models.registry import MODEL_NAMES

#: Every registered model (the registry imports no torch at import time).
DEFAULT_MODELS = MODEL_NAMES
REPORTED = ("recall@10", "ndcg@10", "recall@20", "ndcg@20", "mrr@10", "hit@10", "precision@10",
            "map@10", "coverage@10", "novelty@10")


def _rss_mb() -> float:
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class PeakMemory:
    """Context manager sampling the process RSS every ``interval`` seconds; ``peak_mb``."""

    def __init__(self, interval: float = 0.05):
        self.interval, self.peak_mb = interval, 0.0
        self._stop = threading.Event()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, _rss_mb())
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self.peak_mb = _rss_mb()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, _rss_mb())


@dataclass
class ModelReport:
    """One model's benchmark figures (``metrics`` on test; ``None`` when it cannot run)."""

    name: str
    metrics: dict[str, float] = field(default_factory=dict)
    train_seconds: float = float("nan")
    seconds_per_epoch: float | None = None
    best_epoch: int | None = None
    eval_seconds: float = float("nan")
    peak_rss_mb: float = float("nan")
    #: process CPU seconds (every thread) in user and in system mode while the model was
    #: fitted and evaluated; a large system share means page faults or thread wake-ups
    cpu_user_seconds: float = float("nan")
    cpu_system_seconds: float = float("nan")
    valid_curve: list[tuple[int, float]] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    std: dict[str, float] = field(default_factory=dict)
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def system_share(self) -> float:
        """System time as a share of the model's CPU time (nan when not measured)."""
        total = self.cpu_user_seconds + self.cpu_system_seconds
        return self.cpu_system_seconds / total if total > 0 else float("nan")

    def to_dict(self) -> dict[str, Any]:
        if self.note and not self.metrics:
            return {"skipped": self.note}
        out: dict[str, Any] = {k: self.metrics.get(k) for k in REPORTED if k in self.metrics}
        out.update({f"{k}_std": v for k, v in self.std.items()})
        out.update({"train_seconds": self.train_seconds, "seconds_per_epoch": self.seconds_per_epoch,
                    "best_epoch": self.best_epoch, "eval_seconds": self.eval_seconds,
                    "peak_rss_mb": self.peak_rss_mb, "cpu_user_seconds": self.cpu_user_seconds,
                    "cpu_system_seconds": self.cpu_system_seconds})
        if self.seeds:
            out["seeds"] = self.seeds
        if self.note:
            out["note"] = self.note
        out.update(self.details)
        return out


@dataclass
class BenchmarkResult:
    """All models' reports on one split; ``table()`` is markdown, ``to_json()`` the file."""

    split: str
    dataset: str
    protocol: str
    models: dict[str, ModelReport]
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"split": self.split, "dataset": self.dataset, "protocol": self.protocol,
                "models": {n: r.to_dict() for n, r in self.models.items()}, **self.extra}

    def table(self) -> str:
        head = ("model", "NDCG@10", "Recall@10", "NDCG@20", "Recall@20", "MRR@10", "Hit@10",
                "s/epoch", "best epoch", "train s", "system CPU %", "peak RSS MB")
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for name, r in self.models.items():
            if not r.metrics:
                lines.append(f"| {name} | " + " | ".join(["–"] * (len(head) - 2))
                             + f" | {r.note} |")
                continue

            def cell(key: str) -> str:
                value = r.metrics.get(key)
                if value is None:
                    return "–"
                std = r.std.get(key)
                return f"{value:.4f}" + (f" ± {std:.4f}" if std is not None else "")

            spe = "–" if r.seconds_per_epoch is None else f"{r.seconds_per_epoch:.3f}"
            lines.append("| " + " | ".join([
                name, cell("ndcg@10"), cell("recall@10"), cell("ndcg@20"), cell("recall@20"),
                cell("mrr@10"), cell("hit@10"), spe,
                "–" if r.best_epoch is None else str(r.best_epoch),
                f"{r.train_seconds:.1f}", f"{r.system_share:.0%}" if r.system_share == r.system_share
                else "–", f"{r.peak_rss_mb:.0f}"]) + " |")
        explained = {n: r.details["explanations"] for n, r in self.models.items()
                     if "explanations" in r.details}
        if explained:
            lines += ["", "| model | expl. coverage (≤3 hops) | path types / list | mean hops "
                      "| fidelity: score dropped | mean drop | drop, random anchor |",
                      "|---|---|---|---|---|---|---|"]
            for name, q in explained.items():
                def f(key: str, fmt: str = ".3f") -> str:
                    value = q.get(key)
                    return "–" if value is None else format(value, fmt)

                lines.append(f"| {name} | {f('coverage')} | {f('path_type_diversity', '.2f')} | "
                             f"{f('mean_path_length', '.2f')} | {f('fidelity_share_dropped')} | "
                             f"{f('fidelity_mean_drop', '.4g')} | "
                             f"{f('fidelity_mean_drop_random', '.4g')} |")
        segments = {n: r.details["segments"] for n, r in self.models.items()
                    if r.details.get("segments")}
        if segments:
            from kgrec.evaluate.segments import segment_table

            lines += ["", segment_table(segments)]
        for r in self.models.values():
            if r.details.get("ablation"):
                from kgrec.evaluate.ablation import AblationResult

                lines += ["", AblationResult.from_dict(r.details["ablation"]).table()]
        return "\n".join(lines)

    def save_json(self, path: str | Path) -> Path:
        from kgrec.io import atomic_write_text

        return atomic_write_text(path, json.dumps(self.to_dict(), indent=2, default=_json_default))

    def plot(self, path: str | Path) -> Path | None:
        """PNG of validation NDCG@10 per epoch of every trained model."""
        curves = {n: r.valid_curve for n, r in self.models.items() if r.valid_curve}
        if not curves:
            return None
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from kgrec.io import atomic_write

        fig, ax = plt.subplots(figsize=(7, 4.5))
        for name, curve in curves.items():
            epochs, values = zip(*curve)
            ax.plot(epochs, values, label=name)
        ax.set_xlabel("epoch")
        ax.set_ylabel("validation NDCG@10")
        ax.set_title(f"{self.dataset} · {self.split}")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120))
        plt.close(fig)
        return Path(path)


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return str(value)


def run_benchmark(split_dir: str | Path, dataset: str, *, data_dir: str | Path | None = None,
                  kg_dir: str | Path | None = None, models: tuple[str, ...] = DEFAULT_MODELS,
                  seeds: tuple[int, ...] = (0,), config: KGRecConfig | None = None,
                  log_dir: str | Path | None = None,
                  explain_models: tuple[str, ...] | None = None,
                  ablate: tuple[str, ...] = ()) -> BenchmarkResult:
    """Fit and evaluate ``models`` on the split in ``split_dir``.

    Args:
        split_dir: folder with ``train.tsv``, ``valid.tsv``, ``test.tsv`` (and
            ``cold_items.tsv`` for a cold-start split).
        dataset: dataset name or folder giving the movies and side information.
        data_dir: local folder of the dataset (see :func:`kgrec.data.load_dataset`).
        kg_dir: RecBole ``.kg``/``.link`` folder merged into the graph.
        models: model names (see :data:`kgrec.models.registry.MODEL_NAMES`).
        seeds: training seeds; trainable models run once per seed and report the mean
            (and std) of the test metrics.
        config: hyper-parameters (default :class:`KGRecConfig`).
        log_dir: folder receiving per-model JSON-lines training logs.
        explain_models: models whose test top-10 explanations are measured (warm splits):
            coverage, path-type diversity, mean length, fidelity (default: the
            configured model, ``config.model.name``; ``()`` for none).
        ablate: signals (``"kg"``, ``"text"``) to remove in an ablation of every model,
            same split and seeds (:func:`kgrec.evaluate.ablation.run_ablation`).

    A fusion model listed after its components reuses their fits of the same seed
    (``details["reused_fits"]``; its ``train_seconds`` are then its own work only), and
    the ablation reuses the fits that read neither signal: nothing measured changes.
    """
    from kgrec.data import load_dataset, read_split
    from kgrec.evaluate import evaluate, mean_segments, to_csr, training_segments
    from kgrec.models.registry import CLOSED_FORM, components, get_spec, is_inductive
    from kgrec.train import build_context, fit_model

    config = config or KGRecConfig()
    unknown = [m for m in models if m not in MODEL_NAMES]
    if unknown:
        raise ValueError(f"unknown models {unknown}; choose from {list(MODEL_NAMES)}")
    ds = load_dataset(dataset, data_dir=data_dir, kg_dir=kg_dir)
    split = read_split(split_dir)
    if explain_models is None:
        explain_models = (config.model.name,)
    needs_text = (bool(set(explain_models) & set(models)) or config.model.name in models
                  or any(get_spec(m).needs_text(config) for m in models))
    ctx = build_context(ds, split.train, split.valid, config, text=needs_text)
    kg, features, valid = ctx.kg, ctx.node_features, ctx.valid
    test = to_csr(split.test, kg)
    mask = ctx.train if valid is None else (ctx.train + valid).tocsr()
    candidates = None
    if split.is_cold_start:
        candidates = torch.tensor([kg.item_index(i) for i in split.cold_items], dtype=torch.long)
    segments = training_segments(ctx.train)
    reports: dict[str, ModelReport] = {}
    # (name, seed; None for closed forms) -> fit: a fusion reuses its components' fits
    fits: dict[tuple[str, int | None], Any] = {}
    wanted = {p for m in models for p in components(m, config)}
    for name in models:
        if split.is_cold_start and not is_inductive(name, config):
            reports[name] = ModelReport(name, note="cannot score unseen items (not inductive)")
            continue
        runs = []
        trainable = get_spec(name).fit != CLOSED_FORM
        for seed in (seeds if trainable else seeds[:1]):
            log_path = None
            if log_dir is not None:
                Path(log_dir).mkdir(parents=True, exist_ok=True)
                log_path = str(Path(log_dir) / f"{name}-seed{seed}.jsonl")
                Path(log_path).unlink(missing_ok=True)
            cfg = config.replace(train={"seed": seed, "log_path": log_path})
            parts = components(name, config)
            done = {p: fits[key] for p in parts
                    if (key := (p, None if get_spec(p).fit == CLOSED_FORM else seed)) in fits}
            with PeakMemory() as memory:
                cpu = os.times()
                start = time.perf_counter()
                fitted = fit_model(name, ctx, cfg, fitted=done)
                train_seconds = time.perf_counter() - start
                start = time.perf_counter()
                result = evaluate(fitted.model, test=test, mask=mask, ks=(10, 20),
                                  candidates=candidates, item_popularity=ctx.item_popularity,
                                  segments=segments)
                eval_seconds = time.perf_counter() - start
                cpu_after = os.times()
                cpu_seconds = (cpu_after.user - cpu.user, cpu_after.system - cpu.system)
            if name in wanted:
                fits[(name, seed if trainable else None)] = fitted
            runs.append((seed, fitted, result, train_seconds, eval_seconds, memory.peak_mb,
                         cpu_seconds))
        reports[name] = _summarise(name, runs)
        if done:
            reports[name].details["reused_fits"] = sorted(done)
        reports[name].details["segments"] = mean_segments(r[2].segments for r in runs)
        if ablate:
            from kgrec.evaluate.ablation import run_ablation

            reports[name].details["ablation"] = run_ablation(
                name, ctx, test=test, mask=mask, config=config, seeds=[r[0] for r in runs],
                remove=ablate, candidates=candidates, item_popularity=ctx.item_popularity,
                segments=segments, full_results=[r[2] for r in runs],
                full_fits=[r[1] for r in runs],
                encode_text=None if features is None else _text_encoder(ds, config)).to_dict()
        if name in explain_models and not split.is_cold_start:
            start = time.perf_counter()
            quality = explanation_quality(runs[0][1].model, kg, mask, features,
                                          movies=ds.items)
            reports[name].details["explanations"] = quality.to_dict()
            reports[name].details["explanations"]["seconds"] = time.perf_counter() - start
        if name == config.model.name and not split.is_cold_start and features is not None:
            from kgrec.recommender import Recommender

            seen = pd.concat([split.train, split.valid])
            rec = Recommender.from_fitted(ds, ctx, runs[0][1].model, seen, config)
            reports[name].details["latency"] = recommender_latency(rec, seed=seeds[0])
    protocol = ("cold-start: rank the held-out cold items only" if split.is_cold_start
                else "full ranking over all items, train+valid items masked")
    extra = {"num_users_evaluated": int((np.asarray(test.sum(1)).ravel() > 0).sum()),
             "threads": torch.get_num_threads(), "seeds": list(seeds),
             "segments": segments.description}
    return BenchmarkResult(split.name, ds.name, protocol, reports, extra)


def _text_encoder(ds, config: KGRecConfig):
    """``graph -> node text features`` of ``ds`` under ``config.text`` (for ablations)."""
    from kgrec.text import encode_graph

    return lambda graph: encode_graph(graph, ds, config.text)


def recommender_latency(rec, n_users: int = 200, k: int = 10, seed: int = 0) -> dict[str, float]:
    """Single-user ``recommend(k, explain=True)`` latency (p50/p95 ms over ``n_users``
    seeded users, after one warm-up call) and ``recommend_batch`` time for all users."""
    users = rec.kg_.user_ids
    rng = np.random.default_rng(seed)
    sample = [users[i] for i in rng.choice(len(users), min(n_users, len(users)), replace=False)]
    rec.recommend(sample[0], k=k)
    times = []
    for user in sample:
        start = time.perf_counter()
        rec.recommend(user, k=k, explain=True)
        times.append((time.perf_counter() - start) * 1000)
    start = time.perf_counter()
    rec.recommend_batch(users, k=k)
    batch = time.perf_counter() - start
    return {"recommend_p50_ms": float(np.percentile(times, 50)),
            "recommend_p95_ms": float(np.percentile(times, 95)),
            "recommend_users": len(sample), "recommend_batch_all_users_s": batch,
            "recommend_batch_users": len(users)}


def top_k_lists(model, mask, k: int = 10, batch_size: int = 1024) -> np.ndarray:
    """``[U, k]`` item indices of each user's top-``k`` with ``mask`` items excluded."""
    from kgrec.evaluate import masked_topk

    users = torch.arange(model.num_users)
    out = []
    for lo in range(0, len(users), batch_size):
        batch = users[lo:lo + batch_size]
        scores = model.score_all(batch)
        exclude = torch.from_numpy(mask[batch.numpy()].toarray() > 0)
        out.append(masked_topk(scores, exclude, k))
    return torch.cat(out).numpy()


def explanation_quality(model, kg, mask, features=None, k: int = 10, users=None, movies=None):
    """Explanation metrics of ``model``'s top-``k`` lists over the training graph ``kg``.

    Anchors are chosen by the model's own leave-one-out effect (``score_history``) and
    titles disambiguated with ``movies`` (the items table). Fidelity uses the same
    ``score_history``: the recommended movie's score with the user's full training
    history vs without the explanation's anchor movie, and vs without a random one.
    """
    from kgrec.explain import PathExplainer, model_anchor_effect
    from kgrec.explain.quality import evaluate_explanations

    from kgrec.models.base import item_vectors

    model.eval()
    vectors = item_vectors(model, None if features is None else features.get("movie"))
    explainer = PathExplainer(kg, item_similarity=None if vectors is None else vectors.numpy(),
                              anchor_effect=model_anchor_effect(model, kg.num_items),
                              movies=movies)
    lists = top_k_lists(model, mask, k)
    users = range(kg.num_users) if users is None else users
    recs = [(u, [int(i) for i in lists[u] if i >= 0]) for u in users]

    score_fn = None
    try:
        model.score_history(torch.zeros(1, kg.num_items))
    except NotImplementedError:
        pass
    else:
        def score_fn(user: int, history: np.ndarray) -> np.ndarray:
            h = torch.zeros(1, kg.num_items)
            h[0, torch.from_numpy(np.asarray(history, dtype=np.int64))] = 1.0
            with torch.no_grad():
                return model.score_history(h)[0].numpy()

    return evaluate_explanations(explainer, recs, score_fn=score_fn)


def _summarise(name: str, runs: list) -> ModelReport:
    keys = list(runs[0][2].metrics)
    values = {k: [r[2].metrics[k] for r in runs] for k in keys}
    metrics = {k: float(np.mean(v)) for k, v in values.items()}
    std = {k: float(np.std(v)) for k, v in values.items()} if len(runs) > 1 else {}
    first = runs[0][1]
    training = first.training
    report = ModelReport(
        name, metrics, train_seconds=float(np.mean([r[3] for r in runs])),
        eval_seconds=float(np.mean([r[4] for r in runs])),
        peak_rss_mb=float(max(r[5] for r in runs)), seeds=[r[0] for r in runs], std=std,
        cpu_user_seconds=float(np.mean([r[6][0] for r in runs])),
        cpu_system_seconds=float(np.mean([r[6][1] for r in runs])))
    if training is not None:
        report.seconds_per_epoch = float(np.mean([r[1].training.seconds_per_epoch for r in runs]))
        report.best_epoch = training.best_epoch
        report.valid_curve = training.valid_curve
        report.details["epochs_run"] = len(training.history)
    if "weights" in first.details:
        report.details["fusion_weights"] = {k: round(v, 4) for k, v in first.details["weights"].items()}
    return report

