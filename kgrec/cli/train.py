"""``kgrec train``: fit a recommender on a dataset and save it to a folder.

Example::

    kgrec train --dataset sample --out models/sample
    kgrec train --dataset ml-100k --data-dir ../shared/datasets --model lightgcn-kg \\
        --epochs 100 --out models/ml100k
    kgrec train --dataset ml-100k --split-dir ../shared/benchmarks/ml-100k/random-811-seed0 \\
        --config my.toml --out models/ml100k

Without ``--split-dir`` the ratings are cut per user into a seeded 90/10 train/valid split
(:func:`kgrec.data.random_split`, the split ``Recommender.fit`` makes by default); with it,
``train.tsv`` and ``valid.tsv`` of that folder are used (``test.tsv`` is left for
``kgrec evaluate --split-dir``). The validation part drives early stopping and the
hybrid's fusion weights; its NDCG@10 / Recall@10 are printed with the saved folder.

Under ``torchrun`` (``torchrun --nproc-per-node 2 -m kgrec train ... --distributed``) every
rank trains its shard of each BPR batch with DDP, closed-form models are computed on
rank 0 only, and rank 0 alone saves the folder (see :mod:`kgrec.distributed`).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kgrec.config import KGRecConfig
    from kgrec.data.dataset import MovieDataset
    from kgrec.data.splits import Split
    from kgrec.distributed import DistributedInfo
    from kgrec.recommender import Recommender

NAME = "train"
HELP = "Fit a recommender on a dataset and save it (config, weights, graph) to a folder."


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``train`` and ``demo`` that change the :class:`KGRecConfig`."""
    parser.add_argument("--config", metavar="FILE",
                        help="TOML/JSON config file (default: the built-in defaults)")
    parser.add_argument("--epochs", type=int, metavar="N", help="override train.epochs")
    parser.add_argument("--seed", type=int, metavar="S",
                        help="seed of the split and of training (default: train.seed, 0)")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="torch threads for text encoding and training (default: "
                             "torch's choice, one per core)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from kgrec.models.registry import MODEL_NAMES

    parser.add_argument("--dataset", default="sample", metavar="NAME_OR_PATH",
                        help="dataset name (sample, ml-100k, ml-1m, hetrec-2k, ...) or a folder "
                             "of CSV/TSV files (default: %(default)s)")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="folder holding the dataset's files (default: the kgrec cache)")
    parser.add_argument("--split-dir", metavar="DIR",
                        help="train on DIR/train.tsv and validate on DIR/valid.tsv instead of "
                             "a seeded 90/10 split")
    parser.add_argument("--model", metavar="NAME",
                        help="model name, overriding [model] name of the config (default: "
                             "hybrid; one of " + ", ".join(MODEL_NAMES) + ")")
    add_config_arguments(parser)
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="folder to save the fitted recommender to (replaced atomically)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object instead of the text summary")
    add_distributed_argument(parser)


def add_distributed_argument(parser: argparse.ArgumentParser) -> None:
    """``--distributed``, shared by ``train`` and ``recommend --all-users``."""
    parser.add_argument("--distributed", action="store_true",
                        help="join the torch.distributed group of a `torchrun` launch (implied "
                             "when launched by torchrun; an error otherwise); rank 0 writes")


def join_process_group(requested: bool, device: str = "cpu") -> DistributedInfo | None:
    """The :class:`~kgrec.distributed.DistributedInfo` of this process when it runs
    distributed (``requested``, or launched by ``torchrun``), else ``None``. A
    :class:`CLIError` says how to launch when ``requested`` outside ``torchrun``."""
    from kgrec.cli import CLIError
    from kgrec.distributed import init_distributed, launched_by_torchrun

    if not (requested or launched_by_torchrun()):
        return None
    try:
        return init_distributed(device)
    except RuntimeError as exc:
        raise CLIError(str(exc)) from exc


