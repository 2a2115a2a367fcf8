"""Data stage: sources → validated :class:`MovieDataset`; splits."""

from kgrec.data.dataset import (
    DataError,
    MovieDataset,
    entity_key,
    entity_type,
    movie_id,
    user_id,
)
from kgrec.data.splits import (
    Split,
    cold_start_split,
    random_split,
    read_split,
    temporal_split,
    write_split,
)


def load_dataset(name_or_path, data_dir=None, **kwargs) -> MovieDataset:
    """Load a dataset by name (``sample``, ``ml-100k``, ``ml-1m``, ``hetrec-2k``,
    ``recbole``) or from a folder of CSV/TSV files; see :mod:`kgrec.data.sources`."""
    from kgrec.data.sources import load_dataset as _load

    return _load(name_or_path, data_dir=data_dir, **kwargs)


__all__ = [
    "DataError", "MovieDataset", "Split", "cold_start_split", "entity_key", "entity_type",
    "load_dataset", "movie_id", "random_split", "read_split", "temporal_split", "user_id",
    "write_split",
]
