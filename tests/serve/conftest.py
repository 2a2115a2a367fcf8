"""A catalogue and a closed-form model over the sample's full graph (no text encoder);
the request components' vocabulary, facts and title index over the same graph."""

import pytest


@pytest.fixture(scope="package")
def kg(sample_dataset):
    from kgrec.graph import KnowledgeGraph

    return KnowledgeGraph.from_dataset(sample_dataset)


@pytest.fixture(scope="package")
def catalog(sample_dataset, kg):
    from kgrec.serve.catalog import Catalog
    from kgrec.train import item_years

    return Catalog.build(kg, sample_dataset.items, item_years(sample_dataset, kg))


@pytest.fixture(scope="package")
def sample_kg(kg):
    return kg


@pytest.fixture(scope="package")
def vocab(kg, sample_dataset):
    """Vocabulary without the encoder (lexicon and labels only)."""
    from kgrec.serve.intent import Vocabulary

    return Vocabulary.from_graph(kg, sample_dataset.items)


@pytest.fixture(scope="package")
def facts(kg, sample_dataset):
    from kgrec.serve.intent_scoring import ItemFacts

    return ItemFacts.from_items(kg, sample_dataset.items)


@pytest.fixture(scope="package")
def title_index(sample_dataset, kg):
    """Title → movie index (first film of that title)."""
    items = sample_dataset.items.set_index("item_id")
    out = {}
    for i, item in enumerate(kg.item_ids):
        out.setdefault(str(items.at[item, "title"]), i)
    return out
