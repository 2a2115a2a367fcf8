"""HetRec 2011 MovieLens-2k (``hetrec2011-movielens-2k-v2``), in its original format.

TAB-separated files with one header line and CRLF line endings; ``movies.dat``,
``movie_directors.dat`` and ``movie_actors.dat`` are ISO-8859-1, ``tags.dat`` is UTF-8
with a few Latin-1 lines (decoded line by line), the rest ASCII; ``\\N`` marks a missing
value in ``movies.dat``.

Entities and relations:

* ``movie:<id>`` (MovieLens-10M ids), title and year from ``movies.dat``;
* ``(movie, directed_by, person:<directorID>)`` and ``(movie, starring, person:<actorID>)``:
  people are keyed by HetRec's slug id (``john_lasseter``), not by name, so that the 4,060
  directors stay distinct even where two share a name; the label is the name
  (``John Lasseter``). The slugs are shared by both files, so a director who also acts is one
  node. Only each movie's ``top_actors`` best-ranked actors are kept;
* ``(movie, has_genre, genre:<Name>)``, ``(movie, from_country, country:<Name>)`` (empty
  countries skipped), ``(movie, has_tag, tag:<tagID>)`` labelled from ``tags.dat``.

Interactions: ``user_ratedmovies-timestamps.dat`` (or ``user_ratedmovies.dat``) when present;
otherwise the user-tag assignments of ``user_taggedmovies-timestamps.dat`` (or
``user_taggedmovies.dat``) are used as implicit feedback: one interaction (rating 1.0) per
distinct (user, movie), at the time of the user's first tag on that movie. That substitution
is recorded in ``notes`` and warned about.

Rows of side-information files that name a movie absent from ``movies.dat`` are dropped
with a note; ratings of such movies are errors.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from kgrec.data.dataset import MovieDataset, empty_ratings, empty_triples
from kgrec.data.sources import _tables as T
from kgrec.data.sources.download import HETREC_2K, fetch

log = logging.getLogger("kgrec.data")

_MISSING = r"\N"


def load_hetrec_2k(data_dir: str | Path | None = None, *, force_reload: bool = False,
                   download: bool = True, top_actors: int = 5) -> MovieDataset:
    """HetRec 2011 MovieLens-2k: 10,197 movies, 4,060 directors, 20 genres, 72 countries.

    Args:
        data_dir: Cache root or the ``hetrec2011-movielens-2k-v2`` folder itself.
        force_reload: Download and verify again even if a local copy exists.
        download: Allow downloading when no local copy exists.
        top_actors: Actors kept per movie, by IMDb cast ranking.
    """
    folder = fetch(HETREC_2K, data_dir, force=force_reload, download=download)
    return read_hetrec_2k(folder, top_actors=top_actors)


def _read(folder: Path, name: str, columns: tuple[str, ...], encoding: str = "latin-1"
          ) -> T.Table:
    return T.read_table(folder / name, sep="\t", encoding=encoding, columns=columns)


def read_hetrec_2k(folder: str | Path, *, top_actors: int = 5) -> MovieDataset:
    """Read a HetRec 2011 MovieLens-2k folder (only ``movies.dat`` is required here; every
    other file is used when present and its absence noted)."""
    folder = Path(folder)
    notes: list[str] = []
    movie_table = _read(folder, "movies.dat", ("id", "title", "year"))
    frame = movie_table.frame
    T.check_nonempty(movie_table, ["id"])
    T.check_unique(movie_table, ["id"], "movie id")
    year = frame["year"].mask(frame["year"].eq(_MISSING), "")
    year_table = T.Table(movie_table.path, pd.DataFrame({"year": year}), "\t", False, True,
                         "latin-1")
    items = pd.DataFrame({
        "item_id": frame["id"],
        "title": frame["title"].mask(frame["title"].eq(_MISSING), "").str.strip(),
        "year": T.to_year(year_table, "year"),
        "text": "",
    })
    known = pd.Index(items["item_id"])
    parts: list[pd.DataFrame] = []
    labels: dict[str, str] = {}

    def side(name: str, columns: tuple[str, ...], encoding: str = "latin-1",
             numeric: str | None = None) -> pd.DataFrame | None:
        """Rows of a side file about known movies, or None (with a note) if it is absent.

        ``numeric`` names a column validated as a number (on the full file, so errors
        name the right line) and returned parsed, in column ``"_number"``."""
        if not (folder / name).is_file():
            notes.append(f"hetrec-2k: {name} is absent from {folder}; no such triples")
            return None
        table = _read(folder, name, columns, encoding)
        T.check_nonempty(table, ["movieID"])
        rows = table.frame
        if numeric is not None:
            rows["_number"] = T.to_number(table, numeric, allow_empty=True).to_numpy()
        unknown = ~rows["movieID"].isin(known)
        if unknown.any():
            notes.append(f"hetrec-2k: dropped {int(unknown.sum()):,} rows of {name} naming "
                         "movies absent from movies.dat")
            rows = rows[~unknown]
        return rows

    def add(rows: pd.DataFrame, relation: str, tails: pd.Series, names: pd.Series) -> None:
        keep = tails.ne("").to_numpy()
        rows, tails, names = rows[keep], tails[keep], names[keep]
        parts.append(pd.DataFrame({"head": "movie:" + rows["movieID"].to_numpy(),
                                   "relation": relation, "tail": tails.to_numpy()}))
        first = ~tails.duplicated()
        labels.update(zip(tails[first], names[first]))

    directors = side("movie_directors.dat", ("movieID", "directorID", "directorName"))
    if directors is not None:
        add(directors, "directed_by", "person:" + directors["directorID"],
            directors["directorName"])
    actors = side("movie_actors.dat", ("movieID", "actorID", "actorName", "ranking"),
                  numeric="ranking")
    if actors is not None:
        rank = actors["_number"].fillna(np.inf).to_numpy()
        order = np.lexsort((rank, actors["movieID"].to_numpy()))
        actors = actors.iloc[order]
        actors = actors[actors.groupby("movieID", sort=False).cumcount().to_numpy() < top_actors]
        add(actors, "starring", "person:" + actors["actorID"], actors["actorName"])
    genres = side("movie_genres.dat", ("movieID", "genre"), "utf-8")
    if genres is not None:
        add(genres, "has_genre", "genre:" + genres["genre"], genres["genre"])
    countries = side("movie_countries.dat", ("movieID", "country"), "utf-8")
    if countries is not None:
        tails = ("country:" + countries["country"]).where(countries["country"].ne(""), "")
        add(countries, "from_country", tails, countries["country"])
    movie_tags = side("movie_tags.dat", ("movieID", "tagID", "tagWeight"), "utf-8")
    if movie_tags is not None:
        tag_names = pd.Series(dtype=str)
        if (folder / "tags.dat").is_file():
            tag_table = _read(folder, "tags.dat", ("id", "value"), T.UTF8_OR_LATIN1)
            tag_names = pd.Series(tag_table.frame["value"].str.strip().to_numpy(),
                                  index=tag_table.frame["id"].to_numpy())
            tag_names = tag_names[~tag_names.index.duplicated()]
        else:
            notes.append("hetrec-2k: tags.dat is absent; tags have no labels")
        tag_ids = movie_tags["tagID"]
        names = tag_ids.map(tag_names).fillna(tag_ids)
        add(movie_tags, "has_tag", "tag:" + tag_ids, names)

    ratings = _interactions(folder, known, notes)
    triples = (pd.concat(parts, ignore_index=True).drop_duplicates(ignore_index=True) if parts
               else empty_triples())
    dataset = MovieDataset("hetrec-2k", items, ratings, triples, labels, notes)
    for note in notes:
        log.info(note)
    return dataset


def _interactions(folder: Path, known: pd.Index, notes: list[str]) -> pd.DataFrame:
    """Ratings, or user-tag assignments as implicit feedback when ratings are absent."""
    path = folder / "user_ratedmovies-timestamps.dat"
    if path.is_file():
        table = _read(folder, path.name, ("userID", "movieID", "rating", "timestamp"), "utf-8")
        return T.ratings_frame(table, known, items_where="movies.dat", user="userID",
                               item="movieID", rating="rating", timestamp="timestamp",
                               timestamp_divisor=1000)
    path = folder / "user_ratedmovies.dat"
    if path.is_file():
        table = _read(folder, path.name, ("userID", "movieID", "rating", *_DATE_COLUMNS), "utf-8")
        table.frame["timestamp"] = _dates_to_seconds(table)
        return T.ratings_frame(table, known, items_where="movies.dat", user="userID",
                               item="movieID", rating="rating", timestamp="timestamp")

    path = folder / "user_taggedmovies-timestamps.dat"
    if path.is_file():
        table = _read(folder, path.name, ("userID", "movieID", "tagID", "timestamp"), "utf-8")
        seconds = T.to_number(table, "timestamp") / 1000
        T.check_range(table, seconds, "timestamp (seconds)", *T.TIMESTAMP_RANGE)
    elif (path := folder / "user_taggedmovies.dat").is_file():
        table = _read(folder, path.name, ("userID", "movieID", "tagID", *_DATE_COLUMNS), "utf-8")
        seconds = pd.to_numeric(_dates_to_seconds(table))
    else:
        note = ("hetrec-2k: no user_ratedmovies*.dat and no user_taggedmovies*.dat in "
                f"{folder}; loaded with an empty ratings table")
        notes.append(note)
        T.warn(note)
        return empty_ratings()
    T.check_nonempty(table, ["userID", "movieID"])
    T.check_known(table, table.frame["movieID"], known, "movie", "movies.dat")
    tagged = pd.DataFrame({"user_id": table.frame["userID"],
                           "item_id": table.frame["movieID"],
                           "timestamp": np.floor(seconds.to_numpy()).astype(np.int64)})
    ratings = (tagged.groupby(["user_id", "item_id"], sort=False, as_index=False)["timestamp"]
               .min())
    ratings["rating"] = 1.0
    note = (f"hetrec-2k: no user_ratedmovies*.dat; using {len(table):,} user-tag assignments "
            f"as implicit interactions ({len(ratings):,} distinct user-movie pairs, rating 1.0, "
            f"time of the first tag) from {path.name}")
    notes.append(note)
    T.warn(note)
    return ratings


_DATE_COLUMNS = ("date_day", "date_month", "date_year", "date_hour", "date_minute", "date_second")


def _dates_to_seconds(table: T.Table) -> pd.Series:
    """Unix seconds (UTC) from HetRec's ``date_*`` columns, validated per row."""
    parts = {name.removeprefix("date_"): T.to_number(table, name) for name in _DATE_COLUMNS}
    moments = pd.to_datetime(pd.DataFrame(parts), errors="coerce")
    position = T.first_true(moments.isna().to_numpy())
    if position is not None:
        raise table.error("invalid date in the date_* columns", position)
    seconds = (moments - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1)
    return seconds.astype(np.int64).astype(str)
