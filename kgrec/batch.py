"""Batch recommendation: top-K for every known user, as Parquet shards with a manifest.

``kgrec recommend --model DIR --all-users --out OUT`` calls :func:`recommend_all_users`.
Users (in the graph's index order) are cut into chunks of ``batch_size``; under
``torchrun`` rank ``r`` of ``W`` takes the contiguous block of chunks
``[C r / W, C (r + 1) / W)`` of the ``C`` chunks and writes ``part-<r>-of-<W>.parquet``.
Chunk boundaries do not depend on ``W``, so every user is scored in the same batch of
users whatever the number of ranks, and the shards of a ``W``-rank run concatenate to
exactly the one-process output.

The folder ``OUT``::

    manifest.json                  # written last, by rank 0: the shards, their users,
    part-00000-of-00002.parquet    #   rows and sha256; readers trust only it
    part-00001-of-00002.parquet

Each shard has one row per (user, recommended movie): ``user_id`` (str), ``rank``
(int32, 1 = best), ``item_id`` (str), ``title`` (str), ``year`` (Int32, null when
unknown), ``score`` (float64, the model's score) and, with ``explain``, ``explanation``
(str, the most salient path's sentence, ``""`` when none). Every file is written
atomically (:func:`kgrec.io.atomic_write`); the old manifest is removed first, so a
folder being rewritten has no manifest rather than one that lies, and shards of an
earlier run that the new manifest does not list are deleted at the end.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from kgrec.recommender import Recommender

__all__ = ["MANIFEST", "BatchResult", "read_recommendations", "recommend_all_users",
           "shard_chunks"]

#: Name of the manifest file of a batch output folder.
MANIFEST = "manifest.json"
#: ``format`` field of the manifest.
FORMAT = "kgrec-batch-recommendations"
COLUMNS = ("user_id", "rank", "item_id", "title", "year", "score")


@dataclass(frozen=True)
class BatchResult:
    """What a batch run wrote (every rank gets the totals of the whole run).

    Attributes:
        folder: the output folder.
        manifest: the manifest's content (shards, users, rows, hashes).
    """

    folder: Path
    manifest: dict[str, Any]

    @property
    def users(self) -> int:
        return int(self.manifest["users"])

    @property
    def rows(self) -> int:
        return sum(int(s["rows"]) for s in self.manifest["shards"])


def shard_chunks(num_users: int, batch_size: int, rank: int, world_size: int
                 ) -> list[range]:
    """The user-index chunks of rank ``rank``: chunk ``c`` is
    ``range(c * batch_size, min((c + 1) * batch_size, num_users))`` and the rank takes
    chunks ``[C * rank // world_size, C * (rank + 1) // world_size)`` of the
    ``C = ceil(num_users / batch_size)`` chunks. Over the ranks, every user is in
    exactly one chunk (a rank may get none when ``C < world_size``)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not in [0, {world_size})")
    count = -(-num_users // batch_size)
    lo, hi = count * rank // world_size, count * (rank + 1) // world_size
    return [range(c * batch_size, min((c + 1) * batch_size, num_users)) for c in range(lo, hi)]


def _shard_name(rank: int, world_size: int) -> str:
    return f"part-{rank:05d}-of-{world_size:05d}.parquet"


def _frame(rec: Recommender, users: list[str], k: int, exclude_seen: bool,
           explain: bool) -> pd.DataFrame:
    import pandas as pd

    columns: dict[str, list] = {c: [] for c in COLUMNS + (("explanation",) if explain else ())}
    for user, recs in rec.recommend_batch(users, k, exclude_seen=exclude_seen,
                                          explain=explain).items():
        for position, r in enumerate(recs, 1):
            columns["user_id"].append(user)
            columns["rank"].append(position)
            columns["item_id"].append(r.item_id)
            columns["title"].append(r.title)
            columns["year"].append(r.year)
            columns["score"].append(float(r.score))
            if explain:
                columns["explanation"].append(r.explanation)
    frame = pd.DataFrame(columns)
    return frame.astype({"user_id": "string", "rank": "int32", "item_id": "string",
                         "title": "string", "year": "Int32", "score": "float64",
                         **({"explanation": "string"} if explain else {})})


def recommend_all_users(rec: Recommender, out: str | Path, *, k: int = 10,
                        exclude_seen: bool = True, explain: bool = False,
                        batch_size: int = 256, show_progress: bool = True,
                        source: str | None = None) -> BatchResult:
    """Top-``k`` of every user known to ``rec``, written to folder ``out`` as Parquet.

    Run by every rank of a ``torch.distributed`` group (each writes its shard; rank 0
    writes the manifest after a barrier) or by one process (one shard).

    Args:
        rec: a fitted recommender (the same saved model on every rank).
        out: output folder (created; a previous batch output in it is replaced).
        k: movies per user.
        exclude_seen: drop movies the user rated.
        explain: add the best explanation sentence per row (slower: a path search each).
        batch_size: users scored per batch (at most 1024 keeps each chunk one scoring
            batch); the chunking, not the number of ranks, fixes the result.
        show_progress: a bar on a terminal (rank 0), a stage line otherwise.
        source: what to record as the manifest's ``model`` (e.g. the model folder).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq
    from tqdm.auto import tqdm

    from kgrec.distributed import barrier, world
    from kgrec.io import atomic_write, atomic_write_text, sha256_file

    folder = Path(out)
    rank, world_size = world()
    user_ids = rec.kg_.user_ids
    chunks = shard_chunks(len(user_ids), batch_size, rank, world_size)
    if rank == 0:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / MANIFEST).unlink(missing_ok=True)
    barrier()
    frames = [_frame(rec, [user_ids[u] for u in chunk], k, exclude_seen, explain)
              for chunk in tqdm(chunks, desc="recommending", unit="batch", leave=False,
                                disable=None if show_progress and rank == 0 else True)]
    import pandas as pd

    frame = (pd.concat(frames, ignore_index=True) if frames
             else _frame(rec, [], k, exclude_seen, explain))
    table = pa.Table.from_pandas(frame, preserve_index=False)
    name = _shard_name(rank, world_size)
    atomic_write(folder / name, lambda tmp: pq.write_table(table, tmp))
    barrier()
    if rank == 0:
        shards = []
        for r in range(world_size):
            mine = shard_chunks(len(user_ids), batch_size, r, world_size)
            path = folder / _shard_name(r, world_size)
            shards.append({"file": path.name, "rank": r,
                           "users": sum(len(c) for c in mine),
                           "first_user": user_ids[mine[0].start] if mine else None,
                           "rows": pq.ParquetFile(path).metadata.num_rows,
                           "bytes": path.stat().st_size, "sha256": sha256_file(path)})
        manifest = {"format": FORMAT, "version": 1, "model": source, "k": k,
                    "exclude_seen": exclude_seen, "explain": explain, "users": len(user_ids),
                    "batch_size": batch_size, "world_size": world_size,
                    "columns": list(frame.columns), "shards": shards}
        atomic_write_text(folder / MANIFEST, json.dumps(manifest, indent=2) + "\n")
        listed = {s["file"] for s in shards}
        for stale in folder.glob("part-*-of-*.parquet"):
            if stale.name not in listed:
                stale.unlink(missing_ok=True)
    barrier()  # the manifest exists for every rank from here on
    return BatchResult(folder, json.loads((folder / MANIFEST).read_text(encoding="utf-8")))


def read_recommendations(folder: str | Path) -> pd.DataFrame:
    """The rows of a batch output folder, shards concatenated in manifest order, each
    file checked against the manifest's sha256 first.

    Raises:
        FileNotFoundError: no manifest (not a batch output, or one being written).
        ValueError: a shard is missing, modified or not a file the manifest may name.
    """
    import pandas as pd
    import pyarrow.parquet as pq

    from kgrec.io import sha256_file

    folder = Path(folder)
    manifest_path = folder / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{manifest_path}: no manifest (not a finished "
                                "`kgrec recommend --all-users` output)") from None
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{manifest_path}: format {manifest.get('format')!r}, expected {FORMAT!r}")
    frames = []
    for shard in manifest["shards"]:
        name = str(shard["file"])
        if Path(name).name != name or not name.endswith(".parquet"):
            raise ValueError(f"{manifest_path}: shard name {name!r} is not a file of the folder")
        path = folder / name
        if not path.is_file():
            raise ValueError(f"{path}: shard listed in {MANIFEST} is missing")
        if sha256_file(path) != shard["sha256"]:
            raise ValueError(f"{path}: sha256 differs from {MANIFEST} (modified or truncated)")
        frames.append(pq.read_table(path).to_pandas())
    return pd.concat(frames, ignore_index=True)