def prefer_passive_omp() -> None:
    """Let idle OpenMP threads sleep instead of spinning (``OMP_WAIT_POLICY=PASSIVE``)
    unless the user chose a policy. Call before torch is first imported: on a machine
    whose cores are busy with other work, spinning threads make torch's small sparse
    operations 5-20x slower (measured: 5 BPR epochs on the sample took 35 s with 2
    spinning threads vs 2 s passive). A no-op once torch is loaded."""
    import os
    import sys

    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


class torch_threads:  # noqa: N801 - used like a function: ``with torch_threads(n):``
    """Context manager: run the block with ``n`` torch intra-op threads (``None``:
    unchanged), then restore the previous setting."""

    def __init__(self, n: int | None):
        self.n, self.before = n, None

    def __enter__(self) -> None:
        if self.n is not None:
            import torch

            from kgrec.cli import CLIError

            if self.n < 1:
                raise CLIError(f"--threads must be >= 1, got {self.n}")

            self.before = torch.get_num_threads()
            torch.set_num_threads(self.n)

    def __exit__(self, *exc: object) -> None:
        if self.before is not None:
            import torch

            torch.set_num_threads(self.before)


def build_config(args: argparse.Namespace, model: str | None = None):
    """The :class:`~kgrec.config.KGRecConfig` of ``--config`` with the command-line
    overrides (``--epochs``, ``--seed``, ``--threads``, ``--no-progress``, ``model``)."""
    from kgrec.cli import CLIError
    from kgrec.config import KGRecConfig

    config = KGRecConfig.load(args.config) if args.config else KGRecConfig()
    train: dict = {}
    if args.epochs is not None:
        if args.epochs < 1:
            raise CLIError(f"--epochs must be >= 1, got {args.epochs}")
        train["epochs"] = args.epochs
    if args.seed is not None:
        train["seed"] = args.seed
    if args.threads is not None:
        if args.threads < 1:
            raise CLIError(f"--threads must be >= 1, got {args.threads}")
        train["threads"] = args.threads
    if args.no_progress:
        train["show_progress"] = False
    sections: dict = {"train": train}
    if args.no_progress:
        sections["text"] = {"show_progress": False}
    if model is not None:
        sections["model"] = {"name": model}
    return config.replace(**sections)


def load_dataset_quietly(name: str, data_dir: str | None, command: str):
    """:func:`kgrec.data.load_dataset` with its warnings printed once each as
    ``kgrec <command>: warning: ...`` lines on stderr (not as Python warnings)."""
    import sys
    import warnings

    from kgrec.data import load_dataset

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dataset = load_dataset(name, data_dir=data_dir)
    for message in dict.fromkeys(str(w.message) for w in caught):
        if message not in dataset.notes:
            print(f"kgrec {command}: warning: {message}", file=sys.stderr)
    return dataset


def validation_metrics(rec, train, valid, ks: tuple[int, ...] = (10, 20)):
    """Metrics of a fitted recommender's model on ``valid``, masking ``train`` only
    (:meth:`Recommender.evaluate` masks validation items too, being meant for test), over
    at most 10,000 validation users (a seeded sample above: full ranking is
    ``users x movies``)."""
    from kgrec.evaluate import evaluate, to_csr
    from kgrec.train.fusion import validation_subset

    return evaluate(rec.model_, test=validation_subset(to_csr(valid, rec.kg_)),
                    mask=to_csr(train, rec.kg_), ks=ks,
                    item_popularity=rec.context_.item_popularity)


def run(args: argparse.Namespace) -> int:
    prefer_passive_omp()
    import time

    start = time.perf_counter()
    config = build_config(args, args.model)
    group = join_process_group(args.distributed, config.train.device)
    from kgrec.distributed import shutdown

    try:
        code = _run(args, config, group, start)
    except BaseException:
        shutdown(wait=False)
        raise
    shutdown()  # every rank leaves together, after rank 0 has saved
    return code


