"""Dataset loaders on tiny fixtures written into tmp_path: formats, validation errors
(file and line named), the registry, and the download/checksum/offline paths."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import urllib.error
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from kgrec.data import DataError, MovieDataset, load_dataset
from kgrec.data.sources import download, hetrec, movielens
from kgrec.data.sources.download import (
    ML_100K,
    ChecksumError,
    DatasetUnavailableError,
    RemoteSource,
    cache_root,
    fetch,
    git_blob_id,
    verify,
)
from kgrec.data.sources.recbole import kg_triples, merge_kg, relation_name


def write(path: Path, text: str, encoding: str = "utf-8", newline: str = "\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.replace("\n", newline).encode(encoding))
    return path


def triples_of(ds: MovieDataset, relation: str) -> set[tuple[str, str]]:
    t = ds.triples[ds.triples["relation"] == relation]
    return set(zip(t["head"], t["tail"]))


# -- fixtures in the original formats -------------------------------------------------------
ML100K_FILES = {
    "u.genre": "unknown|0\nAction|1\nComedy|2\n\n",
    "u.item": ("1|Toy Story (1995)|01-Jan-1995||http://x|0|0|1\n"
               "2|Cité des enfants perdus, La (1995)|01-Jan-1995||http://x|0|1|1\n"
               "3|Land Before Time III (1995) (V)|01-Jan-1995||http://x|0|0|1\n"
               "4|unknown||||1|0|0\n"
               "5|No Year Here|05-Feb-1971||http://x|0|1|0\n"),
    "u.data": "1\t1\t5\t881250949\n1\t2\t3\t881250950\n2\t1\t4\t881250951\n2\t5\t1\t881250952\n",
}


def make_ml100k(folder: Path) -> Path:
    for name, text in ML100K_FILES.items():
        write(folder / name, text, "latin-1")
    return folder


def test_ml_100k(tmp_path):
    folder = make_ml100k(tmp_path / "ml-100k")
    ds = load_dataset("ml-100k", data_dir=tmp_path, download=False)
    assert (ds.num_users, ds.num_items, ds.num_ratings) == (2, 5, 4)
    items = ds.items.set_index("item_id")
    assert items.loc["1", "title"] == "Toy Story" and items.loc["1", "year"] == 1995
    assert items.loc["2", "title"] == "Cité des enfants perdus, La"  # Latin-1 decoded
    assert items.loc["3", "title"] == "Land Before Time III (V)"
    assert items.loc["4", "title"] == "unknown" and pd.isna(items.loc["4", "year"])
    assert items.loc["5", "year"] == 1971  # from the release date
    assert triples_of(ds, "has_genre") == {
        ("movie:1", "genre:Comedy"), ("movie:2", "genre:Action"), ("movie:2", "genre:Comedy"),
        ("movie:3", "genre:Comedy"), ("movie:4", "genre:unknown"), ("movie:5", "genre:Action")}
    assert ds.label("genre:Action") == "Action" and ds.label("movie:1") == "Toy Story"
    assert ds.ratings["timestamp"].dtype == "int64"
    assert ds.ratings["rating"].tolist() == [5, 3, 4, 1]
    # data_dir may also be the dataset folder itself
    assert load_dataset("ml-100k", data_dir=folder, download=False).num_ratings == 4


def test_ml_100k_errors_name_file_and_line(tmp_path):
    folder = make_ml100k(tmp_path / "a")
    write(folder / "u.data", "1\t1\t5\t1\n1\t2\tfive\t2\n", "latin-1")
    with pytest.raises(DataError, match=r"u\.data, line 2: unparsable rating 'five'"):
        load_dataset("ml-100k", data_dir=folder, download=False)
    write(folder / "u.data", "1\t1\t5\t1\n1\t2\t4\t2\n1\t9\t4\t2\n", "latin-1")
    with pytest.raises(DataError, match=r"u\.data, line 3: item '9' is not in u\.item"):
        load_dataset("ml-100k", data_dir=folder, download=False)
    write(folder / "u.data", "1\t1\t5\t1\n1\t2\t4\t2\n1\t1\t4\t3\n", "latin-1")
    with pytest.raises(DataError, match=r"u\.data, line 3: duplicate rating .*\(1, 1\); "
                                        r"first given on line 1"):
        load_dataset("ml-100k", data_dir=folder, download=False)
    write(folder / "u.data", "1\t1\t5\t1\n\n1\t2\t4\t2\t7\n")  # blank line 2 is counted
    with pytest.raises(DataError, match=r"u\.data, line 3: expected 4 fields, found 5"):
        load_dataset("ml-100k", data_dir=folder, download=False)
    (folder / "u.data").write_bytes(b"1\t1\t5\t1\n1\t2\t4\t2\xff\n")
    with pytest.raises(DataError, match=r"u\.data, line 2: byte\(s\) 0xff are not valid utf-8"):
        load_dataset("ml-100k", data_dir=folder, download=False)
    write(folder / "u.data", ML100K_FILES["u.data"])
    bad_flag = ML100K_FILES["u.item"].replace("5|No Year Here|05-Feb-1971||http://x|0|1|0",
                                              "5|No Year|||http://x|0|2|0")
    write(folder / "u.item", bad_flag, "latin-1")
    with pytest.raises(DataError, match=r"u\.item, line 5: genre flag 2 \(Action\) is '2'"):
        load_dataset("ml-100k", data_dir=folder, download=False)
    write(folder / "u.item", ML100K_FILES["u.item"] + "1|Again (1990)|||x|0|0|0\n", "latin-1")
    with pytest.raises(DataError, match=r"u\.item, line 6: duplicate item id \(1\); first given "
                                        r"on line 1"):
        load_dataset("ml-100k", data_dir=folder, download=False)


def test_ml_1m_with_and_without_ratings(tmp_path):
    folder = tmp_path / "ml-1m"
    write(folder / "movies.dat", "1::Toy Story (1995)::Animation|Children's|Comedy\n"
                                 "2::Jumanji (1995)::Adventure\n", "latin-1")
    with pytest.warns(UserWarning, match="ratings.dat is absent"):
        ds = load_dataset("ml-1m", data_dir=tmp_path, download=False)
    assert ds.num_items == 2 and ds.num_ratings == 0
    assert any("ratings.dat is absent" in n for n in ds.notes)
    assert ("movie:1", "genre:Children's") in triples_of(ds, "has_genre")
    assert ds.items["year"].tolist() == [1995, 1995]
    write(folder / "ratings.dat", "1::1::5::978300760\n1::2::3::978302109\n2::2::4::978301968\n")
    ds = load_dataset("ml-1m", data_dir=tmp_path, download=False)
    assert (ds.num_users, ds.num_ratings, ds.notes) == (2, 3, [])
    write(folder / "ratings.dat", "1::1::5::978300760\n1::7::3::978302109\n")
    with pytest.raises(DataError, match=r"ratings\.dat, line 2: item '7' is not in movies\.dat"):
        load_dataset("ml-1m", data_dir=tmp_path, download=False)


# -- HetRec -----------------------------------------------------------------------------
def make_hetrec(folder: Path, *, ratings: str | None = None) -> Path:
    """A HetRec-format folder: CRLF, headers, Latin-1 where the original is."""
    crlf = "\r\n"
    write(folder / "movies.dat", "id\ttitle\timdbID\tyear\n1\tToy story\t0114709\t1995\n"
          "2\tAmélie\t0211915\t2001\n3\t\\N\t\\N\t\\N\n", "latin-1", crlf)
    write(folder / "movie_directors.dat", "movieID\tdirectorID\tdirectorName\n"
          "1\tjohn_lasseter\tJohn Lasseter\n2\tjean-pierre_jeunet\tJean-Pierre Jeunet\n"
          "3\tjohn_smith_1\tJohn Smith\n99\tghost\tGhost Director\n", "latin-1", crlf)
    # movie 2: the second "John Smith" is a different person with the same name
    actors = "movieID\tactorID\tactorName\tranking\n" + "".join(
        f"1\tactor_{r}\tActor {r}\t{r}\n" for r in (7, 3, 1, 2, 6, 4, 5))
    actors += "2\tjohn_smith_2\tJohn Smith\t1\n"
    write(folder / "movie_actors.dat", actors, "latin-1", crlf)
    write(folder / "movie_genres.dat", "movieID\tgenre\n1\tAnimation\n1\tComedy\n2\tRomance\n",
          "utf-8", crlf)
    write(folder / "movie_countries.dat", "movieID\tcountry\n1\tUSA\n2\tFrance\n3\t\n", "utf-8",
          crlf)
    write(folder / "movie_tags.dat", "movieID\ttagID\ttagWeight\n1\t7\t2\n2\t9\t1\n", "utf-8", crlf)
    (folder / "tags.dat").write_bytes(b"id\tvalue\r\n7\tpixar\r\n9\tmist\xe9rio\r\n")
    write(folder / "user_taggedmovies-timestamps.dat", "userID\tmovieID\ttagID\ttimestamp\n"
          "75\t1\t7\t1162160415000\n75\t1\t8\t1162160000000\n75\t2\t9\t1162160999000\n"
          "78\t2\t9\t1176691425000\n", "utf-8", crlf)
    if ratings == "timestamps":
        write(folder / "user_ratedmovies-timestamps.dat", "userID\tmovieID\trating\ttimestamp\n"
              "75\t1\t4.5\t1162160236000\n78\t2\t1\t1162160237999\n", "utf-8", crlf)
    elif ratings == "dates":
        write(folder / "user_ratedmovies.dat", "userID\tmovieID\trating\tdate_day\tdate_month\t"
              "date_year\tdate_hour\tdate_minute\tdate_second\n"
              "75\t3\t1\t29\t10\t2006\t23\t17\t16\n",
              "utf-8", crlf)
    return folder


def test_hetrec_tags_as_interactions(tmp_path):
    folder = make_hetrec(tmp_path / "hetrec2011-movielens-2k-v2")
    with pytest.warns(UserWarning, match="user-tag assignments as implicit interactions"):
        ds = load_dataset("hetrec-2k", data_dir=tmp_path, download=False)
    assert ds.num_items == 3
    items = ds.items.set_index("item_id")
    assert items.loc["2", "title"] == "Amélie" and items.loc["2", "year"] == 2001
    assert items.loc["3", "title"] == "" and pd.isna(items.loc["3", "year"])
    assert triples_of(ds, "directed_by") == {("movie:1", "person:john_lasseter"),
                                            ("movie:2", "person:jean-pierre_jeunet"),
                                            ("movie:3", "person:john_smith_1")}
    assert ds.label("person:john_lasseter") == "John Lasseter"
    assert any("dropped 1 rows of movie_directors.dat" in n for n in ds.notes)
    starring = triples_of(ds, "starring")
    assert {t for h, t in starring if h == "movie:1"} == {f"person:actor_{r}" for r in range(1, 6)}
    # two people called John Smith stay two entities with the same label
    assert ds.label("person:john_smith_1") == ds.label("person:john_smith_2") == "John Smith"
    assert triples_of(ds, "from_country") == {("movie:1", "country:USA"),
                                             ("movie:2", "country:France")}
    assert ds.label("tag:9") == "mistério"  # Latin-1 line in a UTF-8 file
    assert triples_of(ds, "has_tag") == {("movie:1", "tag:7"), ("movie:2", "tag:9")}
    # one interaction per (user, movie), at the first tag's time, in seconds
    r = ds.ratings.sort_values(["user_id", "item_id"]).reset_index(drop=True)
    assert r[["user_id", "item_id"]].values.tolist() == [["75", "1"], ["75", "2"], ["78", "2"]]
    assert r["timestamp"].tolist() == [1162160000, 1162160999, 1176691425]
    assert (r["rating"] == 1.0).all()
    assert any("no user_ratedmovies*.dat; using 4 user-tag assignments" in n for n in ds.notes)


def test_hetrec_ratings_files_and_missing_actors(tmp_path):
    folder = make_hetrec(tmp_path / "h", ratings="timestamps")
    (folder / "movie_actors.dat").unlink()
    ds = load_dataset("hetrec-2k", data_dir=folder, download=False)
    assert ds.ratings["rating"].tolist() == [4.5, 1.0]
    assert ds.ratings["timestamp"].tolist() == [1162160236, 1162160237]
    assert any("movie_actors.dat is absent" in n for n in ds.notes)
    assert not any("user-tag" in n for n in ds.notes)
    folder2 = make_hetrec(tmp_path / "h2", ratings="dates")
    ds = load_dataset("hetrec-2k", data_dir=folder2, download=False)
    assert ds.ratings["timestamp"].tolist() == [1162163836]  # 2006-10-29 23:17:16 UTC


def test_hetrec_errors(tmp_path):
    folder = make_hetrec(tmp_path / "h")
    write(folder / "movies.dat", "id\ttitle\tyear\n1\tA\t1995\n2\tB\t19x5\n", "latin-1", "\r\n")
    with pytest.raises(DataError, match=r"movies\.dat, line 3: unparsable year '19x5'"):
        load_dataset("hetrec-2k", data_dir=folder, download=False)
    write(folder / "movies.dat", "id\ttitle\tyear\n1\tA\t1995\n1\tB\t1996\n", "latin-1", "\r\n")
    with pytest.raises(DataError, match=r"movies\.dat, line 3: duplicate movie id"):
        load_dataset("hetrec-2k", data_dir=folder, download=False)
    write(folder / "movies.dat", "id\tname\tyear\n1\tA\t1995\n", "latin-1", "\r\n")
    with pytest.raises(DataError, match=r"movies\.dat, line 1: missing column\(s\) 'title'"):
        load_dataset("hetrec-2k", data_dir=folder, download=False)


# -- RecBole ----------------------------------------------------------------------------
def make_recbole(folder: Path, *, with_kg: bool = True) -> Path:
    write(folder / "toy.inter", "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
          "1\t10\t4\t881250949\n2\t20\t5\t881250950.0\n")
    write(folder / "toy.item", "item_id:token\tmovie_title:token_seq\trelease_year:token\t"
          "class:token_seq\n10\tToy Story\t1995\tAnimation Comedy\n20\tHeat\t1995\tCrime\n"
          "30\tUnlinked\t\tDrama\n")
    if with_kg:
        write(folder / "toy.link", "item_id:token\tentity_id:token\n10\tm.toy\n20\tm.heat\n"
              "99\tm.gone\n")
        write(folder / "toy.kg", "head_id:token\trelation_id:token\ttail_id:token\n"
              "m.toy\tfilm.film.directed_by\tm.lasseter\n"
              "m.lasseter\tfilm.director.film\tm.toy\n"
              "m.toy\tfilm.film.actor\tm.hanks\n"
              "m.toy\tfilm.film.genre\tm.animation\n"
              "m.toy\tfilm.film.country\tm.usa\n"
              "m.toy\tfilm.film.language\tm.english\n"
              "m.toy\tfilm.film.sequel\tm.heat\n"
              "m.toy\tfilm.film.award_nomination\tm.oscar\n"
              "m.hanks\tpeople.person.gender\tm.male\n"
              "m.gone\tfilm.film.actor\tm.hanks\n")
    return folder


def test_recbole_atomic_files_and_kg_mapping(tmp_path):
    folder = make_recbole(tmp_path / "rb")
    ds = load_dataset("recbole", data_dir=folder)
    assert (ds.name, ds.num_items, ds.num_ratings) == ("toy", 3, 2)
    assert ds.ratings["timestamp"].tolist() == [881250949, 881250950]
    assert ("movie:10", "genre:Animation") in triples_of(ds, "has_genre")
    assert set(zip(ds.triples["head"], ds.triples["relation"], ds.triples["tail"])) >= {
        ("movie:10", "directed_by", "person:m.lasseter"),
        ("movie:10", "starring", "person:m.hanks"),
        ("movie:10", "has_genre", "genre:m.animation"),
        ("movie:10", "from_country", "country:m.usa"),
        ("movie:10", "in_language", "language:m.english"), ("movie:10", "sequel", "movie:20"),
        ("movie:10", "award_nomination", "entity:m.oscar")}
    assert ds.triples["head"].str.startswith("movie:").all()  # non-movie heads dropped
    assert len(triples_of(ds, "directed_by")) == 1  # inverse twin dropped
    assert not ds.triples["tail"].str.contains("m.gone").any()
    assert ds.label("person:m.hanks") is None
    # a folder path holding *.inter is read as RecBole too
    assert load_dataset(str(folder)).num_ratings == 2
    assert relation_name("film.film.production_companies") == ("production_companies", "entity")


def test_recbole_without_item_file_and_rating(tmp_path):
    folder = tmp_path / "rb"
    write(folder / "x.inter", "user_id:token\titem_id:token\n1\t10\n1\t11\n")
    ds = load_dataset("recbole", data_dir=folder)
    assert ds.ratings["rating"].tolist() == [1.0, 1.0] and ds.num_items == 2
    assert len(ds.notes) == 2
    write(folder / "x.inter", "user_id:token\titem:token\n1\t10\n")
    with pytest.raises(DataError, match=r"x\.inter, line 1: missing column\(s\) 'item_id'"):
        load_dataset("recbole", data_dir=folder)


def test_merge_kg_into_another_dataset(tmp_path):
    rb = make_recbole(tmp_path / "rb")
    (rb / "toy.inter").unlink()
    (rb / "toy.item").unlink()
    base = make_csv_folder(tmp_path / "csv", items=("item_id,title\n10,Toy Story\n20,Heat\n"),
                           ratings="user_id,item_id,rating\n1,10,5\n")
    ds = load_dataset(str(base), kg_dir=rb)
    assert ("movie:10", "person:m.lasseter") in triples_of(ds, "directed_by")
    assert any("kg: added" in n and "2 of 2 movies linked" in n for n in ds.notes)
    assert merge_kg(ds, rb).triples.shape == ds.triples.shape  # idempotent (no duplicates)
    out = kg_triples(pd.DataFrame({"head_id": ["m.a"], "relation_id": ["film.film.actor"],
                                   "tail_id": ["m.b"]}),
                     pd.DataFrame({"item_id": ["1"], "entity_id": ["m.a"]}))
    assert out.values.tolist() == [["movie:1", "starring", "person:m.b"]]


# -- CSV/TSV folders --------------------------------------------------------------------
ITEMS_CSV = ('item_id,title,year,genres,directors,actors,description\n'
             '1,Reservoir Dogs,1992,Crime|Thriller,Quentin Tarantino,Harvey Keitel| Tim Roth,'
             '"Crooks, a warehouse,\nand a traitor."\n'
             '2,Pulp Fiction,1994,Crime,Quentin Tarantino,Tim Roth,Hitmen.\n'
             '3,Untitled,,,,,\n')
RATINGS_CSV = "user_id,item_id,rating,timestamp\n1,1,5,100\n1,2,4,101\n2,2,3,102\n"


def make_csv_folder(folder: Path, *, items: str = ITEMS_CSV, ratings: str = RATINGS_CSV,
                    ext: str = "csv") -> Path:
    sep = "," if ext == "csv" else "\t"
    write(folder / f"items.{ext}", items if ext == "csv" else items.replace(",", sep))
    write(folder / f"ratings.{ext}", ratings if ext == "csv" else ratings.replace(",", sep))
    return folder


def test_csv_folder(tmp_path):
    folder = make_csv_folder(tmp_path / "mine")
    write(folder / "triples.csv", "head,relation,tail\n"
          "movie:1,written_by,person:Quentin Tarantino\n"
          "movie:2,has_tag,tag:cult\n")
    write(folder / "labels.csv", "entity,label\ntag:cult,Cult classic\n")
    ds = load_dataset(str(folder))
    assert (ds.num_users, ds.num_items, ds.num_ratings) == (2, 3, 3)
    items = ds.items.set_index("item_id")
    assert items.loc["1", "text"] == "Crooks, a warehouse,\nand a traitor."
    assert pd.isna(items.loc["3", "year"]) and items.loc["2", "year"] == 1994
    assert triples_of(ds, "starring") == {("movie:1", "person:Harvey Keitel"),
                                         ("movie:1", "person:Tim Roth"),
                                         ("movie:2", "person:Tim Roth")}
    assert triples_of(ds, "directed_by") == {("movie:1", "person:Quentin Tarantino"),
                                            ("movie:2", "person:Quentin Tarantino")}
    assert ("movie:1", "genre:Thriller") in triples_of(ds, "has_genre")
    assert ds.label("person:Tim Roth") == "Tim Roth" and ds.label("tag:cult") == "Cult classic"
    assert ("movie:1", "person:Quentin Tarantino") in triples_of(ds, "written_by")
    assert ds.name == str(folder)


def test_tsv_folder_without_timestamp(tmp_path):
    folder = make_csv_folder(tmp_path / "t", items="item_id,title\n1,A\n2,B\n",
                             ratings="user_id,item_id,rating\n1,1,5\n1,2,2.5\n", ext="tsv")
    ds = load_dataset(folder)
    assert ds.ratings["timestamp"].tolist() == [0, 0] and ds.ratings["rating"].tolist() == [5, 2.5]


@pytest.mark.parametrize("items, ratings, message", [
    ("item_id,name\n1,A\n", RATINGS_CSV, r"items\.csv, line 1: missing column\(s\) 'title'"),
    (ITEMS_CSV, "user_id,item_id,stars\n1,1,5\n",
     r"ratings\.csv, line 1: missing column\(s\) 'rating'"),
    (ITEMS_CSV, "user_id,item_id,rating\n1,1,5\n\n1,2,abc\n",
     r"ratings\.csv, line 4: unparsable rating 'abc'"),
    (ITEMS_CSV, "user_id,item_id,rating\n1,1,5\n1,42,4\n",
     r"ratings\.csv, line 3: item '42' is not in items\.csv"),
    (ITEMS_CSV, "user_id,item_id,rating\n1,1,5\n2,1,4\n1,1,3\n",
     r"ratings\.csv, line 4: duplicate rating for \(user, item\) \(1, 1\); first given on line 2"),
    (ITEMS_CSV + "2,Again,2000,,,,\n", RATINGS_CSV,
     r"items\.csv, line 6: duplicate item id \(2\); first given on line 4"),  # line 2-3: quoted
    ("item_id,title,year\n1,A,1995\n2,B,nineteen\n", "user_id,item_id,rating\n1,1,5\n",
     r"items\.csv, line 3: unparsable year 'nineteen'"),
    (ITEMS_CSV, "user_id,item_id,rating\n1,1,5\n,2,4\n", r"ratings\.csv, line 3: empty user_id"),
    (ITEMS_CSV, "user_id,item_id,rating\n1,1,5\n1,2,4,9,9\n",
     r"ratings\.csv, line 3: expected 3 fields, found 5"),
])
def test_csv_errors_name_file_and_line(tmp_path, items, ratings, message):
    folder = make_csv_folder(tmp_path / "bad", items=items, ratings=ratings)
    with pytest.raises(DataError, match=message) as info:
        load_dataset(str(folder))
    assert info.value.path is not None and info.value.line is not None


def test_csv_encoding_error_names_line(tmp_path):
    folder = make_csv_folder(tmp_path / "enc")
    (folder / "items.csv").write_bytes(b"item_id,title\n1,A\n2,Caf\xff\n")
    with pytest.raises(DataError, match=r"items\.csv, line 3: byte\(s\) 0xff are not valid utf-8"):
        load_dataset(str(folder))


def test_csv_missing_files_and_bad_triples(tmp_path):
    folder = make_csv_folder(tmp_path / "m")
    (folder / "ratings.csv").unlink()
    with pytest.raises(DataError, match=r"ratings\.csv: file not found"):
        load_dataset(str(folder))
    folder = make_csv_folder(tmp_path / "t")
    write(folder / "triples.csv", "head,relation,tail\nmovie:1,directed_by,person:X\n"
          "movie:1,directed_by,Nobody\n")
    with pytest.raises(DataError, match=r"triples\.csv, line 3: tail 'Nobody' is not a typed"):
        load_dataset(str(folder))
    write(folder / "triples.csv", "head,relation,tail\nmovie:77,directed_by,person:X\n")
    with pytest.raises(DataError, match=r"triples\.csv, line 2: head 'movie:77' names a movie"):
        load_dataset(str(folder))
    write(folder / "items.tsv", "item_id\ttitle\n1\tA\n")
    with pytest.raises(DataError, match="both items.csv and items.tsv"):
        load_dataset(str(folder))
    ml = make_ml100k(tmp_path / "looks-like-ml")
    with pytest.raises(DataError, match="looks like MovieLens 100K"):
        load_dataset(str(ml))


def test_sample_format_loads_through_csv_loader(tmp_path):
    """The bundled sample's column layout (pipe lists, quoted descriptions)."""
    folder = make_csv_folder(tmp_path / "sample")
    ds = load_dataset(str(folder))
    assert {"has_genre", "directed_by", "starring"} <= set(ds.triples["relation"])


