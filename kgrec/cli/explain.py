"""``kgrec explain``: the knowledge-graph paths from a user to a movie, as sentences.

Example::

    kgrec explain --model models/sample u1 "Reservoir Dogs"
    kgrec explain --model models/sample u1 1 --json       # MOVIE as an item id

Each explanation is a path of edges of the saved (training) graph, e.g.
``u1 -rated-> Pulp Fiction -directed_by-> Quentin Tarantino <-directed_by- Reservoir
Dogs``, with its kind (content, collaborative, kg), salience and sentence.
"""

from __future__ import annotations

import argparse

NAME = "explain"
HELP = "Explain why a movie suits a user: knowledge-graph paths and their sentences."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, metavar="DIR",
                        help="folder written by `kgrec train` / Recommender.save")
    parser.add_argument("user", metavar="USER", help="a user of the training data, e.g. u1")
    parser.add_argument("movie", metavar="MOVIE", help="a movie's item id, movie:ID or title")
    parser.add_argument("-k", type=int, default=None, metavar="N",
                        help="number of paths (default: the model's explain.max_paths)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object instead of the text")


def resolve_movie(rec, movie: str) -> tuple[str, list[str]]:
    """Entity id of ``movie`` (item id, ``movie:ID`` or title) and every entity id with
    that title (several for remakes). A misspelt title raises ``KeyError`` with close
    matches."""
    from kgrec.cli import CLIError
    from kgrec.data import movie_id
    from kgrec.serve.query import QueryParser

    if movie.startswith("movie:"):
        if not rec.kg_.has(movie):
            raise CLIError(f"unknown movie {movie!r} (not in the model's graph)")
        return movie, [movie]
    if rec.kg_.has(movie_id(movie)):
        return movie_id(movie), [movie_id(movie)]
    hits = QueryParser(rec.kg_, kinds=("movie",)).resolve_title(movie)
    return hits[0], hits


def path_text(kg, explanation) -> str:
    """``u1 -rated-> Heat -starring-> Al Pacino <-starring- Scarface``, with labels."""
    from kgrec.data import entity_key

    def name(entity: str) -> str:
        return kg.label(entity) or entity_key(entity)

    parts = [name(explanation.steps[0].source)] if explanation.steps else []
    for step in explanation.steps:
        arrow = f"-{step.relation}->" if step.forward else f"<-{step.relation}-"
        parts += [arrow, name(step.target)]
    return " ".join(parts)


def run(args: argparse.Namespace) -> int:
    import json

    from kgrec.cli import CLIError
    from kgrec.cli.recommend import check_user, load_recommender
    from kgrec.cli.terminal import printable

    if args.k is not None and args.k < 1:
        raise CLIError(f"-k must be a positive integer, got {args.k}")
    rec = load_recommender(args.model)
    user = check_user(rec, args.user)
    item, same_title = resolve_movie(rec, args.movie)
    explanations = rec.explain(user, item, args.k)
    title = rec.kg_.label(item) or item
    rated = item in {f"movie:{i}" for i in
                     rec.dataset_.ratings.loc[rec.dataset_.ratings["user_id"] == user, "item_id"]}
    if args.json:
        print(printable(json.dumps({
            "user": user, "item_id": item.partition(":")[2], "title": title,
            "rated_by_user": rated, "same_title": [e.partition(":")[2] for e in same_title],
            "explanations": [{"text": e.text, "kind": e.kind, "salience": round(e.salience, 6),
                              "hops": e.hops, "path": [[s.head, s.relation, s.tail]
                                                       for s in e.steps]}
                             for e in explanations]}, ensure_ascii=False), json=True))
        return 0
    header = f"why {title} (movie:{item.partition(':')[2]}) for user {user}"
    if len(same_title) > 1:
        others = ", ".join(same_title[1:])
        header += f" (also titled so: {others}; pass the id to choose)"
    print(printable(header + (" (already rated by this user)" if rated else "")))
    if not explanations:
        print(f"  no path of at most {rec.config.explain.max_hops} hops links them in the "
              "training graph")
        return 0
    for rank, e in enumerate(explanations, 1):
        print(printable(f"  {rank}. {e.text}"))
        print(printable(f"     {path_text(rec.kg_, e)}"))
        print(f"     [{e.kind}, {e.hops} hops, salience {e.salience:.3f}]")
    return 0
