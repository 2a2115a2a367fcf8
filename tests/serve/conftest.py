"""Fixtures of the request-time components: the sample's graph, facts and vocabularies."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def sample_kg(sample_dataset):
    from kgrec.graph import KnowledgeGraph

    return KnowledgeGraph.from_dataset(sample_dataset)


@pytest.fixture(scope="module")
def vocab(sample_kg, sample_dataset):
    """Vocabulary without the encoder (lexicon and labels only)."""
    from kgrec.serve.intent import Vocabulary

    return Vocabulary.from_graph(sample_kg, sample_dataset.items)


@pytest.fixture(scope="module")
def facts(sample_kg, sample_dataset):
    from kgrec.serve.intent_scoring import ItemFacts

    return ItemFacts.from_items(sample_kg, sample_dataset.items)


@pytest.fixture(scope="module")
def title_index(sample_dataset, sample_kg):
    """Title → movie index (first film of that title)."""
    items = sample_dataset.items.set_index("item_id")
    out = {}
    for i, item in enumerate(sample_kg.item_ids):
        out.setdefault(str(items.at[item, "title"]), i)
    return out
