"""kgrec.io: atomic files, escaped TSV, and crash-safe, manifest-verified artifact folders
(what is refused, what is never read, permissions, and kill -9 at every step of a save)."""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

import kgrec.io as kio
from kgrec.io import (MANIFEST, ArtifactError, atomic_write, atomic_write_bytes, atomic_write_text,
                      read_artifact_dir, read_frame, read_tsv, sha256_file, write_artifact_dir,
                      write_frame, write_tsv)

REPO = Path(__file__).resolve().parents[1]
KIND = "test"


def fill_for(gen: int):
    """A fill writing four files (two in a sub-folder) whose bytes encode ``gen``."""
    def fill(folder: Path) -> None:
        (folder / "sub").mkdir()
        for i in range(4):
            (folder / ("sub" if i % 2 else "") / f"f{i}.bin").write_bytes(payload(gen, i))
    return fill


def payload(gen: int, i: int) -> bytes:
    return bytes([gen % 251]) * 40_000 + f"{gen}/{i}".encode()


def check_generation(target: Path) -> int:
    """Load ``target`` and check every file belongs to the generation its manifest says."""
    files = read_artifact_dir(target, kind=KIND)
    gen = files.meta["gen"]
    assert sorted(files) == ["f0.bin", "f2.bin", "sub/f1.bin", "sub/f3.bin"]
    for i in range(4):
        name = f"sub/f{i}.bin" if i % 2 else f"f{i}.bin"
        assert files[name].read_bytes() == payload(gen, i)
    return gen


def leftovers(target: Path) -> list[str]:
    """Siblings of ``target`` a save makes (its version folder excluded)."""
    current = os.readlink(target) if target.is_symlink() else None
    return sorted(p.name for p in target.parent.iterdir()
                  if p.name.startswith(f".{target.name}.") and p.name != current)


def save(target: Path, gen: int) -> Path:
    return write_artifact_dir(target, fill_for(gen), kind=KIND, meta={"gen": gen})


# -- single files -----------------------------------------------------------------------
def test_atomic_write_replaces_and_hashes(tmp_path):
    path = tmp_path / "sub" / "a.txt"
    atomic_write_text(path, "one")
    atomic_write_bytes(path, b"two")
    assert path.read_bytes() == b"two"
    assert sha256_file(path) == hashlib.sha256(b"two").hexdigest()
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.txt"]


def test_a_failing_writer_keeps_the_old_file_and_no_temporary(tmp_path):
    path = atomic_write_text(tmp_path / "a.txt", "old")

    def broken(tmp):
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, broken)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_sha256_reads_in_chunks(tmp_path):
    data = bytes(range(256)) * 5000
    path = atomic_write_bytes(tmp_path / "b.bin", data)
    assert sha256_file(path, chunk=1000) == hashlib.sha256(data).hexdigest()


# -- round trip and layout ----------------------------------------------------------------
def test_round_trip_layout_and_manifest(tmp_path):
    target = save(tmp_path / "model", 1)
    assert target.is_symlink() and not os.path.isabs(os.readlink(target))
    assert check_generation(target) == 1
    manifest = json.loads((target / MANIFEST).read_text())
    assert manifest["format"] == "kgrec-artifact" and manifest["kind"] == KIND
    assert manifest["files"]["f0.bin"]["size"] == len(payload(1, 0))
    save(target, 2)
    assert check_generation(target) == 2
    assert leftovers(target) == []  # the previous version folder is gone


