"""A catalogue and a closed-form model over the sample's full graph (no text encoder)."""

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
