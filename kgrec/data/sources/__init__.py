"""Dataset sources: one loader per format, chosen from a small explicit registry.

========== ==============================================================================
name       source
========== ==============================================================================
sample     the small dataset bundled with kgrec (offline; ``kgrec/data/sample/``)
ml-100k    MovieLens 100K (downloaded and sha256-checked, or a local copy)
ml-1m      MovieLens 1M (idem; a local copy may lack ``ratings.dat``)
hetrec-2k  HetRec 2011 MovieLens-2k (idem)
recbole    RecBole atomic files (``<name>.inter``, ``.item``, ``.kg``, ``.link``) in
           ``data_dir``
<folder>   a folder of your own ``items``/``ratings`` CSV/TSV files
           (:mod:`~kgrec.data.sources.csv_folder`), or of RecBole atomic files
========== ==============================================================================

Every loader returns a validated :class:`~kgrec.data.dataset.MovieDataset`; malformed
input raises :class:`~kgrec.data.dataset.DataError` naming the file and line.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

from kgrec.data.dataset import DataError, MovieDataset
from kgrec.data.sources.csv_folder import read_csv_folder
from kgrec.data.sources.download import (
    ChecksumError,
    DatasetUnavailableError,
    cache_root,
    fetch,
    verify,
)
from kgrec.data.sources.hetrec import load_hetrec_2k, read_hetrec_2k
from kgrec.data.sources.movielens import load_ml_1m, load_ml_100k, read_ml_1m, read_ml_100k
from kgrec.data.sources.recbole import merge_kg, read_recbole

_SAMPLE_FILES = ("items.csv", "ratings.csv", "triples.csv", "labels.csv")


def load_sample(data_dir: str | Path | None = None, *, force_reload: bool = False,
                download: bool = True) -> MovieDataset:
    """The bundled sample (read from the installed package, so it works from a wheel).

    ``data_dir``, ``force_reload`` and ``download`` are accepted for a uniform loader
    signature and ignored.
    """
    root = files("kgrec.data") / "sample"
    if isinstance(root, Path):
        if not root.is_dir():
            raise DataError("the bundled sample is missing from this installation", path=root)
        return read_csv_folder(root, name="sample")
    with tempfile.TemporaryDirectory(prefix="kgrec-sample-") as tmp:  # zipped installs
        for name in _SAMPLE_FILES:
            member = root / name
            if member.is_file():
                (Path(tmp) / name).write_bytes(member.read_bytes())
        dataset = read_csv_folder(tmp, name="sample")
    return dataset


def load_recbole(data_dir: str | Path | None = None, *, force_reload: bool = False,
                 download: bool = True, name: str | None = None) -> MovieDataset:
    """RecBole atomic files from ``data_dir`` (required: nothing is downloaded)."""
    if data_dir is None:
        raise ValueError("the 'recbole' source needs data_dir: a folder holding <name>.inter "
                         "(and optionally .item, .kg, .link)")
    return read_recbole(data_dir, name=name)


#: name → loader(data_dir, *, force_reload, download, **options) -> MovieDataset
LOADERS: dict[str, Callable[..., MovieDataset]] = {
    "sample": load_sample,
    "ml-100k": load_ml_100k,
    "ml-1m": load_ml_1m,
    "hetrec-2k": load_hetrec_2k,
    "recbole": load_recbole,
}


def load_dataset(name_or_path: str | Path, data_dir: str | Path | None = None, *,
                 force_reload: bool = False, download: bool = True,
                 kg_dir: str | Path | None = None, link_keys: str = "auto",
                 trust_links: bool = False, **options) -> MovieDataset:
    """Load a dataset by registry name, or from a folder.

    Args:
        name_or_path: One of :data:`LOADERS` (``sample``, ``ml-100k``, ``ml-1m``,
            ``hetrec-2k``, ``recbole``) or an existing folder: RecBole atomic files if it
            holds ``*.inter``, otherwise ``items``/``ratings`` CSV/TSV files.
        data_dir: Cache root or dataset folder for the named datasets (default
            ``$KGREC_DATA_DIR`` or the user cache folder); the folder for ``recbole``.
        force_reload: Download (and verify) a remote dataset again even if cached.
        download: Allow network access for remote datasets.
        kg_dir: Optional folder with a RecBole ``.kg``/``.link`` pair to merge
            (:func:`~kgrec.data.sources.recbole.merge_kg`), e.g. Freebase directors and
            actors for ml-100k. Its links are checked against the dataset's genres and
            refused when they disagree (see ``merge_kg``).
        link_keys: How the ``.link`` ids are read: ``"auto"``, ``"item_id"`` or
            ``"ml-20m"`` (ML-100K ids translated by title; RecBole's ``ml-100k.link`` is
            keyed by ML-20M ids).
        trust_links: Merge a link file even when it disagrees with the dataset (recorded
            in ``notes``).
        **options: Loader-specific options (``top_actors`` for hetrec-2k, ``name`` for
            recbole folders).

    Raises:
        ValueError: Unknown name (the message lists the valid ones).
        DataError: Missing or malformed files (names file and line).
        DatasetUnavailableError: Remote dataset neither cached nor downloadable.
    """
    key = str(name_or_path)
    loader = LOADERS.get(key.lower()) if not isinstance(name_or_path, Path) else None
    if loader is not None:
        dataset = loader(data_dir, force_reload=force_reload, download=download, **options)
    elif Path(key).expanduser().is_dir():
        folder = Path(key).expanduser()
        if any(folder.glob("*.inter")):
            dataset = read_recbole(folder, **options)
        else:
            dataset = read_csv_folder(folder, **options)
    else:
        raise ValueError(f"unknown dataset {key!r}: expected one of {', '.join(LOADERS)}, or "
                         "an existing folder of items/ratings CSV/TSV files (or RecBole "
                         "atomic files)")
    if kg_dir is not None:
        dataset = merge_kg(dataset, kg_dir, link_keys=link_keys, trust_links=trust_links,
                           data_dir=data_dir, download=download)
    return dataset


__all__ = [
    "LOADERS", "ChecksumError", "DatasetUnavailableError", "cache_root", "fetch",
    "load_dataset", "load_hetrec_2k", "load_ml_100k", "load_ml_1m", "load_recbole", "load_sample",
    "merge_kg", "read_csv_folder", "read_hetrec_2k", "read_ml_100k", "read_ml_1m", "read_recbole",
    "verify",
]