def test_permissions_follow_the_umask(tmp_path):
    old = os.umask(0o002)
    try:
        target = save(tmp_path / "shared", 1)
        atomic_write_text(tmp_path / "note.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o775
    assert stat.S_IMODE(os.stat(target / "sub").st_mode) == 0o775
    assert stat.S_IMODE(os.stat(tmp_path / "note.txt").st_mode) == 0o664
    old = os.umask(0o077)
    try:
        private = save(tmp_path / "private", 1)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o700


def test_escaped_tsv_and_frames_round_trip(tmp_path):
    import pandas as pd

    rows = [["a\tb", "line\nbreak\r", "back\\slash"], ["", None, "\\N"], ["nan", "\0", "é"]]
    write_tsv(tmp_path / "t.tsv", ["x", "y", "z"], rows)
    assert read_tsv(tmp_path / "t.tsv", ["x", "y", "z"]) == rows
    frame = pd.DataFrame({"s": ["", "nan", None], "f": [0.1, float("nan"), -1e300],
                          "i": pd.array([1, None, 3], dtype="Int64"), "n": [1, 2, 3]})
    write_frame(tmp_path / "f.tsv", frame)
    back = read_frame(tmp_path / "f.tsv", ["s", "f", "i", "n"],
                      {"f": "float64", "i": "Int64", "n": "int64"})
    assert back["s"].tolist() == ["", "nan", None]
    assert back["f"].iloc[0] == 0.1 and pd.isna(back["f"].iloc[1]) and back["f"].iloc[2] == -1e300
    assert back["i"].tolist()[0] == 1 and back["i"].isna().tolist() == [False, True, False]
    assert back["n"].tolist() == [1, 2, 3]
    (tmp_path / "cut.tsv").write_text("x\ty\tz\na\tb")
    with pytest.raises(ArtifactError, match=r"cut\.tsv: truncated"):
        read_tsv(tmp_path / "cut.tsv", ["x", "y", "z"])
    (tmp_path / "bad.tsv").write_text("x\ty\tz\na\\q\tb\tc\n")
    with pytest.raises(ArtifactError, match=r"bad\.tsv, line 2: unknown escape"):
        read_tsv(tmp_path / "bad.tsv", ["x", "y", "z"])


# -- what the reader refuses --------------------------------------------------------------
def edit_manifest(target: Path, change) -> None:
    path = Path(os.path.realpath(target)) / MANIFEST
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


@pytest.mark.parametrize("name", ["../outside.bin", "/etc/hostname", "sub/../f0.bin", "./f0.bin",
                                  "sub//f1.bin", "", "a\\b", MANIFEST])
def test_manifest_names_outside_the_folder_are_refused(tmp_path, name):
    target = save(tmp_path / "m", 1)
    (tmp_path / "outside.bin").write_bytes(b"secret")
    entry = {"sha256": kio.sha256_file(tmp_path / "outside.bin"), "size": 6}
    edit_manifest(target, lambda d: d["files"].__setitem__(name, entry))
    with pytest.raises(ArtifactError, match="relative path inside|invalid file name|lists itself"):
        read_artifact_dir(target, kind=KIND)


def test_symlinks_inside_the_folder_are_refused(tmp_path, rehash):
    target = save(tmp_path / "m", 1)
    root = Path(os.path.realpath(target))
    outside = tmp_path / "outside.bin"
    outside.write_bytes(payload(1, 0))  # same bytes: only the link itself is wrong
    (root / "f0.bin").unlink()
    (root / "f0.bin").symlink_to(outside)
    rehash(target)
    with pytest.raises(ArtifactError, match=r"f0\.bin: cannot open.*symbolic link"):
        read_artifact_dir(target, kind=KIND)
    # a linked sub-folder
    target = save(tmp_path / "n", 1)
    root = Path(os.path.realpath(target))
    shutil.move(root / "sub", tmp_path / "elsewhere")
    (root / "sub").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ArtifactError, match=r"sub/f1\.bin: cannot open.*symbolic link"):
        read_artifact_dir(target, kind=KIND)
    # the manifest itself
    target = save(tmp_path / "o", 1)
    root = Path(os.path.realpath(target))
    shutil.move(root / MANIFEST, tmp_path / "manifest.json")
    (root / MANIFEST).symlink_to(tmp_path / "manifest.json")
    with pytest.raises(ArtifactError, match="manifest.json: cannot open"):
        read_artifact_dir(target, kind=KIND)


