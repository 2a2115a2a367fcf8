"""The tiny hand-made world shared by the path-search tests (``test_search``,
``test_explain_from``): eleven movies whose explanations are known by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from kgrec.data import MovieDataset
from kgrec.graph import KnowledgeGraph

TITLES = {"1": "Pulp Fiction", "2": "Reservoir Dogs", "3": "Heat", "4": "Casino",
          "5": "Goodfellas", "6": "Desperado", "7": "Toy Story", "8": "Toy Story 2",
          "9": "A Bug's Life", "10": "Lonely Film", "11": "Cars"}


def _tiny_world() -> MovieDataset:
    """Eleven movies: Tarantino directs 1 and 2 and stars in 6; Harvey Keitel stars in 1
    and 2; five Crime films; an unlabeled actor (3, 4) and award nomination (3, 5); Toy
    Story 7 -sequel-> 8; Lasseter directs 8 and 11; nobody rated 6, 9, 10, 11."""
    items = pd.DataFrame({"item_id": list(TITLES), "title": list(TITLES.values()),
                          "year": 1995, "text": ""})
    triples = [("movie:1", "directed_by", "person:Quentin Tarantino"),
               ("movie:2", "directed_by", "person:Quentin Tarantino"),
               ("movie:6", "starring", "person:Quentin Tarantino"),
               ("movie:1", "starring", "person:Harvey Keitel"),
               ("movie:2", "starring", "person:Harvey Keitel"),
               ("movie:3", "starring", "person:m.0abc"), ("movie:4", "starring", "person:m.0abc"),
               ("movie:3", "award_nomination", "entity:m.0aw"),
               ("movie:5", "award_nomination", "entity:m.0aw"),
               ("movie:7", "sequel", "movie:8"),
               ("movie:8", "directed_by", "person:John Lasseter"),
               ("movie:11", "directed_by", "person:John Lasseter")]
    triples += [(f"movie:{m}", "has_genre", "genre:Crime") for m in range(1, 6)]
    triples += [(f"movie:{m}", "has_genre", "genre:Animation") for m in (7, 8, 9)]
    ratings = [("u1", "1", 5), ("u1", "3", 4), ("u2", "1", 5), ("u2", "2", 5), ("u2", "3", 3),
               ("u3", "3", 5), ("u3", "4", 4), ("u3", "5", 2), ("u4", "7", 5), ("u5", "1", 4),
               ("u5", "2", 4), ("u6", "8", 5)]
    return MovieDataset(
        "tiny", items,
        pd.DataFrame(ratings, columns=["user_id", "item_id", "rating"]).assign(timestamp=0),
        pd.DataFrame(triples, columns=["head", "relation", "tail"]),
        labels={"person:Quentin Tarantino": "Quentin Tarantino",
                "person:Harvey Keitel": "Harvey Keitel", "person:John Lasseter": "John Lasseter",
                "genre:Crime": "Crime", "genre:Animation": "Animation"})


@pytest.fixture(scope="package")
def tiny_kg() -> KnowledgeGraph:
    """The knowledge graph of the tiny world (every rating in it)."""
    return KnowledgeGraph.from_dataset(_tiny_world())
