"""Link validation of KG merges (kgrec.data.sources.linking, merge_kg) on small fixtures:
a correct link file passes, a shuffled one is refused, the override is recorded, and
ML-100K ids are re-keyed to ML-20M ids by title."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kgrec.data import DataError, MovieDataset
from kgrec.data.sources.download import ENV_DATA_DIR, DatasetUnavailableError
from kgrec.data.sources.linking import director_names, link_agreement
from kgrec.data.sources.recbole import merge_kg

N_MOVIES, N_GENRES = 60, 6


def _dataset(name: str = "toy", ids=None, titles=None) -> MovieDataset:
    ids = [str(i) for i in (ids or range(1, N_MOVIES + 1))]
    titles = titles or [f"Film {i}" for i in ids]
    items = pd.DataFrame({"item_id": ids, "title": titles, "year": 1990, "text": ""})
    genres = pd.DataFrame({"head": [f"movie:{i}" for i in ids], "relation": "has_genre",
                           "tail": [f"genre:G{k % N_GENRES}" for k in range(len(ids))]})
    ratings = pd.DataFrame({"user_id": "u1", "item_id": ids, "rating": 4.0, "timestamp": 0})
    return MovieDataset(name, items, ratings, genres)


def _write_kg(folder, link_ids, entity_of_position) -> None:
    """``.kg``: entity ``m.e<k>`` (the film in position k) has KG genre ``m.g<k % 6>`` and
    director ``m.p<k // 3>``; ``.link``: ``link_ids[k]`` → ``m.e<entity_of_position[k]>``."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["head_id:token\trelation_id:token\ttail_id:token"]
    for k in range(N_MOVIES):
        rows.append(f"m.e{k}\tfilm.film.genre\tm.g{k % N_GENRES}")
        rows.append(f"m.e{k}\tfilm.film.directed_by\tm.p{k // 3}")
    (folder / "toy.kg").write_text("\n".join(rows) + "\n", encoding="utf-8")
    links = ["item_id:token\tentity_id:token"]
    links += [f"{i}\tm.e{e}" for i, e in zip(link_ids, entity_of_position)]
    (folder / "toy.link").write_text("\n".join(links) + "\n", encoding="utf-8")


def test_correct_link_file_passes_and_reports_agreement(tmp_path):
    _write_kg(tmp_path / "kg", range(1, N_MOVIES + 1), range(N_MOVIES))
    ds = merge_kg(_dataset(), tmp_path / "kg")
    note = next(n for n in ds.notes if "genre agreement" in n)
    assert "links joined by item_id" in note and "lift" in note
    assert ds.triples["relation"].eq("directed_by").sum() == N_MOVIES


def test_shuffled_link_file_is_refused_with_a_fix(tmp_path):
    order = np.random.default_rng(0).permutation(N_MOVIES)
    _write_kg(tmp_path / "kg", range(1, N_MOVIES + 1), order)
    with pytest.raises(DataError, match="disagree with the dataset's own metadata") as err:
        merge_kg(_dataset(), tmp_path / "kg")
    assert "toy.link" in str(err.value) and "trust_links=True" in str(err.value)
    ds = merge_kg(_dataset(), tmp_path / "kg", trust_links=True)
    assert any("LINK CHECK OVERRIDDEN (trust_links=True)" in n for n in ds.notes)


def test_agreement_statistic_separates_true_from_shuffled_links():
    rng = np.random.default_rng(1)
    own = pd.DataFrame({"head": [f"movie:{i}" for i in range(200)],
                        "tail": [f"genre:{i % 5}" for i in range(200)]})
    true_kg = pd.DataFrame({"head": own["head"], "tail": [f"g.{i % 5}" for i in range(200)]})
    shuffled = true_kg.assign(head=true_kg["head"].to_numpy()[rng.permutation(200)])
    good, bad = link_agreement(true_kg, own), link_agreement(shuffled, own)
    assert good.passed and good.lift > 10
    assert bad.passed is False and bad.lift < 2
    tiny = link_agreement(true_kg.head(5), own)
    assert tiny.passed is None and "not measurable" in tiny.describe()


def _ml1m(folder, rows) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    text = "".join(f"{i}::{t}::Drama\n" for i, t in rows)
    (folder / "movies.dat").write_bytes(text.encode("latin-1"))