def _fit_distributed(config: KGRecConfig, dataset: MovieDataset, split: Split,
                     group: DistributedInfo) -> Recommender | None:
    """Fit under ``torchrun``: rank 0 builds the context first (filling the text cache the
    others then read), every rank trains its shards of the BPR batches; rank 0 returns
    the fitted :class:`Recommender`, the other ranks ``None``."""
    from kgrec.distributed import barrier
    from kgrec.models.registry import get_spec
    from kgrec.recommender import Recommender
    from kgrec.train import build_context, fit_model

    if group.rank == 0:
        context = build_context(dataset, split.train, split.valid, config)
        barrier()
        return Recommender(config).fit(dataset, train=split.train, valid=split.valid,
                                       context=context)
    quiet = config.replace(train={"show_progress": False}, text={"show_progress": False})
    barrier()
    context = build_context(dataset, split.train, split.valid, quiet,
                            text=get_spec(config.model.name).needs_text(config))
    fit_model(config.model.name, context, quiet)
    return None


def _run(args: argparse.Namespace, config: KGRecConfig, group: DistributedInfo | None,
         start: float) -> int:
    import json
    import time

    from kgrec.cli import CLIError
    from kgrec.data import random_split, read_split
    from kgrec.progress import stage
    from kgrec.recommender import Recommender

    with stage("load", config.train.show_progress) as progress:
        dataset = load_dataset_quietly(args.dataset, args.data_dir, NAME)
        progress["detail"] = f"{dataset.name}, {len(dataset.ratings):,} ratings"
    if args.split_dir:
        split = read_split(args.split_dir)
        source = f"{args.split_dir} (train.tsv, valid.tsv)"
    else:
        if dataset.ratings.empty:
            raise CLIError(f"dataset {dataset.name!r} has no ratings to learn from")
        split = random_split(dataset.ratings, (0.9, 0.1, 0.0), seed=config.train.seed)
        source = f"seeded 90/10 per-user split (seed {config.train.seed})"
    if split.train.empty:
        raise CLIError(f"no training interactions in {source}")
    with torch_threads(args.threads):
        if group is None:
            rec = Recommender(config).fit(dataset, train=split.train, valid=split.valid)
        else:
            rec = _fit_distributed(config, dataset, split, group)
            if rec is None:  # not rank 0: its shards are trained, rank 0 saves
                return 0
    fit_seconds = time.perf_counter() - start
    valid = validation_metrics(rec, split.train, split.valid) if len(split.valid) else None
    try:
        with stage("save", config.train.show_progress):
            out = rec.save(args.out)
    except OSError as exc:
        raise CLIError(f"cannot save the recommender to {args.out}: {exc}") from exc

    training = rec.fit_result_.training
    summary = {
        "dataset": dataset.name, "model": config.model.name, "split": source,
        "interactions": {"train": len(split.train), "valid": len(split.valid)},
        "users": rec.kg_.num_users, "movies": rec.kg_.num_items,
        "valid_metrics": None if valid is None else valid.to_dict(),
        "epochs": None if training is None else len(training.history),
        "best_epoch": None if training is None else training.best_epoch,
        "fusion_weights": rec.fit_result_.details.get("weights"),
        "out": str(out), "seconds": round(fit_seconds, 3),
        "ranks": 1 if group is None else group.world_size,
    }
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
        return 0
    print(f"trained {config.model.name} on {dataset.name}: {rec.kg_.num_users:,} users, "
          f"{rec.kg_.num_items:,} movies; {len(split.train):,} train / {len(split.valid):,} "
          f"valid interactions from {source}")
    if training is not None:
        print(f"training: {len(training.history)} epochs, best epoch {training.best_epoch}"
              + (" (stopped early)" if training.stopped_early else ""))
    if summary["fusion_weights"]:
        print("fusion weights: " + ", ".join(f"{k} {v:.2f}"
                                             for k, v in summary["fusion_weights"].items()))
    if valid is not None:
        print(f"validation ({valid.num_users:,} users): NDCG@10 {valid['ndcg@10']:.4f}, "
              f"Recall@10 {valid['recall@10']:.4f}, Recall@20 {valid['recall@20']:.4f}")
    ranks = "" if group is None else f" on {group.world_size} ranks ({group.backend})"
    print(f"saved to {out} in {fit_seconds:.1f} s{ranks} (kgrec recommend --model {out} "
          "--user ID)")
    return 0
