"""Recommender.save / load on the artifact-folder format: hostile titles come back exactly
(blank stays blank, never "nan"; 200,000 characters load), tampering is an ArtifactError,
an interrupted save keeps the previous model."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

import kgrec.io as kio
from kgrec.recommender import ArtifactError, Recommender


def test_hostile_titles_round_trip(hostile_recommender):
    rec, path = hostile_recommender
    loaded = Recommender.load(path)
    pd.testing.assert_frame_equal(loaded.dataset_.items.reset_index(drop=True),
                                  rec.dataset_.items.reset_index(drop=True), check_dtype=False)
    assert loaded.dataset_.items["title"].tolist()[:3] == ["", "nan", "\\N"]
    assert loaded.dataset_.labels == rec.dataset_.labels
    pd.testing.assert_frame_equal(loaded._seen_ratings.reset_index(drop=True),
                                  rec._seen_ratings.reset_index(drop=True), check_dtype=False)
    for user in ("u0", "u3"):
        a, b = rec.recommend(user, k=5), loaded.recommend(user, k=5)
        assert [(r.item_id, r.title, r.year, round(r.score, 6), r.explanation) for r in a] \
            == [(r.item_id, r.title, r.year, round(r.score, 6), r.explanation) for r in b]


def tampered_copy(path: Path, tmp_path: Path, change) -> Path:
    target = tmp_path / "copy"
    Recommender.load(path).save(target)
    change(Path(os.path.realpath(target)))
    return target


def flip_byte(path: Path) -> None:
    """Change one byte in the middle of ``path`` (same size: only the sha256 can tell)."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def add_entry(root: Path, name: str) -> None:
    manifest = json.loads((root / kio.MANIFEST).read_text())
    manifest["files"][name] = {"sha256": "0" * 64, "size": 0}
    (root / kio.MANIFEST).write_text(json.dumps(manifest))


@pytest.mark.parametrize("change, message", [
    (lambda r: add_entry(r, "../../etc/passwd"), "not a relative path inside the folder"),
    (lambda r: add_entry(r, "/etc/passwd"), "not a relative path inside the folder"),
    (lambda r: ((r / "config.toml").unlink(), (r / "config.toml").symlink_to("/etc/hostname")),
     r"config\.toml: cannot open"),
    (lambda r: (r / "model.safetensors").write_bytes(b"\x08" + b"\0" * 7 + b'{"a": 1}'),
     r"model\.safetensors: content does not match"),
    (lambda r: flip_byte(r / "data" / "seen.parquet"), r"seen\.parquet: content does not match"),
    (lambda r: flip_byte(r / "data" / "items.parquet"), r"items\.parquet: content does not match"),
])
def test_tampered_recommenders_are_refused(hostile_recommender, tmp_path, change, message):
    target = tampered_copy(hostile_recommender[1], tmp_path, change)
    with pytest.raises(ArtifactError, match=message):
        Recommender.load(target)


def test_rehashed_non_tensor_payload_and_bad_tables(hostile_recommender, tmp_path, rehash):
    target = tampered_copy(hostile_recommender[1], tmp_path, lambda r: (
        r / "model.safetensors").write_bytes(b"\x08" + b"\0" * 7 + b'{"a": 1}'))
    rehash(target)
    with pytest.raises(ArtifactError, match=r"model\.safetensors: cannot read tensors"):
        Recommender.load(target)
    Recommender.load(hostile_recommender[1]).save(target)
    root = Path(os.path.realpath(target))
    seen = pd.read_parquet(root / "data" / "seen.parquet")
    seen["timestamp"] = "soon"
    seen.to_parquet(root / "data" / "seen.parquet", index=False)
    rehash(target)
    with pytest.raises(ArtifactError, match=r"seen\.parquet: column 'timestamp' has type "
                                            r"\w*string, expected int64"):
        Recommender.load(target)
    Recommender.load(hostile_recommender[1]).save(target)
    root = Path(os.path.realpath(target))
    (root / "data" / "items.parquet").write_bytes(b"PAR1 not really")
    rehash(target)
    with pytest.raises(ArtifactError, match=r"items\.parquet: not a Parquet table"):
        Recommender.load(target)
    Recommender.load(hostile_recommender[1]).save(target)
    root = Path(os.path.realpath(target))
    (root / "config.toml").write_text("[model]\nname = 'no-such-model'\n")
    rehash(target)
    with pytest.raises(ArtifactError, match=r"config\.toml"):
        Recommender.load(target)


def test_interrupted_save_keeps_the_previous_model(hostile_recommender, tmp_path, monkeypatch):
    rec, path = hostile_recommender
    target = rec.save(tmp_path / "m")
    before = os.readlink(target)

    class Crash(BaseException):
        pass

    def hook(step: str) -> None:
        if step == "linked":
            raise Crash

    monkeypatch.setattr(kio, "crash_hook", hook)
    with pytest.raises(Crash):
        rec.save(target)
    assert os.readlink(target) == before
    Recommender.load(target)
    monkeypatch.setattr(kio, "crash_hook", None)
    rec.save(target)
    Recommender.load(target)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".m.")) \
        == [os.readlink(target)]


def as_format_1(path: Path, target: Path) -> Path:
    """A copy of saved folder ``path`` in format 1 (the tables as escaped TSV), as kgrec
    wrote before the Parquet tables."""
    import shutil

    from kgrec.serve.artifacts import TABLES, verified_files, write_folder

    manifest = verified_files(path)
    files = manifest.pop("files")

    def fill(tmp: Path) -> None:
        for name, source in files.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            if name.startswith("data/"):
                table = Path(name).stem
                kio.write_frame(tmp / "data" / f"{table}.tsv",
                                kio.read_table(source, TABLES[table]))
            else:
                shutil.copyfile(source, tmp / name)

    return write_folder(target, fill, {**manifest, "format": 1})


def test_format_1_folders_still_load_and_resave_as_parquet(hostile_recommender, tmp_path):
    rec, path = hostile_recommender
    old = as_format_1(path, tmp_path / "v1")
    assert (Path(os.path.realpath(old)) / "data" / "seen.tsv").is_file()
    loaded = Recommender.load(old)
    pd.testing.assert_frame_equal(loaded.dataset_.items, rec.dataset_.items, check_dtype=False)
    assert loaded.dataset_.labels == rec.dataset_.labels
    for user in ("u0", "u3"):
        assert loaded.recommend(user, k=5) == rec.recommend(user, k=5)
    resaved = Path(os.path.realpath(loaded.save(tmp_path / "v2")))
    assert json.loads((resaved / kio.MANIFEST).read_text())["meta"]["format"] == 2
    assert sorted(p.name for p in (resaved / "data").iterdir()) == [
        "items.parquet", "labels.parquet", "seen.parquet", "triples.parquet"]


def test_unknown_formats_are_refused_with_a_hint(hostile_recommender, tmp_path, rehash):
    target = tampered_copy(hostile_recommender[1], tmp_path, lambda r: None)
    root = Path(os.path.realpath(target))
    manifest = json.loads((root / kio.MANIFEST).read_text())
    manifest["meta"]["format"] = 99
    (root / kio.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match=r"format 99 is not supported .*save the model again"):
        Recommender.load(target)
