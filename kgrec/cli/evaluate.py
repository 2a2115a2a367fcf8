"""``kgrec evaluate``: full-ranking metrics of a saved recommender on test interactions.

Example::

    kgrec evaluate --model models/ml100k --split-dir ../shared/benchmarks/ml-100k/random-811-seed0
    kgrec evaluate --model models/sample --test my_test.tsv --ks 5 10 --json

Protocol (:meth:`Recommender.evaluate`): every movie is scored for each test user, the
movies the model saw for that user in fitting (train and valid) are masked, and the top K
are compared with the test interactions. A test file is TAB-separated with a header that
has at least ``user_id`` and ``item_id`` (the ``kgrec.data`` split format: ``user_id
item_id rating timestamp``).
"""

from __future__ import annotations

import argparse

NAME = "evaluate"
HELP = "Metrics (NDCG, Recall, ... at K) of a saved recommender on held-out interactions."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, metavar="DIR",
                        help="folder written by `kgrec train` / Recommender.save")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--split-dir", metavar="DIR",
                        help="folder with test.tsv (and train.tsv, valid.tsv) of a split")
    source.add_argument("--test", metavar="FILE",
                        help="TSV of test interactions (header: user_id item_id ...)")
    parser.add_argument("--ks", type=int, nargs="+", default=[10, 20], metavar="K",
                        help="cut-offs (default: 10 20)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object instead of the table")


def read_test(path: str):
    """Test interactions from a TSV file with ``user_id`` and ``item_id`` columns."""
    from pathlib import Path

    import pandas as pd

    from kgrec.data import DataError

    file = Path(path)
    if not file.is_file():
        raise DataError("test file not found", path=file)
    try:
        df = pd.read_csv(file, sep="\t", dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot parse test file: {exc}", path=file) from exc
    missing = [c for c in ("user_id", "item_id") if c not in df.columns]
    if missing:
        raise DataError(f"header lacks {missing}; expected 'user_id item_id rating timestamp' "
                        "(TAB-separated)", path=file, line=1)
    return df


def _warn_if_seen(rec, test, where: str) -> None:
    """Warn on stderr when test interactions were part of fitting: a loaded recommender's
    ``dataset_.ratings`` are the interactions it saw (train and valid), and those are
    masked, so they can neither count nor be found."""
    import sys

    seen = rec.dataset_.ratings.loc[:, ["user_id", "item_id"]].astype(str)
    pairs = test.loc[:, ["user_id", "item_id"]].astype(str).drop_duplicates()
    overlap = len(pairs.merge(seen.drop_duplicates(), on=["user_id", "item_id"]))
    if overlap:
        print(f"kgrec {NAME}: warning: {overlap:,} of {len(pairs):,} test interactions in "
              f"{where} were seen in fitting: they are masked and not counted (train with "
              "`kgrec train --split-dir` on the same split for an honest evaluation)",
              file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    import json

    from kgrec.cli import CLIError
    from kgrec.cli.recommend import load_recommender

    if any(k < 1 for k in args.ks):
        raise CLIError(f"--ks must be positive integers, got {args.ks}")
    if args.split_dir:
        from kgrec.data import read_split

        test, where = read_split(args.split_dir).test, f"{args.split_dir}/test.tsv"
    else:
        test, where = read_test(args.test), args.test
    if test.empty:
        raise CLIError(f"{where}: no test interactions")
    rec = load_recommender(args.model)
    _warn_if_seen(rec, test, where)
    try:
        result = rec.evaluate(test, ks=tuple(args.ks))
    except KeyError as exc:  # an id the model's graph does not know
        raise CLIError(f"{where}: {exc.args[0] if exc.args else exc}") from None
    if args.json:
        print(json.dumps({"model": args.model, "test": where, "interactions": len(test),
                          "metrics": result.to_dict()}))
        return 0
    print(f"{rec!r} on {where}: {len(test):,} test interactions")
    print(result.table())
    return 0
