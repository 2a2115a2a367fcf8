"""``kgrec recommend``: top-K movies with explanations from a saved recommender.

Example::

    kgrec recommend --model models/sample --user u1
    kgrec recommend --model models/sample --liked Heat Casino -k 5
    kgrec recommend --model models/sample --query "a 90s crime film like Pulp Fiction" --json
    kgrec recommend --model models/sample --user u1 --genre Western --min-year 1960

``--user``, ``--liked`` and ``--query`` may be combined (a known user's taste, plus stated
likes, plus a text query); at least one is needed.

Batch recommendation for every known user, as Parquet shards with a manifest
(:mod:`kgrec.batch`), on one process or sharded over the ranks of a ``torchrun`` launch::

    kgrec recommend --model models/sample --all-users --out recs/
    torchrun --nproc-per-node 2 -m kgrec recommend --model models/sample --all-users --out recs/
"""

from __future__ import annotations

import argparse

from kgrec.cli.train import add_distributed_argument

NAME = "recommend"
HELP = "Top-K movies, with explanation paths, for a user, liked titles or a text query."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, metavar="DIR",
                        help="folder written by `kgrec train` / Recommender.save")
    parser.add_argument("--user", metavar="ID", help="a user of the training data, e.g. u1")
    parser.add_argument("--liked", nargs="+", metavar="TITLE",
                        help="titles (or movie:ID) a new user likes (cold start)")
    parser.add_argument("--query", metavar="TEXT",
                        help='free text, e.g. "movies directed by Quentin Tarantino"')
    parser.add_argument("-k", type=int, default=10, help="number of movies (default %(default)s)")
    parser.add_argument("--genre", action="append", metavar="GENRE",
                        help="keep only movies of this genre (repeatable)")
    parser.add_argument("--min-year", type=int, metavar="YEAR", help="keep movies from YEAR on")
    parser.add_argument("--max-year", type=int, metavar="YEAR", help="keep movies up to YEAR")
    parser.add_argument("--include-seen", action="store_true",
                        help="also list movies the user rated (or named)")
    parser.add_argument("--no-explain", action="store_true", help="skip explanation paths")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object instead of the text list")
    batch = parser.add_argument_group("batch recommendation (every known user)")
    batch.add_argument("--all-users", action="store_true",
                       help="top-K of every user of the training data, written to --out")
    batch.add_argument("--out", metavar="DIR",
                       help="folder of Parquet shards and manifest.json (with --all-users)")
    batch.add_argument("--batch-size", type=int, default=256, metavar="N",
                       help="users scored per batch (default %(default)s)")
    batch.add_argument("--explain", action="store_true",
                       help="add each row's best explanation sentence (one path search per "
                            "row: slow for many users)")
    batch.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_distributed_argument(batch)


# -- helpers shared by the commands that use a saved or fitted recommender ----------------------
def load_recommender(path: str):
    """:meth:`Recommender.load` with a one-line :class:`CLIError` for a missing folder
    (a tampered or foreign folder raises ``ArtifactError``, a ``ValueError`` whose message
    names the file)."""
    from pathlib import Path

    from kgrec.cli import CLIError
    from kgrec.recommender import Recommender

    folder = Path(path)
    if not folder.exists():
        raise CLIError(f"model folder not found: {folder} (create one with `kgrec train "
                       f"--dataset NAME --out {folder}`)")
    if not folder.is_dir():
        raise CLIError(f"{folder} is not a folder (expected a saved recommender)")
    return Recommender.load(folder)


def check_user(rec, user: str) -> str:
    """``user`` (bare id) if the recommender knows it; otherwise a :class:`CLIError` naming
    it, with close matches or examples of known ids."""
    import difflib

    from kgrec.cli import CLIError
    from kgrec.data import entity_key

    bare = entity_key(user) if user.startswith("user:") else user
    known = rec.kg_.user_ids
    if rec.kg_.has(f"user:{bare}"):
        return bare
    close = difflib.get_close_matches(bare, known, n=3, cutoff=0.6) or known[:3]
    raise CLIError(f"unknown user {bare!r} (known users look like "
                   f"{', '.join(map(repr, close))}; use --liked or --query for a new user)")


