"""Probe extra components for the KG hybrid, chosen on validation only (issue 11).

Fits the KG hybrid's three components (DLAE, the KG DLAE, LightGCN; config
``configs/ml100k-kg-hybrid.toml``, seed 0) on ``random-811-seed0/train.tsv``, standardises
each user's scores over unrated movies, and searches fusion weights (grid step 0.1,
Σw = 1) on ``valid.tsv`` for: the three components; the three plus a time-local
popularity (training ratings of a movie on the days the user rated, Gaussian kernel of
τ days); the three plus RP3beta (α, β chosen on validation); and per-history-quartile
weights with and without the KG DLAE. Test NDCG@10 is printed for the chosen weights
only (train and valid masked)::

    PYTHONPATH=$PWD HF_HUB_OFFLINE=1 python scripts/probe_components.py
    PYTHONPATH=$PWD HF_HUB_OFFLINE=1 python scripts/probe_components.py --gnn lightgcn-kg
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np
import scipy.sparse as sp
import torch

from kgrec.config import KGRecConfig
from kgrec.data import load_dataset, read_split
from kgrec.evaluate import to_csr
from kgrec.evaluate.segments import user_quantiles
from kgrec.models.hybrid import standardize
from kgrec.train.fit import build_context, fit_model

DISCOUNT = 1 / np.log2(np.arange(2, 12))
GRID = np.round(np.linspace(0, 1, 11), 2)


def ndcg10(scores: np.ndarray, truth: np.ndarray, mask: np.ndarray,
           users: np.ndarray | None = None) -> float:
    """Mean NDCG@10 of dense scores over users with a relevant item; ``truth`` and
    ``mask``: dense boolean ``[U, I]`` (densified once by the caller: the grid scores
    hundreds of fusions)."""
    s = np.where(mask, -np.inf, scores)
    top = np.argpartition(-s, 10, axis=1)[:, :10]
    top = np.take_along_axis(top, np.argsort(-np.take_along_axis(s, top, 1), 1), 1)
    dcg = (np.take_along_axis(truth, top, 1) * DISCOUNT).sum(1)
    n = truth.sum(1)
    idcg = np.array([DISCOUNT[:min(x, 10)].sum() for x in n])
    keep = n > 0 if users is None else (n > 0) & users
    return float((dcg[keep] / idcg[keep]).mean())


def search(parts: list[np.ndarray], valid, mask, users=None) -> tuple[float, list[float]]:
    best = (-1.0, [])
    for w in itertools.product(GRID, repeat=len(parts) - 1):
        if sum(w) <= 1 + 1e-9:
            ws = [*w, 1 - sum(w)]
            v = ndcg10(sum(a * p for a, p in zip(ws, parts)), valid, mask, users)
            best = max(best, (v, ws), key=lambda t: t[0])
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split-dir", default="../shared/benchmarks/ml-100k/random-811-seed0")
    ap.add_argument("--data-dir", default="../shared/datasets/ml-100k")
    ap.add_argument("--kg-dir", default="../shared/datasets/kg-links/RecBole-ml-100k")
    ap.add_argument("--config", default="configs/ml100k-kg-hybrid.toml")
    ap.add_argument("--gnn", default="lightgcn", choices=("lightgcn", "lightgcn-kg"),
                    help="the BPR-trained component (lightgcn-kg: LightGCN over ratings and "
                         "KG edges, which the no-KG rows then replace by lightgcn)")
    args = ap.parse_args()
    ds = load_dataset("ml-100k", data_dir=args.data_dir, kg_dir=args.kg_dir)
    split = read_split(args.split_dir)
    config = KGRecConfig.load(args.config)
    ctx = build_context(ds, split.train, split.valid, config, text=False)
    kg, train = ctx.kg, ctx.train
    rated, valid = train.toarray() > 0, ctx.valid.toarray() > 0
    test, mask_t = to_csr(split.test, kg).toarray() > 0, rated | valid

    def standardise(scores: np.ndarray) -> np.ndarray:
        # per-user z-scores over the unrated movies, as the fusion does
        return standardize(torch.from_numpy(np.asarray(scores, np.float32)),
                           torch.from_numpy(rated)).numpy()

    users = torch.arange(kg.num_users)
    parts = {}
    for name in ("dlae", "kg-text-dlae", "lightgcn", args.gnn):
        if name not in parts:
            model = fit_model(name, ctx, config).model
            with torch.no_grad():
                parts[name] = standardise(model.score(users).numpy())

    def report(label: str, comps: list[np.ndarray]) -> None:
        v, w = search(comps, valid, rated)
        s = sum(a * p for a, p in zip(w, comps))
        print(f"{label}: weights {[round(float(a), 2) for a in w]} valid {v:.4f} test {ndcg10(s, test, mask_t):.4f}", flush=True)

    three = [parts["dlae"], parts["kg-text-dlae"], parts[args.gnn]]
    report(f"dlae + kg-dlae + {args.gnn}", three)
    if args.gnn != "lightgcn":
        report(f"dlae + {args.gnn}", [parts["dlae"], parts[args.gnn]])
        report(f"dlae + kg-dlae + {args.gnn} + lightgcn", [*three, parts["lightgcn"]])
        return
    report("dlae + lightgcn (no kg)", [parts["dlae"], parts["lightgcn"]])
    # time-local popularity
    tr = split.train
    u = np.array([kg.user_index(x) for x in tr.user_id])
    i = np.array([kg.item_index(x) for x in tr.item_id])
    day = (tr.timestamp.to_numpy() - tr.timestamp.min()) // 86400
    days = int(day.max()) + 1
    item_days = sp.coo_matrix((np.ones(len(i)), (i, day)), shape=(kg.num_items, days)).toarray()
    user_days = sp.coo_matrix((np.ones(len(u)), (u, day)), shape=(kg.num_users, days)).toarray()
    user_days /= user_days.sum(1, keepdims=True)
    d = np.arange(days)
    for tau in (3, 7, 14, 30):
        kernel = np.exp(-0.5 * ((d[:, None] - d[None, :]) / tau) ** 2)
        local = standardise(np.log1p(100 * user_days @ kernel @ item_days.T))
        report(f"three + time-local popularity tau {tau} d", [*three, local])
    # RP3beta
    x = train.astype(np.float64)
    du, di = np.asarray(x.sum(1)).ravel(), np.asarray(x.sum(0)).ravel()
    pui, piu = sp.diags(1 / np.maximum(du, 1)) @ x, sp.diags(1 / np.maximum(di, 1)) @ x.T
    best = None
    for alpha, beta in itertools.product((0.5, 0.8, 1.0), (0.0, 0.2, 0.4, 0.6)):
        w = (piu.power(alpha) @ pui.power(alpha)).toarray() / np.maximum(di, 1)[None, :] ** beta
        np.fill_diagonal(w, 0)
        s = np.asarray(x @ w)
        v = ndcg10(s, valid, rated)
        if best is None or v > best[0]:
            best = (v, alpha, beta, s)
    print(f"rp3beta alone: alpha {best[1]} beta {best[2]} valid {best[0]:.4f} "
          f"test {ndcg10(best[3], test, mask_t):.4f}")
    report("three + rp3beta", [*three, standardise(best[3])])
    # per-quartile weights
    quart = user_quantiles(rated.sum(1))
    for label, comps in (("with kg", three), ("no kg", [parts["dlae"], parts["lightgcn"]])):
        fused = np.zeros_like(comps[0])
        for q in range(4):
            _, w = search(comps, valid, rated, quart == q)
            fused[quart == q] = sum(a * p for a, p in zip(w, comps))[quart == q]
        print(f"per-quartile weights, {label}: test {ndcg10(fused, test, mask_t):.4f} "
              f"Q1 {ndcg10(fused, test, mask_t, quart == 0):.4f}", flush=True)


if __name__ == "__main__":
    main()