def test_files_the_manifest_does_not_list_are_never_read(tmp_path):
    target = save(tmp_path / "m", 1)
    root = Path(os.path.realpath(target))
    os.mkfifo(root / "fifo")  # opening it for reading would block the test
    (root / "escape").symlink_to("/dev/zero")
    (root / "extra.bin").write_bytes(b"not listed")
    files = read_artifact_dir(target, kind=KIND)
    assert "extra.bin" not in files and "fifo" not in files and len(files) == 4
    with pytest.raises(ArtifactError, match="lists no file 'extra.bin'"):
        files["extra.bin"]


def test_dropped_then_replaced_file_is_not_served(tmp_path):
    target = save(tmp_path / "m", 1)
    edit_manifest(target, lambda d: d["files"].pop("f0.bin"))
    (Path(os.path.realpath(target)) / "f0.bin").write_bytes(b"replaced freely")
    files = read_artifact_dir(target, kind=KIND)
    assert "f0.bin" not in files
    with pytest.raises(ArtifactError, match="lists no file 'f0.bin'"):
        files["f0.bin"]


@pytest.mark.parametrize("tamper, message", [
    (lambda r: (r / "f0.bin").write_bytes(b"x" + payload(1, 0)[1:]), "sha256 mismatch"),
    (lambda r: (r / "f0.bin").write_bytes(payload(1, 0)[:100]), "truncated or modified"),
    (lambda r: (r / "sub" / "f1.bin").unlink(), r"sub/f1\.bin: missing"),
    (lambda r: ((r / "f2.bin").unlink(), (r / "f2.bin").mkdir()), r"f2\.bin: (cannot open|not a)"),
    (lambda r: (r / MANIFEST).write_text("{not json"), "unreadable manifest"),
    (lambda r: (r / MANIFEST).write_text("[1, 2]"), "not a kgrec artifact manifest"),
    (lambda r: (r / MANIFEST).write_text('{"format": "kgrec-artifact", "version": 9}'),
     "version 9 is not supported"),
    (lambda r: (r / MANIFEST).write_text('{"format": "kgrec-artifact", "version": 1, '
                                         '"kind": "graph", "files": {}}'), "holds a 'graph'"),
    (lambda r: (r / MANIFEST).write_text('{"format": "kgrec-artifact", "version": 1, '
                                         '"kind": "test", "files": []}'), "must be objects"),
    (lambda r: (r / MANIFEST).write_text('{"format": "kgrec-artifact", "version": 1, '
                                         '"kind": "test", "files": {"f0.bin": {"sha256": 1}}}'),
     "needs 'sha256' and 'size'"),
    (lambda r: (r / MANIFEST).write_bytes(b"\xff\xfe"), "unreadable manifest"),
    (lambda r: (r / MANIFEST).unlink(), "not a saved kgrec test"),
])
def test_tampered_artifacts_raise_artifact_error(tmp_path, tamper, message):
    target = save(tmp_path / "m", 1)
    tamper(Path(os.path.realpath(target)))
    with pytest.raises(ArtifactError, match=message):
        read_artifact_dir(target, kind=KIND)


def test_missing_and_foreign_targets(tmp_path):
    with pytest.raises(ArtifactError, match="nothing: not found"):
        read_artifact_dir(tmp_path / "nothing", kind=KIND)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ArtifactError, match="not a folder"):
        read_artifact_dir(tmp_path / "file", kind=KIND)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    with pytest.raises(ArtifactError, match="not a kgrec artifact; refusing"):
        save(mine, 1)
    assert (mine / "thesis.tex").read_text() == "precious"
    assert leftovers(mine) == []


def test_legacy_real_folder_is_replaced_atomically(tmp_path):
    legacy = tmp_path / "legacy"
    shutil.copytree(os.path.realpath(save(tmp_path / "old", 1)), legacy)
    assert check_generation(legacy) == 1
    save(legacy, 2)
    assert legacy.is_symlink() and check_generation(legacy) == 2 and leftovers(legacy) == []


