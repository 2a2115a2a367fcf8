"""kgrec.io: atomic writes keep the old file on failure and leave no temporaries; sha256."""

import hashlib

import pytest

from kgrec.io import atomic_write, atomic_write_bytes, atomic_write_text, sha256_file


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