def test_ml100k_ids_are_rekeyed_to_ml20m_ids_by_title(tmp_path, monkeypatch):
    """An ML-100K-named dataset whose link file is keyed by ML-1M ids: the raw join is
    refused, the title translation passes; both copies of a film listed twice link."""
    monkeypatch.setenv(ENV_DATA_DIR, str(tmp_path / "cache"))
    ids = list(range(1, N_MOVIES + 1))
    titles = [f"Film {i}" for i in ids]
    titles[1] = "Godfather, The"
    titles[2] = "Cité, La"
    titles[N_MOVIES - 1] = titles[N_MOVIES - 2]  # a film listed twice (like Chasing Amy)
    ds = _dataset("ml-100k", ids, titles)
    ds.triples.loc[N_MOVIES - 1, "tail"] = ds.triples.loc[N_MOVIES - 2, "tail"]
    # ML-1M ids: the same range, in another order (as ML-100K and ML-20M ids both start at 1)
    ml1m_ids = [int(i) + 1 for i in np.random.default_rng(3).permutation(N_MOVIES)]
    ml1m_titles = [f"{t} (1990)" for t in titles]
    ml1m_titles[1] = "The Godfather (1990)"
    ml1m_titles[2] = "Cite, La (1990)"
    _ml1m(tmp_path / "ml-1m", zip(ml1m_ids[:-1], ml1m_titles[:-1]))
    (tmp_path / "ml-100k").mkdir()
    # entity k is the film in position k; the duplicate (last) shares entity N-2
    _write_kg(tmp_path / "kg", ml1m_ids[:-1], range(N_MOVIES - 1))
    merged = merge_kg(ds, tmp_path / "kg", data_dir=tmp_path / "ml-100k", download=False)
    assert any("links joined by item_id refused" in n for n in merged.notes)
    assert any("links joined by ml-20m: genre agreement" in n for n in merged.notes)
    assert any(f"{N_MOVIES} of {N_MOVIES} movies matched" in n for n in merged.notes)
    directed = merged.triples[merged.triples["relation"] == "directed_by"]
    by_movie = dict(zip(directed["head"], directed["tail"]))
    assert by_movie["movie:2"] == "person:m.p0"       # Godfather, The ↔ The Godfather
    assert by_movie[f"movie:{N_MOVIES}"] == by_movie[f"movie:{N_MOVIES - 1}"]
    with pytest.raises(DataError, match="keyed by MovieLens-20M ids"):
        merge_kg(ds, tmp_path / "kg", data_dir=tmp_path / "ml-100k", link_keys="item_id")


def test_missing_ml1m_offline_names_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_DATA_DIR, str(tmp_path / "cache"))
    (tmp_path / "ml-100k").mkdir()
    _write_kg(tmp_path / "kg", range(1, N_MOVIES + 1), np.random.default_rng(0).permutation(
        N_MOVIES))
    with pytest.raises(DatasetUnavailableError, match="movies.dat"):
        merge_kg(_dataset("ml-100k"), tmp_path / "kg", data_dir=tmp_path / "ml-100k",
                 download=False)


def test_director_names_by_majority_of_shared_films(tmp_path):
    folder = tmp_path / "hetrec"
    folder.mkdir()
    lines = ["movieID\tdirectorID\tdirectorName", "10\tqt\tQuentin Tarantino",
             "11\tqt\tQuentin Tarantino", "12\tjc\tJoel Coen", "12\tec\tEthan Coen",
             "13\tjc\tJoel Coen", "14\tx\tSomeone Else", "15\ty\tAnother One"]
    (folder / "movie_directors.dat").write_bytes("\r\n".join(lines).encode("latin-1"))
    directed = pd.DataFrame({
        "head": ["movie:1", "movie:2", "movie:3", "movie:3", "movie:4", "movie:5", "movie:6"],
        "tail": ["person:m.q", "person:m.q", "person:m.j", "person:m.e", "person:m.j",
                 "person:m.s", "person:m.s"]})
    names, counts = director_names(directed, {"1": "10", "2": "11", "3": "12", "4": "13",
                                              "5": "14", "6": "15"}, folder)
    # m.j directed films 3 and 4 (Joel Coen twice); m.e then gets the remaining co-director
    assert names == {"person:m.q": "Quentin Tarantino", "person:m.j": "Joel Coen",
                     "person:m.e": "Ethan Coen"}
    assert counts["tied"] == 1  # m.s: one vote each for two names stays unnamed
