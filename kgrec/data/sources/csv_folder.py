"""A folder of your own CSV/TSV files (also the format of the bundled ``sample``).

Files (``.csv`` is comma-separated, ``.tsv`` TAB-separated; UTF-8; header names are
case-insensitive):

* ``ratings.csv|tsv`` (required): ``user_id``, ``item_id``, ``rating`` [, ``timestamp``
  (Unix seconds; 0 when absent)];
* ``items.csv|tsv`` (required): ``item_id``, ``title`` [, ``year``] [, ``description`` or
  ``text``] and optional list columns, ``|``-separated, that become triples with the
  values as entity keys and labels (:data:`LIST_COLUMNS`): ``genres`` → ``has_genre
  genre:<Name>``, ``directors`` → ``directed_by person:<Name>``, ``actors`` →
  ``starring person:<Name>``, ``writers`` → ``written_by person:<Name>``, ``countries`` →
  ``from_country country:<Name>``;
* ``triples.csv|tsv`` (optional): ``head``, ``relation``, ``tail``, typed entity ids
  (``movie:1``, ``person:Jane Doe``); movies named there must be in the items file;
* ``labels.csv|tsv`` (optional): ``entity``, ``label``.

Example ``items.csv``::

    item_id,title,year,genres,directors,actors,description
    1,Toy Story,1995,Animation|Comedy,John Lasseter,Tom Hanks|Tim Allen,"A cowboy doll ..."
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from kgrec.data.dataset import DataError, MovieDataset, empty_triples
from kgrec.data.sources import _tables as T

#: items column → (relation, entity type) of the triples it lists.
LIST_COLUMNS: dict[str, tuple[str, str]] = {
    "genres": ("has_genre", "genre"),
    "directors": ("directed_by", "person"),
    "actors": ("starring", "person"),
    "writers": ("written_by", "person"),
    "countries": ("from_country", "country"),
}

_SEPARATORS = {".csv": ",", ".tsv": "\t"}


def find_table(folder: Path, stem: str, *, required: bool) -> Path | None:
    """``<stem>.csv`` or ``<stem>.tsv`` in ``folder`` (both present is an error)."""
    found = [folder / f"{stem}{ext}" for ext in _SEPARATORS if (folder / f"{stem}{ext}").is_file()]
    if len(found) > 1:
        raise DataError(f"both {stem}.csv and {stem}.tsv exist; keep one", path=folder)
    if not found:
        if required:
            raise DataError(f"file not found: {stem}.csv or {stem}.tsv{_hint(folder)}",
                            path=folder / f"{stem}.csv")
        return None
    return found[0]


def _hint(folder: Path) -> str:
    """Point at the named loaders when the folder looks like a known dataset."""
    if (folder / "u.data").is_file():
        return f" (this looks like MovieLens 100K: load_dataset('ml-100k', data_dir='{folder}'))"
    if (folder / "movies.dat").is_file() and (folder / "movie_genres.dat").is_file():
        return f" (this looks like HetRec 2011: load_dataset('hetrec-2k', data_dir='{folder}'))"
    if (folder / "movies.dat").is_file():
        return f" (this looks like MovieLens 1M: load_dataset('ml-1m', data_dir='{folder}'))"
    return ""


def _read(path: Path, columns: tuple[str, ...]) -> T.Table:
    table = T.read_table(path, sep=_SEPARATORS[path.suffix], quoted=True, columns=columns,
                         lowercase_header=True)
    table.frame = table.frame.apply(lambda column: column.str.strip())
    return table


def read_csv_folder(folder: str | Path, *, name: str | None = None) -> MovieDataset:
    """Read ``items``, ``ratings`` and optional ``triples``/``labels`` tables from ``folder``.

    Args:
        folder: The folder.
        name: Dataset name (default: the folder path).

    Raises:
        DataError: A file is missing or malformed; the message names the file and line.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError("dataset folder not found", path=folder)
    item_path = find_table(folder, "items", required=True)
    rating_path = find_table(folder, "ratings", required=True)

    item_table = _read(item_path, ("item_id", "title"))
    frame = item_table.frame
    T.check_nonempty(item_table, ["item_id"])
    T.check_unique(item_table, ["item_id"], "item id")
    year = (T.to_year(item_table, "year") if "year" in frame.columns
            else pd.Series(pd.NA, index=frame.index, dtype="Int64"))
    T.check_titles(item_table, frame["title"])
    text_column = next((c for c in ("description", "text") if c in frame.columns), None)
    items = pd.DataFrame({"item_id": frame["item_id"], "title": frame["title"],
                          "year": year,
                          "text": frame[text_column] if text_column else ""})
    parts = []
    labels: dict[str, str] = {}
    for column, (relation, kind) in LIST_COLUMNS.items():
        if column not in frame.columns:
            continue
        values = frame[column].str.split("|").explode().str.strip()
        values = values[values.notna() & values.ne("")]
        entities = kind + ":" + values
        parts.append(pd.DataFrame({"head": "movie:" + frame["item_id"].loc[values.index],
                                   "relation": relation, "tail": entities}))
        first = ~entities.duplicated()
        for entity, label in zip(entities[first], values[first]):
            labels.setdefault(entity, label)

    rating_table = _read(rating_path, ("user_id", "item_id", "rating"))
    ratings = T.ratings_frame(
        rating_table, items["item_id"], items_where=item_path.name,
        timestamp="timestamp" if "timestamp" in rating_table.frame.columns else None)

    triple_path = find_table(folder, "triples", required=False)
    if triple_path is not None:
        parts.append(_triples(triple_path, set(items["item_id"]), item_path.name))
    label_path = find_table(folder, "labels", required=False)
    if label_path is not None:
        label_table = _read(label_path, ("entity", "label"))
        T.check_nonempty(label_table, ["entity"])
        labels.update(zip(label_table.frame["entity"], label_table.frame["label"]))

    triples = (pd.concat(parts, ignore_index=True).drop_duplicates(ignore_index=True) if parts
               else empty_triples())
    return MovieDataset(name or str(folder), items, ratings, triples, labels)


def _triples(path: Path, item_ids: set[str], items_name: str) -> pd.DataFrame:
    """Validated ``head``/``relation``/``tail`` table: typed ids, known movies."""
    table = _read(path, ("head", "relation", "tail"))
    T.check_nonempty(table, ["head", "relation", "tail"])
    frame = table.frame
    for column in ("head", "tail"):
        kind, sep, key = (frame[column].str.partition(":")[i] for i in range(3))
        position = T.first_true((kind.eq("") | sep.eq("") | key.eq("")).to_numpy())
        if position is not None:
            raise table.error(f"{column} {frame[column].iloc[position]!r} is not a typed entity "
                              "id ('type:key', e.g. 'movie:1' or 'person:Jane Doe')", position)
        position = T.first_true((kind.eq("movie") & ~key.isin(item_ids)).to_numpy())
        if position is not None:
            raise table.error(f"{column} {frame[column].iloc[position]!r} names a movie that is "
                              f"not in {items_name}", position)
    return frame[["head", "relation", "tail"]].copy()
