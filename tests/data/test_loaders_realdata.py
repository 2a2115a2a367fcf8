"""Loaders on the real datasets in ../shared/datasets (skipped when absent).

The counts are the publishers' (and shared/datasets/README.md's) figures.
"""

from __future__ import annotations

import time
import warnings

import pytest

from kgrec.data import load_dataset
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


def test_recbole_kg_merge_adds_people(shared_datasets):
    kg_dir = shared_datasets / "kg-links" / "RecBole-ml-100k"
    if not kg_dir.is_dir():
        pytest.skip("kg-links/RecBole-ml-100k not present")
    ds = load_dataset("ml-100k", data_dir=shared_datasets, download=False, kg_dir=kg_dir)
    directed = ds.triples[ds.triples["relation"] == "directed_by"]
    starring = ds.triples[ds.triples["relation"] == "starring"]
    assert len(directed) == 1_727 and len(starring) == 40_152
    assert directed["tail"].str.match(r"person:[mg]\.").all()  # Freebase / Google KG ids
    assert directed["head"].nunique() > 1_500
    assert ds.triples["head"].str.startswith("movie:").all()
    from_kg = ds.triples["tail"].str.match(r"\w+:[mg]\.") | ds.triples["relation"].isin(
        ["sequel", "prequel"])
    assert ds.triples.loc[from_kg, "head"].nunique() == 1_598
    assert ds.num_ratings == 100_000
    assert any("1,598 of 1,682 movies linked" in n for n in ds.notes)


@pytest.mark.parametrize("source", [ML_100K, ML_1M, HETREC_2K], ids=lambda s: s.name)
def test_hash_tables_match_shared_copies(shared_datasets, source):
    """The sha256 values in download.py are the ones of the verified shared copies."""
    folder = find_local(source, shared_datasets)
    assert folder is not None
    checked = verify(source, folder)
    present = [n for n in source.sha256 if (folder / n).is_file()]
    assert sorted(checked) == sorted(present) and len(present) >= 3