def test_user_symlink_target_is_replaced_not_deleted(tmp_path):
    elsewhere = Path(os.path.realpath(save(tmp_path / "a", 1)))
    link = tmp_path / "current"
    link.symlink_to(elsewhere)
    save(link, 2)
    assert check_generation(link) == 2 and elsewhere.is_dir()  # the user's folder is kept


def test_fill_errors_leave_the_old_model(tmp_path):
    target = save(tmp_path / "m", 1)

    def bad(folder: Path) -> None:
        (folder / "x").write_text("x")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        write_artifact_dir(target, bad, kind=KIND)
    with pytest.raises(ValueError, match="regular files and folders only"):
        write_artifact_dir(target, lambda f: (f / "l").symlink_to("/etc"), kind=KIND)
    with pytest.raises(ValueError, match="written by write_artifact_dir"):
        write_artifact_dir(target, lambda f: (f / MANIFEST).write_text("{}"), kind=KIND)
    assert check_generation(target) == 1 and leftovers(target) == []


# -- crashes during save ------------------------------------------------------------------
CHILD = r"""
import os, signal, sys
from pathlib import Path
import kgrec.io as kio
target, mode, arg, gen = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
die = lambda: os.kill(os.getpid(), signal.SIGKILL)
if mode in ("step", "noexchange"):
    kio.crash_hook = lambda step: die() if step == arg else None
if mode == "noexchange":
    kio._exchange = lambda a, b: False
fill = fill_for(gen)
if mode == "fill":
    def fill(folder, inner=fill):
        inner(folder)
        if arg == "half":
            (folder / "f0.bin").write_bytes(b"half")
        die()
print("ready", flush=True)
while True:
    kio.write_artifact_dir(target, fill, kind="test", meta={"gen": gen})
    if mode != "loop":
        break
    gen += 1
    fill = fill_for(gen)
"""

SYMLINK_STEPS = ["filled", "hashed", "renamed", "linked", "swapped", "cleaned"]
CASES = ([("symlink", "step", s) for s in SYMLINK_STEPS]
         + [("legacy", "step", s) for s in ("filled", "linked", "swapped")]
         + [("legacy", "noexchange", s) for s in ("linked", "aside", "swapped")]
         + [("symlink", "fill", "half"), ("legacy", "fill", "half")]
         + [("symlink", "loop", str(seed)) for seed in range(12)])


def test_kill_at_any_point_of_save_leaves_a_loadable_model(tmp_path):
    """SIGKILL a child process at every step of a save (including between the renames of
    a legacy folder's migration) and at 12 seeded random times during repeated saves: the
    target always loads, old or new, and the next save leaves no temporaries."""
    script = tmp_path / "child.py"  # the same fill as here, without importing pytest
    script.write_text(inspect.getsource(payload) + inspect.getsource(fill_for) + CHILD)
    outcomes = []
    for run, (start, mode, arg) in enumerate(CASES):
        target = tmp_path / f"run{run}" / "model"
        save(target, 1)
        if start == "legacy":
            real = Path(os.path.realpath(target))
            target.unlink()
            shutil.copytree(real, target)
            shutil.rmtree(real)
        child = subprocess.Popen([sys.executable, str(script), str(target), mode, arg, "2"],
                                 stdout=subprocess.PIPE, text=True,
                                 env={**os.environ, "PYTHONPATH": str(REPO)})
        assert child.stdout.readline().strip() == "ready"
        if mode == "loop":
            time.sleep(random.Random(int(arg)).uniform(0.0, 0.25))
            child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=60) == -signal.SIGKILL, (start, mode, arg)
        gen = check_generation(target)  # loadable at its path, all files of one generation
        assert gen in ((1, 2) if mode != "loop" else range(1, 10_000)), (start, mode, arg, gen)
        if mode in ("step", "noexchange"):
            expected = 2 if arg in ("swapped", "cleaned") else 1
            assert gen == expected, (start, mode, arg, gen)
        outcomes.append(gen)
        save(target, 99)
        assert check_generation(target) == 99 and leftovers(target) == [], (start, mode, arg)
    assert len(outcomes) >= 20
    loop = outcomes[-12:]
    assert max(loop) > 2, f"the random kills never landed past the first save: {loop}"


