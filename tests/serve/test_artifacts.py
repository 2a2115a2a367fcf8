"""The saved-recommender folder: round trip, verification, replacement."""

import json
import os

import pytest
import torch

from kgrec.config import KGRecConfig
from kgrec.serve.artifacts import (
    MANIFEST,
    Artifact,
    ArtifactError,
    load_artifact,
    save_artifact,
    verified_files,
    write_folder,
)


def _fill(text):
    def fill(tmp):
        (tmp / "a.txt").write_text(text)
        (tmp / "sub").mkdir()
        (tmp / "sub" / "b.txt").write_text(text * 2)
    return fill


def test_write_folder_manifest_and_replacement(tmp_path):
    path = write_folder(tmp_path / "m", _fill("one"), {"format": 1})
    manifest = verified_files(path)
    assert set(manifest["files"]) == {"a.txt", "sub/b.txt"}
    write_folder(path, _fill("two"), {"format": 1})
    assert (path / "a.txt").read_text() == "two"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != os.readlink(path)) == [
        "m"]  # no temporaries left (``m`` links to its one version folder)

    def broken(tmp):
        (tmp / "a.txt").write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_folder(path, broken, {"format": 1})
    assert (path / "a.txt").read_text() == "two" and verified_files(path)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != os.readlink(path)) == ["m"]


def test_verification_names_the_file(tmp_path):
    path = write_folder(tmp_path / "m", _fill("one"), {"format": 1})
    (path / "sub" / "b.txt").write_text("changed")
    with pytest.raises(ArtifactError, match="b.txt: content does not match"):
        verified_files(path)
    (path / "sub" / "b.txt").unlink()
    with pytest.raises(ArtifactError, match="b.txt: missing"):
        verified_files(path)
    (path / MANIFEST).write_text(json.dumps({"format": "kgrec-artifact", "version": 1,
                                             "kind": "recommender", "meta": {"format": 99},
                                             "files": {}}))
    with pytest.raises(ArtifactError, match="format 99 is not supported"):
        verified_files(path)
    (path / MANIFEST).write_text("{not json")
    with pytest.raises(ArtifactError, match="unreadable manifest"):
        verified_files(path)
    with pytest.raises(ArtifactError, match="not a saved kgrec recommender"):
        verified_files(tmp_path)


def test_artifact_round_trip(sample_dataset, kg, tmp_path):
    config = KGRecConfig().replace(model={"name": "ease"})
    artifact = Artifact(config, sample_dataset, kg, {"movie": torch.randn(kg.num_items, 4)},
                        {"weights": torch.arange(6.0).reshape(2, 3)},
                        sample_dataset.ratings.head(50))
    loaded = load_artifact(save_artifact(tmp_path / "model", artifact))
    assert loaded.config == config
    assert torch.equal(loaded.state["weights"], artifact.state["weights"])
    assert torch.equal(loaded.features["movie"], artifact.features["movie"])
    assert loaded.kg.nodes == kg.nodes
    assert list(loaded.seen["item_id"]) == list(artifact.seen["item_id"])
    assert loaded.dataset.labels == sample_dataset.labels
    assert list(loaded.dataset.items["title"]) == list(sample_dataset.items["title"])
