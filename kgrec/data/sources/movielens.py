"""MovieLens 100K and 1M (GroupLens), in their original file formats.

ml-100k: ``u.data`` (TAB: user, item, rating, timestamp), ``u.item`` (``|``-separated,
ISO-8859-1: id, "Title (Year)", release date, video date, IMDb URL, 19 genre flags),
``u.genre`` (``name|index``). The 19 genres include ``unknown`` (the README's "last 19
fields are the genres"); it is kept as ``genre:unknown`` so that counts match the
publisher's (it tags 2 movies).

ml-1m: ``movies.dat`` (``MovieID::Title (Year)::Genre|Genre``, ISO-8859-1) and
``ratings.dat`` (``UserID::MovieID::Rating::Timestamp``). ``ratings.dat`` may be absent
from a local folder: the dataset is then loaded with no ratings and a note says so.

Both give ``(movie:<id>, has_genre, genre:<Name>)`` triples, labelled ``<Name>``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from kgrec.data.dataset import DataError, MovieDataset, empty_ratings
from kgrec.data.sources import _tables as T
from kgrec.data.sources.download import ML_1M, ML_100K, fetch

log = logging.getLogger("kgrec.data")

#: Title with a parenthesised year anywhere (the last one wins): ``"Toy Story (1995)"``,
#: ``"Land Before Time III: ... (1995) (V)"``.
_TITLE_YEAR = r"^(?P<before>.*)\((?P<year>\d{4})\)(?P<after>.*)$"


def split_title(titles: pd.Series) -> tuple[pd.Series, pd.Series]:
    """``"Toy Story (1995)"`` → (``"Toy Story"``, 1995); titles without a year are kept.

    Returns:
        Titles without the year (any text after it, such as ``(V)``, is kept) and the
        years as a nullable ``Int64`` series.
    """
    parts = titles.str.extract(_TITLE_YEAR)
    has_year = parts["year"].notna()
    clean = (parts["before"].fillna("").str.strip() + " " + parts["after"].fillna("").str.strip())
    clean = clean.str.strip().where(has_year, titles.str.strip())
    years = pd.to_numeric(parts["year"], errors="coerce").astype("Int64")
    return clean, years


def genre_triples(movie_ids: pd.Series, genres: pd.Series) -> tuple[pd.DataFrame, dict[str, str]]:
    """``has_genre`` triples and genre labels from aligned (movie id, genre name) series."""
    entities = "genre:" + genres
    triples = pd.DataFrame({"head": "movie:" + movie_ids, "relation": "has_genre",
                            "tail": entities})
    labels = dict(zip(entities.drop_duplicates(), genres.drop_duplicates()))
    return triples, labels


# -- ml-100k ----------------------------------------------------------------------------
def load_ml_100k(data_dir: str | Path | None = None, *, force_reload: bool = False,
                 download: bool = True) -> MovieDataset:
    """MovieLens 100K: 943 users, 1,682 movies, 100,000 ratings, 19 genres.

    Args:
        data_dir: Cache root or the ``ml-100k`` folder itself (see
            :func:`kgrec.data.sources.download.cache_root`).
        force_reload: Download and verify again even if a local copy exists.
        download: Allow downloading when no local copy exists.
    """
    return read_ml_100k(fetch(ML_100K, data_dir, force=force_reload, download=download))


def read_ml_100k(folder: str | Path) -> MovieDataset:
    """Read an ``ml-100k`` folder (``u.data``, ``u.item``, ``u.genre``)."""
    folder = Path(folder)
    genre_table = T.read_table(folder / "u.genre", sep="|", header=False, encoding="latin-1",
                               num_fields=2, terminated=True)
    T.check_nonempty(genre_table, [0])
    genre_index = T.to_number(genre_table, 1, what="genre index").astype(int).to_numpy()
    genre_names = genre_table.frame[0].to_numpy()[np.argsort(genre_index, kind="stable")]
    n_genres = len(genre_names)

    item_table = T.read_table(folder / "u.item", sep="|", header=False, encoding="latin-1",
                              num_fields=5 + n_genres, terminated=True)
    frame = item_table.frame
    T.check_nonempty(item_table, [0])
    T.check_unique(item_table, [0], "item id")
    titles, years = split_title(frame[1])
    T.check_titles(item_table, titles)
    release_years = pd.to_numeric(frame[2].str[-4:], errors="coerce").astype("Int64")
    items = pd.DataFrame({"item_id": frame[0], "title": titles,
                          "year": years.fillna(release_years), "text": ""})
    flags = frame[list(range(5, 5 + n_genres))].to_numpy()
    bad = ~np.isin(flags, ["0", "1"])
    if bad.any():
        row, column = np.argwhere(bad)[0]
        raise item_table.error(f"genre flag {column + 1} ({genre_names[column]}) is "
                               f"{flags[row, column]!r}, expected 0 or 1", int(row))
    rows, columns = np.nonzero(flags == "1")
    triples, labels = genre_triples(items["item_id"].iloc[rows].reset_index(drop=True),
                                    pd.Series(genre_names[columns]))

    rating_table = T.read_table(folder / "u.data", sep="\t", header=False, num_fields=4,
                                terminated=True)
    ratings = T.ratings_frame(rating_table, items["item_id"], items_where="u.item", user=0,
                              item=1, rating=2, timestamp=3)
    return MovieDataset("ml-100k", items, ratings, triples, labels)


# -- ml-1m ------------------------------------------------------------------------------
def load_ml_1m(data_dir: str | Path | None = None, *, force_reload: bool = False,
               download: bool = True) -> MovieDataset:
    """MovieLens 1M: 3,883 movies, 18 genres, 1,000,209 ratings by 6,040 users.

    Args: as :func:`load_ml_100k`. A local folder without ``ratings.dat`` loads with an
    empty ratings table and a note.
    """
    return read_ml_1m(fetch(ML_1M, data_dir, force=force_reload, download=download))


def read_ml_1m(folder: str | Path) -> MovieDataset:
    """Read an ``ml-1m`` folder (``movies.dat``; ``ratings.dat`` if present)."""
    folder = Path(folder)
    if (folder / "movie_genres.dat").is_file():
        raise DataError("this folder holds HetRec 2011 files, not MovieLens 1M: use "
                        "load_dataset('hetrec-2k', data_dir=...)", path=folder)
    movie_table = T.read_table(folder / "movies.dat", sep="::", header=False, encoding="latin-1",
                               num_fields=3, terminated=True)
    frame = movie_table.frame
    T.check_nonempty(movie_table, [0, 1])
    T.check_unique(movie_table, [0], "movie id")
    titles, years = split_title(frame[1])
    T.check_titles(movie_table, titles)
    items = pd.DataFrame({"item_id": frame[0], "title": titles, "year": years,
                          "text": ""})
    genres = frame[2].str.split("|").explode()
    genres = genres[genres.str.strip().ne("")].str.strip()
    triples, labels = genre_triples(items["item_id"].loc[genres.index].reset_index(drop=True),
                                    genres.reset_index(drop=True))
    notes = []
    ratings_path = folder / "ratings.dat"
    if ratings_path.is_file():
        rating_table = T.read_table(ratings_path, sep="::", header=False, num_fields=4,
                                    terminated=True)
        ratings = T.ratings_frame(rating_table, items["item_id"], items_where="movies.dat",
                                  user=0, item=1, rating=2, timestamp=3)
    else:
        ratings = empty_ratings()
        note = (f"ml-1m: ratings.dat is absent from {folder}; loaded the {len(items):,} movies "
                "with an empty ratings table (place ratings.dat there, git hash-object "
                f"{ML_1M.git_blob['ratings.dat']}, or download the full archive with "
                "force_reload=True into a writable --data-dir)")
        notes.append(note)
        T.warn(note)
    return MovieDataset("ml-1m", items, ratings, triples, labels, notes)
