"""``kgrec benchmark``: every model side by side on a fixed split (table, PNG, JSON)."""

from __future__ import annotations

import argparse

NAME = "benchmark"
HELP = "Fit and evaluate models side by side on a fixed train/valid/test split."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--split-dir", required=True,
                        help="folder with train.tsv, valid.tsv, test.tsv (+ cold_items.tsv)")
    parser.add_argument("--dataset", required=True, help="dataset name or folder (movies, side info)")
    parser.add_argument("--data-dir", help="local folder of the dataset")
    parser.add_argument("--kg-dir", help="RecBole .kg/.link folder merged into the graph")
    parser.add_argument("--models", nargs="+", help="models to run (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    parser.add_argument("--repeats", type=int, default=1,
                        help="seeds seed..seed+N-1 for trainable models; mean ± std reported")
    parser.add_argument("--config", help="TOML/JSON config with hyper-parameters")
    parser.add_argument("--epochs", type=int, help="override train.epochs")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--out", default="results/benchmark.json", help="JSON output path")
    parser.add_argument("--plot", help="PNG of validation NDCG per epoch (default: next to --out)")
    parser.add_argument("--explain-models", nargs="*",
                        help="models whose top-10 explanations are measured (coverage, "
                             "diversity, fidelity; default: the configured model)")
    parser.add_argument("--ablate", nargs="+", choices=("kg", "text"), default=(),
                        help="also run each model without the KG / the text (same seeds)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from kgrec.benchmark import DEFAULT_MODELS, run_benchmark
    from kgrec.config import KGRecConfig

    config = KGRecConfig.load(args.config) if args.config else KGRecConfig()
    train = {"show_progress": not args.no_progress}
    if args.epochs is not None:
        train["epochs"] = args.epochs
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    config = config.replace(train=train, text={"show_progress": not args.no_progress})
    out = Path(args.out)
    result = run_benchmark(args.split_dir, args.dataset, data_dir=args.data_dir,
                           kg_dir=args.kg_dir, models=tuple(args.models or DEFAULT_MODELS),
                           seeds=tuple(range(args.seed, args.seed + max(1, args.repeats))),
                           config=config, log_dir=out.parent / (out.stem + "-logs"),
                           explain_models=None if args.explain_models is None
                           else tuple(args.explain_models), ablate=tuple(args.ablate))
    print(f"\n{result.dataset} · {result.split} · {result.protocol} · "
          f"{result.extra['num_users_evaluated']} users\n")
    print(result.table())
    result.save_json(out)
    plot = result.plot(args.plot or out.with_suffix(".png"))
    print(f"\nwrote {out}" + (f" and {plot}" if plot else ""))
    return 0