def test_bundled_sample():
    from importlib.resources import files

    root = files("kgrec.data") / "sample"
    if not (root / "items.csv").is_file() or not (root / "ratings.csv").is_file():
        pytest.skip("bundled sample not written yet")
    ds = load_dataset("sample")
    assert ds.name == "sample" and ds.num_items > 0 and ds.num_ratings > 0
    assert {"has_genre", "directed_by", "starring"} <= set(ds.triples["relation"])


# -- registry ---------------------------------------------------------------------------
def test_unknown_name_lists_valid_names(tmp_path):
    with pytest.raises(ValueError, match="sample, ml-100k, ml-1m, hetrec-2k, recbole"):
        load_dataset("ml-20m")
    with pytest.raises(ValueError, match="needs data_dir"):
        load_dataset("recbole")


# -- download, checksums, offline -------------------------------------------------------
def zip_bytes(files: dict[str, bytes], prefix: str = "") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in files.items():
            zf.writestr(prefix + name, data)
    return buffer.getvalue()


def fake_source(tmp_path: Path, files: dict[str, bytes], *, prefix: str = "toy/",
                **changes) -> RemoteSource:
    archive = tmp_path / "server" / "toy.zip"
    archive.parent.mkdir(parents=True, exist_ok=True)
    archive.write_bytes(zip_bytes(files, prefix))
    fields = dict(name="toy", folder="toy", url=archive.as_uri(), required=("a.txt",),
                  sha256={n: hashlib.sha256(d).hexdigest() for n, d in files.items()})
    fields.update(changes)
    return RemoteSource(**fields)