def test_interrupted_migration_is_read_from_aside_and_restored(tmp_path, monkeypatch):
    target = tmp_path / "m"
    shutil.copytree(os.path.realpath(save(tmp_path / "src", 1)), target)
    monkeypatch.setattr(kio, "_exchange", lambda a, b: False)

    class Killed(BaseException):
        pass

    def hook(step: str) -> None:
        if step == "aside":
            raise Killed  # stop exactly between the two renames, as a crash would

    monkeypatch.setattr(kio, "crash_hook", hook)
    with pytest.raises(Killed):
        save(target, 2)
    assert not os.path.lexists(target)
    assert check_generation(target) == 1  # the reader finds the folder set aside
    monkeypatch.setattr(kio, "crash_hook", None)
    save(target, 3)
    assert check_generation(target) == 3 and leftovers(target) == []


def test_listed_fifo_is_refused_without_blocking(tmp_path):
    target = save(tmp_path / "m", 1)
    root = Path(os.path.realpath(target))
    (root / "f0.bin").unlink()
    os.mkfifo(root / "f0.bin")
    with pytest.raises(ArtifactError, match=r"f0\.bin: not a regular file"):
        read_artifact_dir(target, kind=KIND)


def test_a_regular_file_at_the_target_is_not_replaced(tmp_path):
    (tmp_path / "notes").write_text("keep me")
    with pytest.raises(ArtifactError, match="is a file, not an artifact folder"):
        save(tmp_path / "notes", 1)
    assert (tmp_path / "notes").read_text() == "keep me"


def test_parquet_tables_round_trip_exactly_and_refuse_other_types(tmp_path):
    import pandas as pd

    from kgrec.io import read_table, write_table

    schema = {"s": "str", "f": "float64", "i": "int64", "n": "Int64"}
    text = ["", None, "nan", "\\N", "tab\there\n", "x" * 100_000]
    frame = pd.DataFrame({"s": pd.Series(text, dtype=object),
                          "f": [0.1, -2.5, 1e300, 0.0, 3.0, 7.25],
                          "i": [1, 2, 3, -4, 2**62, 0],
                          "n": pd.array([1990, None, 2**60, None, 0, -1], dtype="Int64")})
    write_table(tmp_path / "t.parquet", frame, schema)
    back = read_table(tmp_path / "t.parquet", schema)
    assert back["s"].isna().tolist() == [t is None for t in text]  # "" stays "", not NA
    assert back["s"].dropna().tolist() == [t for t in text if t is not None]
    assert back["f"].tolist() == frame["f"].tolist()
    assert back["i"].tolist() == frame["i"].tolist() and back["i"].dtype == "int64"
    assert back["n"].dtype == "Int64" and back["n"].isna().tolist() == frame["n"].isna().tolist()
    assert back["n"].dropna().tolist() == [1990, 2**60, 0, -1]
    with pytest.raises(ArtifactError, match=r"t\.parquet: columns \['s', 'f', 'i', 'n'\], "
                                            r"expected \['s', 'f'\]"):
        read_table(tmp_path / "t.parquet", {"s": "str", "f": "float64"})
    with pytest.raises(ArtifactError, match=r"column 'i' has type int64, expected string"):
        read_table(tmp_path / "t.parquet", {**schema, "i": "str"})
    with pytest.raises(ArtifactError, match=r"column 'n' \(int64\) has missing values"):
        read_table(tmp_path / "t.parquet", {**schema, "n": "int64"})
    with pytest.raises(ValueError, match=r"column 'f' \(float64\) has missing values"):
        write_table(tmp_path / "u.parquet", frame.assign(f=[None] * 6), schema)
