"""Validation at the loaders' boundary: numbers finite and in range, years that are years,
titles of bounded length, rows cut short and files cut mid-line, each refused with a
``DataError`` naming the file and line (CSV folder, RecBole, MovieLens, HetRec)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kgrec.data import DataError
from kgrec.data.sources import _tables as T
from kgrec.data.sources.csv_folder import read_csv_folder
from kgrec.data.sources.hetrec import read_hetrec_2k
from kgrec.data.sources.movielens import read_ml_1m, read_ml_100k
from kgrec.data.sources.recbole import read_recbole

ITEMS = "item_id,title,year,genres\n1,Heat,1995,Crime\n2,Casino,1995,Crime|Drama\n3,Ran,,\n"
RATINGS = "user_id,item_id,rating,timestamp\nu1,1,5,881250949\nu1,2,3.5,881250950\nu2,3,4,0\n"


def csv_folder(tmp_path: Path, items: str = ITEMS, ratings: str = RATINGS) -> Path:
    folder = tmp_path / "csv"
    folder.mkdir(exist_ok=True)
    (folder / "items.csv").write_text(items, encoding="utf-8")
    (folder / "ratings.csv").write_text(ratings, encoding="utf-8")
    return folder


def rating_row(value: str, timestamp: str = "881250951") -> str:
    return RATINGS + f"u2,1,{value},{timestamp}\n"


def test_the_valid_fixture_loads(tmp_path):
    ds = read_csv_folder(csv_folder(tmp_path))
    assert ds.ratings["rating"].tolist() == [5.0, 3.5, 4.0]
    assert ds.items["year"].isna().tolist() == [False, False, True]
    assert str(ds.items["year"].dtype) == "Int64"


@pytest.mark.parametrize("value", ["inf", "-inf", "Infinity", "1e400", "-1e400"])
def test_infinite_ratings_are_refused(tmp_path, value):
    with pytest.raises(DataError, match=rf"ratings\.csv, line 5: rating '{value}' is not a "
                                        "finite number"):
        read_csv_folder(csv_folder(tmp_path, ratings=rating_row(value)))


@pytest.mark.parametrize("value", ["nan", "NaN", "five", ""])
def test_unparsable_ratings_are_refused(tmp_path, value):
    with pytest.raises(DataError, match=r"ratings\.csv, line 5: (unparsable|empty) rating"):
        read_csv_folder(csv_folder(tmp_path, ratings=rating_row(value)))


def test_out_of_range_ratings_are_refused(tmp_path):
    with pytest.raises(DataError, match=r"line 5: rating '1e7' is out of range \(accepted: "
                                        r"-1,000,000 to 1,000,000\)"):
        read_csv_folder(csv_folder(tmp_path, ratings=rating_row("1e7")))
    assert read_csv_folder(csv_folder(tmp_path, ratings=rating_row("-10"))).num_ratings == 4


@pytest.mark.parametrize("value", ["1e30", "-1e30", "9.3e18", "253402300800", "inf"])
def test_timestamps_out_of_range_are_refused_not_wrapped(tmp_path, value):
    with pytest.raises(DataError, match=rf"ratings\.csv, line 5: timestamp.*'{value}' is"):
        read_csv_folder(csv_folder(tmp_path, ratings=rating_row("4", value)))


def test_timestamps_in_range_are_kept_exactly(tmp_path):
    ds = read_csv_folder(csv_folder(tmp_path, ratings=rating_row("4", "253402300799")))
    assert ds.ratings["timestamp"].iloc[-1] == 253402300799
    ds = read_csv_folder(csv_folder(tmp_path, ratings=rating_row("4", "-2208988800")))
    assert ds.ratings["timestamp"].iloc[-1] == -2208988800


@pytest.mark.parametrize("value, message", [
    ("1e20", "out of range"), ("0", "out of range"),
    ("10000", "out of range"), ("1995.5", "not a whole number"), ("inf", "not a finite"),
    ("nineteen", "expected a number"),
])
def test_bad_years_are_data_errors(tmp_path, value, message):
    items = ITEMS + f"4,Thief,{value},Crime\n"
    with pytest.raises(DataError, match=rf"items\.csv, line 5: (unparsable )?year '{value}' "
                                        rf".*{message}"):
        read_csv_folder(csv_folder(tmp_path, items=items))


def test_long_titles_are_refused_with_the_rule(tmp_path):
    limit = T.MAX_TITLE_CHARS
    ok = read_csv_folder(csv_folder(tmp_path, items=ITEMS + f"4,{'x' * limit},,\n"))
    assert len(ok.items["title"].iloc[-1]) == limit
    with pytest.raises(DataError, match=r"items\.csv, line 5: title of 200,000 characters is "
                                        r"longer than the 1,000 accepted"):
        read_csv_folder(csv_folder(tmp_path, items=ITEMS + f"4,{'x' * 200_000},,\n"))


def test_blank_titles_load_as_empty_strings(tmp_path):
    ds = read_csv_folder(csv_folder(tmp_path, items=ITEMS + "4,   ,1990,\n5,,,\n"))
    assert ds.items["title"].tolist()[-2:] == ["", ""]


def test_rows_cut_short_are_refused(tmp_path):
    with pytest.raises(DataError, match=r"ratings\.csv, line 3: expected 4 fields, found 3"):
        read_csv_folder(csv_folder(tmp_path, ratings=RATINGS.replace(",3.5,881250950", ",3.5")))
    # a user's CSV without a final line end is fine (not a publisher's format)
    assert read_csv_folder(csv_folder(tmp_path, ratings=RATINGS.rstrip("\n"))).num_ratings == 3


# -- MovieLens -------------------------------------------------------------------------------
ML100K = {
    "u.genre": "unknown|0\nAction|1\nCrime|2\n\n",
    "u.item": ("1|Heat (1995)|01-Jan-1995||http://x|0|1|1\n"
               "2|Casino (1995)|01-Jan-1995||http://x|0|0|1\n"),
    "u.data": "1\t1\t5\t881250949\n1\t2\t3\t881250950\n2\t1\t4\t881250951\n",
}


def ml100k(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "ml-100k"
    folder.mkdir(exist_ok=True)
    for name, text in {**ML100K, **{k.replace("_", "."): v for k, v in files.items()}}.items():
        (folder / name).write_bytes(text.encode("latin-1"))
    return folder


def test_ml100k_cut_mid_line_is_an_error(tmp_path):
    assert read_ml_100k(ml100k(tmp_path)).num_ratings == 3
    cut = ML100K["u.data"][:-5]  # "2\t1\t4\t8812": the timestamp cut short
    with pytest.raises(DataError, match=r"u\.data, line 3: the last line has no line end: the "
                                        "file is truncated"):
        read_ml_100k(ml100k(tmp_path, u_data=cut))
    with pytest.raises(DataError, match=r"u\.data, line 3: the last line has no line end"):
        read_ml_100k(ml100k(tmp_path, u_data=ML100K["u.data"][:-12]))  # "2\t1\t4"
    with pytest.raises(DataError, match=r"u\.item, line 2: the last line has no line end"):
        read_ml_100k(ml100k(tmp_path, u_item=ML100K["u.item"][:-3]))


def test_ml100k_numbers_are_checked(tmp_path):
    data = ML100K["u.data"] + "2\t2\t1e400\t881250952\n"
    with pytest.raises(DataError, match=r"u\.data, line 4: rating '1e400' is not a finite"):
        read_ml_100k(ml100k(tmp_path, u_data=data))
    data = ML100K["u.data"] + "2\t2\t1\t1e30\n"
    with pytest.raises(DataError, match=r"u\.data, line 4: timestamp"):
        read_ml_100k(ml100k(tmp_path, u_data=data))


def test_ml100k_real_file_cut_mid_line(tmp_path, shared_datasets):
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    for name in ("u.genre", "u.item"):
        shutil.copy(shared_datasets / "ml-100k" / name, folder / name)
    data = (shared_datasets / "ml-100k" / "u.data").read_bytes()
    (folder / "u.data").write_bytes(data[:-4])
    with pytest.raises(DataError, match=r"u\.data, line 100000: the last line has no line end"):
        read_ml_100k(folder)


def test_ml1m_title_and_truncation(tmp_path):
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    (folder / "movies.dat").write_bytes(b"1::Heat (1995)::Crime\n2::Casino (1995)::Crime\n")
    (folder / "ratings.dat").write_bytes(b"1::1::5::978300760\n1::2::4::9783")
    with pytest.raises(DataError, match=r"ratings\.dat, line 2: the last line has no line end"):
        read_ml_1m(folder)
    (folder / "movies.dat").write_bytes(f"1::{'x' * 2000} (1995)::Crime\n".encode())
    with pytest.raises(DataError, match=r"movies\.dat, line 1: title of 2,000 characters"):
        read_ml_1m(folder)


# -- RecBole and HetRec ----------------------------------------------------------------------
def recbole(tmp_path: Path, inter: str, item: str | None = None) -> Path:
    folder = tmp_path / "rb"
    folder.mkdir(exist_ok=True)
    (folder / "toy.inter").write_text(inter, encoding="utf-8")
    if item is not None:
        (folder / "toy.item").write_text(item, encoding="utf-8")
    return folder


INTER = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t10\t5\t881250949\n"
ITEM = "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n10\tHeat\t1995\tCrime\n"


@pytest.mark.parametrize("inter, message", [
    (INTER + "2\t10\tinf\t881250949\n", r"toy\.inter, line 3: rating 'inf' is not a finite"),
    (INTER + "2\t10\t1e400\t881250949\n", r"toy\.inter, line 3: rating '1e400' is not a finite"),
    (INTER + "2\t10\t4\t1e30\n", r"toy\.inter, line 3: timestamp \(seconds\) '1e30' is out"),
    (INTER + "2\t10\t4\n", r"toy\.inter, line 3: expected 4 fields, found 3"),
])
def test_recbole_interactions_are_checked(tmp_path, inter, message):
    with pytest.raises(DataError, match=message):
        read_recbole(recbole(tmp_path, inter, ITEM))


@pytest.mark.parametrize("item, message", [
    (ITEM + "11\tThief\t1e20\tCrime\n", r"toy\.item, line 3: year '1e20' is out of range"),
    (ITEM + "11\tThief\t1981.5\tCrime\n", r"toy\.item, line 3: year '1981\.5' is not a whole"),
    (ITEM + f"11\t{'x' * 200_000}\t1981\tCrime\n", r"toy\.item, line 3: title of 200,000"),
])
def test_recbole_items_are_checked(tmp_path, item, message):
    with pytest.raises(DataError, match=message):
        read_recbole(recbole(tmp_path, INTER, item))


def test_recbole_years_are_nullable_integers(tmp_path):
    ds = read_recbole(recbole(tmp_path, INTER, ITEM + "11\tThief\t\tCrime\n"))
    assert str(ds.items["year"].dtype) == "Int64" and ds.items["year"].tolist()[0] == 1995


def test_hetrec_year_is_a_data_error(tmp_path):
    folder = tmp_path / "hetrec"
    folder.mkdir()
    header = "id\ttitle\timdbID\tspanishTitle\timdbPictureURL\tyear\n"
    (folder / "movies.dat").write_bytes((header + "1\tHeat\t1\tx\tx\t1e20\n").encode("latin-1"))
    with pytest.raises(DataError, match=r"movies\.dat, line 2: year '1e20' is out of range"):
        read_hetrec_2k(folder)