def test_fetch_downloads_verifies_and_reuses(tmp_path):
    files = {"a.txt": b"alpha\n", "b.txt": b"beta\n"}
    source = fake_source(tmp_path, files, git_blob={"b.txt": git_blob_id_bytes(b"beta\n")},
                         sha256={"a.txt": hashlib.sha256(b"alpha\n").hexdigest()})
    root = tmp_path / "cache"
    folder = fetch(source, root)
    assert folder == root / "toy" and (folder / "a.txt").read_bytes() == b"alpha\n"
    assert sorted(p.name for p in root.iterdir()) == ["toy"]  # no temporary leftovers
    # a second fetch uses the local copy, even offline
    (tmp_path / "server" / "toy.zip").unlink()
    assert fetch(source, root) == folder
    with pytest.raises(DatasetUnavailableError):
        fetch(source, root, force=True)
    assert (folder / "a.txt").is_file()  # a failed re-download keeps the old copy


def git_blob_id_bytes(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def test_flat_zip_layout(tmp_path):
    source = fake_source(tmp_path, {"a.txt": b"x"}, prefix="")  # HetRec's zip has no folder
    assert (fetch(source, tmp_path / "c") / "a.txt").read_bytes() == b"x"


def test_checksum_mismatch_names_file_and_both_hashes(tmp_path):
    good = hashlib.sha256(b"alpha\n").hexdigest()
    source = fake_source(tmp_path, {"a.txt": b"alpha\n"}, sha256={"a.txt": "0" * 64})
    with pytest.raises(ChecksumError, match=rf"sha256 mismatch for a\.txt \(downloaded from "
                                            rf"file://\S+toy\.zip\): expected 0{{64}}, got {good}"):
        fetch(source, tmp_path / "cache")
    assert not (tmp_path / "cache" / "toy").exists()
    assert [p for p in (tmp_path / "cache").iterdir()] == []  # nothing half-written
    source = fake_source(tmp_path, {"a.txt": b"alpha\n"}, sha256={},
                         git_blob={"a.txt": "f" * 40})
    with pytest.raises(ChecksumError, match=r"git blob mismatch for a\.txt"):
        fetch(source, tmp_path / "cache")
    source = fake_source(tmp_path, {"a.txt": b"alpha\n"}, sha256={"zzz.txt": good})
    with pytest.raises(ChecksumError, match=r"archive from file://\S+ lacks 'zzz.txt'"):
        fetch(source, tmp_path / "cache")


def test_git_blob_id_matches_git(tmp_path):
    path = write(tmp_path / "hello", "hello\n")
    assert git_blob_id(path) == "ce013625030ba8dba906f756967f9e9ca394464a"  # git hash-object


def test_offline_error_names_folder_and_files(tmp_path, monkeypatch):
    def offline(request, timeout):
        raise urllib.error.URLError(OSError(101, "Network is unreachable"))

    monkeypatch.setattr(download, "_urlopen", offline)
    with pytest.raises(DatasetUnavailableError) as info:
        load_dataset("ml-100k", data_dir=tmp_path)
    message = str(info.value)
    assert str(tmp_path / "ml-100k") in message
    for name in ("u.data", "u.item", "u.genre", "--data-dir", "KGREC_DATA_DIR",
                 "Network is unreachable"):
        assert name in message
    with pytest.raises(DatasetUnavailableError, match="downloads are disabled"):
        load_dataset("hetrec-2k", data_dir=tmp_path, download=False)
    assert not (tmp_path / "ml-100k").exists()


def test_load_ml_100k_through_download(tmp_path, monkeypatch):
    """End to end: fake publisher serving a zip of the tiny ml-100k, hashes checked."""
    files = {name: text.encode("latin-1") for name, text in ML100K_FILES.items()}
    payload = zip_bytes(files, "ml-100k/")
    requests = []

    class Response(io.BytesIO):
        headers = {"Content-Length": str(len(payload))}

    def serve(request, timeout):
        requests.append(request.full_url)
        return Response(payload)

    monkeypatch.setattr(download, "_urlopen", serve)
    source = dataclasses.replace(ML_100K, sha256={n: hashlib.sha256(d).hexdigest()
                                                  for n, d in files.items()})
    monkeypatch.setattr(movielens, "ML_100K", source)
    ds = load_dataset("ml-100k", data_dir=tmp_path)
    assert ds.num_ratings == 4 and requests == [ML_100K.url]
    assert (tmp_path / "ml-100k" / "u.data").is_file()
    load_dataset("ml-100k", data_dir=tmp_path)
    assert len(requests) == 1  # cached
    load_dataset("ml-100k", data_dir=tmp_path, force_reload=True)
    assert len(requests) == 2
    # the real hash table rejects these (fake) files
    monkeypatch.setattr(movielens, "ML_100K", ML_100K)
    with pytest.raises(ChecksumError, match=r"ml-100k archive from https://\S+ lacks 'README', "
                                            r"'u\.info'"):
        load_dataset("ml-100k", data_dir=tmp_path / "other")
    files["README"] = files["u.info"] = b"x"
    for name in ML_100K.sha256:
        files.setdefault(name, b"")
    payload = zip_bytes(files, "ml-100k/")
    with pytest.raises(ChecksumError, match=r"sha256 mismatch for README \(downloaded from "
                                            r"https://files.grouplens.org/\S+\): expected "
                                            r"4883b8cf\w{56}, got 2d711642\w{56}"):
        load_dataset("ml-100k", data_dir=tmp_path / "other")
    assert list((tmp_path / "other").iterdir()) == []


def test_only_https_and_file_urls(tmp_path):
    source = RemoteSource(name="x", folder="x", url="http://example.org/x.zip", required=("a",))
    with pytest.raises(ValueError, match="only https:// and file://"):
        fetch(source, tmp_path)


def test_zip_slip_is_rejected(tmp_path):
    source = fake_source(tmp_path, {"../evil.txt": b"x", "a.txt": b"y"}, prefix="", sha256={})
    with pytest.raises(DataError, match="would escape"):
        fetch(source, tmp_path / "cache")
    assert not (tmp_path / "evil.txt").exists()


def test_cache_root_resolution(tmp_path, monkeypatch):
    monkeypatch.delenv("KGREC_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if os.name != "nt" and os.uname().sysname != "Darwin":
        assert cache_root() == tmp_path / "xdg" / "kgrec"
    monkeypatch.setenv("KGREC_DATA_DIR", str(tmp_path / "env"))
    assert cache_root() == tmp_path / "env"
    assert cache_root(tmp_path / "arg") == tmp_path / "arg"


def test_verify_local_folder(tmp_path):
    folder = make_ml100k(tmp_path / "ml-100k")
    with pytest.raises(ChecksumError, match=r"u\.data: sha256 mismatch for u\.data"):
        verify(ML_100K, folder)
    # presence only at load time: local (unofficial) files load without hashing
    assert load_dataset("ml-100k", data_dir=tmp_path, download=False).num_items == 5
    assert hetrec.HETREC_2K.name == "hetrec-2k"