def format_recommendations(recs, *, explanations: int | None = None, marks=None,
                           indent: str = "  ", note_missing: bool = True) -> str:
    """Numbered lines ``1. Title (year)  score`` each followed by its explanation sentences
    (at most ``explanations`` of them; all when ``None``; ``note_missing`` says so when a
    movie has none). ``marks`` maps an item id to a note printed after the title (e.g.
    held-out hits)."""
    from kgrec.cli.terminal import printable

    lines = []
    names = [f"{r.title} ({r.year})" if r.year else r.title for r in recs]
    width = max(map(len, names), default=0)
    for rank, (r, name) in enumerate(zip(recs, names), 1):
        note = f"  {marks[r.item_id]}" if marks and r.item_id in marks else ""
        lines.append(printable(f"{indent}{rank:>2}. {name:<{width}}  {r.score:6.3f}{note}"))
        shown = r.explanations if explanations is None else r.explanations[:explanations]
        for e in shown:
            lines.append(printable(f"{indent}      {e.text}"))
        if not r.explanations and note_missing:
            lines.append(f"{indent}      (no explanation path found)")
    return "\n".join(lines)


def run_all_users(args: argparse.Namespace) -> int:
    """``--all-users --out DIR``: :func:`kgrec.batch.recommend_all_users`, sharded over the
    ranks when launched by ``torchrun``."""
    import json

    from kgrec.batch import recommend_all_users
    from kgrec.cli import CLIError
    from kgrec.cli.train import join_process_group
    from kgrec.distributed import shutdown
    from kgrec.progress import stage

    if args.out is None:
        raise CLIError("--all-users needs --out DIR (the folder of Parquet shards)")
    if args.user is not None or args.liked or args.query is not None:
        raise CLIError("--all-users cannot be combined with --user, --liked or --query")
    if args.genre or args.min_year is not None or args.max_year is not None:
        raise CLIError("--all-users does not take filters (--genre, --min-year, --max-year)")
    if args.batch_size < 1:
        raise CLIError(f"--batch-size must be a positive integer, got {args.batch_size}")
    group = join_process_group(args.distributed)
    try:
        rec = load_recommender(args.model)
        with stage("recommend all users", not args.no_progress) as progress:
            result = recommend_all_users(rec, args.out, k=args.k,
                                         exclude_seen=not args.include_seen,
                                         explain=args.explain,
                                         batch_size=args.batch_size,
                                         show_progress=not args.no_progress,
                                         source=str(args.model))
            progress["detail"] = f"{result.users:,} users, {result.rows:,} rows"
    except BaseException:
        shutdown(wait=False)
        raise
    shutdown()
    if group is not None and group.rank != 0:
        return 0
    shards = result.manifest["shards"]
    if args.json:
        print(json.dumps({"out": str(result.folder), "users": result.users, "rows": result.rows,
                          "shards": [s["file"] for s in shards]}))
    else:
        print(f"wrote top {args.k} for {result.users:,} users ({result.rows:,} rows) to "
              f"{result.folder}: {len(shards)} Parquet shard(s) listed in manifest.json")
    return 0


def run(args: argparse.Namespace) -> int:
    import json

    from kgrec.cli import CLIError
    from kgrec.cli.terminal import printable

    if args.k < 1:
        raise CLIError(f"-k must be a positive integer, got {args.k}")
    if args.all_users:
        return run_all_users(args)
    if args.out is not None or args.distributed or args.explain:
        raise CLIError("--out, --explain and --distributed go with --all-users")
    if args.user is None and not args.liked and args.query is None:
        raise CLIError("give --user ID, --liked TITLE ... or --query TEXT (or --all-users)")
    if args.query is not None and not args.query.strip():
        raise CLIError("--query is empty")
    rec = load_recommender(args.model)
    user = None if args.user is None else check_user(rec, args.user)
    filters = {}
    if args.genre:
        filters["genres"] = args.genre
    if args.min_year is not None:
        filters["min_year"] = args.min_year
    if args.max_year is not None:
        filters["max_year"] = args.max_year
    recs = rec.recommend(user, args.k, query=args.query, liked=args.liked,
                         exclude_seen=not args.include_seen, explain=not args.no_explain,
                         filters=filters or None)
    intent = rec.parse(args.query) if args.query else None
    if args.json:
        print(printable(json.dumps({
            "user": user, "liked": args.liked, "query": args.query, "k": args.k,
            "filters": filters, "intent": intent.to_dict() if intent is not None else None,
            "recommendations": [r.to_dict() for r in recs]}, ensure_ascii=False), json=True))
        return 0
    who = [f"user {user}"] if user is not None else []
    if args.liked:
        who.append("liking " + ", ".join(args.liked))
    if args.query:
        who.append(f"query {args.query!r}")
    print(printable(f"top {len(recs)} for {' + '.join(who)}"))
    if intent is not None:
        print(printable(f"understood as: {intent!r}"))
    print(format_recommendations(recs, note_missing=not args.no_explain) if recs
          else "  (no movie left after the filters)")
    return 0
