"""Loaders on the real datasets in ../shared/datasets (skipped when absent).

The counts are the publishers' (and shared/datasets/README.md's) figures.
"""

from __future__ import annotations

import time
import warnings

import pandas as pd
import pytest

from kgrec.data import DataError, load_dataset
from kgrec.data.sources.download import HETREC_2K, ML_1M, ML_100K, find_local, verify

pytestmark = pytest.mark.realdata


def relation_tails(ds, relation: str) -> set[str]:
    return set(ds.triples.loc[ds.triples["relation"] == relation, "tail"])


def test_ml_100k_counts(shared_datasets):
    start = time.perf_counter()
    ds = load_dataset("ml-100k", data_dir=shared_datasets, download=False)
    seconds = time.perf_counter() - start
    assert (ds.num_users, ds.num_items, ds.num_ratings) == (943, 1682, 100_000)
    assert len(ds.entities("genre")) == 19 and ds.summary()["genres"] == 19
    assert ds.ratings["rating"].value_counts().sort_index().tolist() == [
        6110, 11370, 27145, 34174, 21201]
    toy = ds.items.set_index("item_id").loc["1"]
    assert (toy["title"], toy["year"]) == ("Toy Story", 1995)
    assert ds.notes == []
    assert seconds < 5, f"ml-100k took {seconds:.2f}s"


def test_hetrec_counts_and_note(shared_datasets):
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = load_dataset("hetrec-2k", data_dir=shared_datasets, download=False)
    seconds = time.perf_counter() - start
    assert ds.num_items == 10_197
    assert len(relation_tails(ds, "directed_by")) == 4_060
    assert len(relation_tails(ds, "has_genre")) == 20
    assert len(relation_tails(ds, "from_country")) == 71  # 72 values in the readme incl. empty
    assert (ds.triples["relation"] == "has_genre").sum() == 20_809
    assert len(relation_tails(ds, "has_tag")) == 5_297
    assert ds.label("person:john_lasseter") == "John Lasseter"
    # no ratings in the shared copy: user-tag assignments stand in, and the user is told
    assert any("user-tag assignments as implicit interactions" in n for n in ds.notes)
    assert any("user-tag" in str(w.message) for w in caught)
    assert ds.num_users == 2_113 and (ds.ratings["rating"] == 1.0).all()
    assert not ds.ratings.duplicated(["user_id", "item_id"]).any()
    assert seconds < 5, f"hetrec-2k took {seconds:.2f}s"


def test_ml_1m_without_ratings(shared_datasets):
    with pytest.warns(UserWarning, match="ratings.dat is absent"):
        ds = load_dataset("ml-1m", data_dir=shared_datasets, download=False)
    assert ds.num_items == 3_883 and ds.num_ratings == 0
    assert any("ratings.dat is absent" in n for n in ds.notes)
    assert len(ds.entities("genre")) == 18


def _ml100k_with_freebase(shared_datasets, **kwargs):
    kg_dir = shared_datasets / "kg-links" / "RecBole-ml-100k"
    if not kg_dir.is_dir():
        pytest.skip("kg-links/RecBole-ml-100k not present")
    return load_dataset("ml-100k", data_dir=shared_datasets / "ml-100k", download=False,
                        kg_dir=kg_dir, **kwargs)


def test_recbole_kg_merge_adds_people(shared_datasets):
    """RecBole's ml-100k.link is keyed by ML-20M ids: re-keyed by title, it links 1,537
    ML-100K movies (the .kg only covers ML-20M ids 1-1682) and passes the genre check."""
    ds = _ml100k_with_freebase(shared_datasets)
    directed = ds.triples[ds.triples["relation"] == "directed_by"]
    assert directed["tail"].str.match(r"person:[mg]\.").all()  # Freebase / Google KG ids
    assert directed["head"].nunique() > 1_500
    assert ds.triples["head"].str.startswith("movie:").all()
    assert ds.num_ratings == 100_000
    assert any("1,537 of 1,682 movies linked" in n for n in ds.notes)
    assert any("links joined by item_id refused" in n for n in ds.notes)
    assert any("links joined by ml-20m: genre agreement" in n for n in ds.notes)
    assert any("1,669 of 1,682 movies matched" in n for n in ds.notes)


def test_pulp_fiction_links_to_its_freebase_entity(shared_datasets):
    """ML-100K's Pulp Fiction (item 56) gets the triples of the entity ml2fb.txt gives for
    ML-20M id 296; its director is named Quentin Tarantino, who also directed Reservoir
    Dogs."""
    ml2fb = shared_datasets / "kg-links" / "KB4Rec-MovieLens20M" / "ml2fb.txt"
    if not ml2fb.is_file():
        pytest.skip("KB4Rec ml2fb.txt not present")
    mid = dict(line.strip().split("\t") for line in ml2fb.read_text().splitlines())
    ds = _ml100k_with_freebase(shared_datasets)
    items = ds.items.set_index("item_id")
    pulp = items.index[(items["title"] == "Pulp Fiction") & (items["year"] == 1994)]
    assert list(pulp) == ["56"]
    kg = pd.read_csv(shared_datasets / "kg-links" / "RecBole-ml-100k" / "ml-100k.kg", sep="\t")
    kg.columns = ["head", "relation", "tail"]
    expected = set(kg.loc[(kg["head"] == mid["296"]) & (kg["relation"] == "film.film.actor"),
                          "tail"])
    starring = ds.triples[(ds.triples["head"] == "movie:56")
                          & (ds.triples["relation"] == "starring")]
    assert {t.partition(":")[2] for t in starring["tail"]} == expected and expected
    t = ds.triples
    directors = t.loc[(t["head"] == "movie:56") & (t["relation"] == "directed_by"), "tail"]
    assert [ds.labels.get(d) for d in directors] == ["Quentin Tarantino"]
    films = t.loc[(t["relation"] == "directed_by") & (t["tail"] == directors.iloc[0]), "head"]
    titles = set(items.loc[[f.partition(":")[2] for f in films], "title"])
    assert {"Pulp Fiction", "Reservoir Dogs"} <= titles


def test_raw_id_join_of_recbole_link_is_refused(shared_datasets):
    with pytest.raises(DataError, match="keyed by MovieLens-20M ids"):
        _ml100k_with_freebase(shared_datasets, link_keys="item_id")
    ds = _ml100k_with_freebase(shared_datasets, link_keys="item_id", trust_links=True)
    assert any("LINK CHECK OVERRIDDEN" in n for n in ds.notes)


def test_duplicate_films_link_to_the_same_entity(shared_datasets):
    """ML-100K lists Chasing Amy twice (246, 268): both get the same film's triples."""
    ds = _ml100k_with_freebase(shared_datasets)
    t = ds.triples
    a = set(map(tuple, t.loc[t["head"] == "movie:246", ["relation", "tail"]].to_numpy()))
    b = set(map(tuple, t.loc[t["head"] == "movie:268", ["relation", "tail"]].to_numpy()))
    assert a and a == b


@pytest.mark.parametrize("source", [ML_100K, ML_1M, HETREC_2K], ids=lambda s: s.name)
def test_hash_tables_match_shared_copies(shared_datasets, source):
    """The sha256 values in download.py are the ones of the verified shared copies."""
    folder = find_local(source, shared_datasets)
    assert folder is not None
    checked = verify(source, folder)
    present = [n for n in source.sha256 if (folder / n).is_file()]
    assert sorted(checked) == sorted(present) and len(present) >= 3
