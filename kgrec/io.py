"""File helpers shared by every stage: atomic files, hashing, escaped TSV tables, and
crash-safe, manifest-verified artifact folders.

Artifact folders (:func:`write_artifact_dir` / :func:`read_artifact_dir`) are what a saved
recommender and a built graph are. The protocol (POSIX):

* ``target`` is a **symbolic link** to a complete, immutable *version folder* beside it,
  ``.<name>.v-<token>`` (a relative link, so the parent folder can be moved).
* Saving builds the new version in ``.<name>.tmp-<token>`` (``fill`` writes the files, then
  every regular file is hashed into ``manifest.json`` and synced to disk), renames it to
  ``.<name>.v-<token>`` (a ``.v-`` folder is always complete), makes a temporary link
  ``.<name>.tmp-<token>.link`` to it and renames that link over ``target``: one
  ``rename(2)``, the commit point. Only then is the previous version folder removed.
  So at every instant ``target`` names either the complete old model or the complete new
  one; a crash (even ``kill -9``) at any step leaves the old one loadable at ``target``.
* A ``target`` that is still a real folder (written before this protocol, or by hand) is
  swapped with the new link in one ``renameat2(RENAME_EXCHANGE)`` where the system has it.
  Elsewhere the folder is first renamed to ``.<name>.aside``; the reader then reads
  ``.<name>.aside`` while ``target`` is missing, and the next save puts it back first.
  A real folder that holds neither ``manifest.json`` nor ``stats.json`` and is not empty is
  never replaced (that would delete someone's files): :class:`ArtifactError`.
* Every save first removes what interrupted saves left: ``.<name>.tmp-*`` entries and
  ``.<name>.v-*`` folders that ``target`` does not point to. Saves of one parent folder
  are serialised with ``flock`` on the parent, so two savers never delete each other's
  work. Folders are made with ``mkdir(2)``'s default mode, so permissions follow the umask.
* Reading resolves ``target`` once and reads only the files the manifest lists, by
  relative POSIX paths inside the resolved folder: no absolute paths, no ``..``, no
  symbolic link at any component, regular files only, each one's size and sha256
  checked. Files the manifest does not list are ignored, never read. Every failure is an
  :class:`ArtifactError`. A reader that races a save may see the old version removed under
  it (an :class:`ArtifactError` naming a missing file): it never sees a mix of versions.

``manifest.json``::

    {"format": "kgrec-artifact", "version": 1, "kind": "<what this is>",
     "meta": {...caller's JSON...},
     "files": {"<relative/path>": {"sha256": "<hex>", "size": <bytes>}, ...}}
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import secrets
import shutil
import stat
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

_T = TypeVar("_T")

MANIFEST = "manifest.json"
ARTIFACT_FORMAT = "kgrec-artifact"
ARTIFACT_VERSION = 1
#: Largest manifest read (bytes): a manifest is a few KB; a bigger one is refused unread.
MAX_MANIFEST_BYTES = 16 << 20
#: Called with the name of each step of :func:`write_artifact_dir` (``"filled"``,
#: ``"hashed"``, ``"renamed"``, ``"linked"``, ``"aside"``, ``"swapped"``, ``"cleaned"``);
#: tests set it to kill the process at a chosen step. ``None`` in normal use.
crash_hook: Callable[[str], None] | None = None


class ArtifactError(ValueError):
    """A saved artifact that cannot be loaded (missing, truncated, modified or foreign
    file, or a manifest that names anything outside its folder)."""


# -- single files ---------------------------------------------------------------------------
def _temp_sibling(path: Path, suffix: str) -> Path:
    return path.parent / f".{path.name}.{secrets.token_hex(6)}{suffix}"


def atomic_write(path: str | Path, writer: Callable[[Path], None]) -> Path:
    """Write ``path`` atomically: ``writer(tmp)`` fills a temporary file in the same
    folder, which then replaces ``path`` in one ``os.replace``. A crash leaves either the
    old file or the new one, never a half-written file. The file's mode follows the
    umask (the temporary is created with ``open(..., 0o666)``, not ``mkstemp``'s 0600)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_sibling(path, ".tmp")
    os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    try:
        writer(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


# -- escaped TSV tables -------------------------------------------------------------------
#: Field written for a missing value (``None`` / NA) in :func:`write_tsv`.
NULL = "\\N"
_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0"}
_UNESCAPES = {v[1]: k for k, v in _ESCAPES.items()}
_ESCAPE_RE = re.compile(r"[\\\t\n\r\0]")
_UNESCAPE_RE = re.compile(r"\\(.?)", re.DOTALL)


def escape_field(value: str | None) -> str:
    """One TSV field: backslash, TAB, LF, CR and NUL escaped (``\\\\``, ``\\t``, ``\\n``,
    ``\\r``, ``\\0``), ``None`` → ``\\N``. No length limit, no quoting."""
    if value is None:
        return NULL
    return _ESCAPE_RE.sub(lambda m: _ESCAPES[m.group()], value)


def unescape_field(field: str) -> str | None:
    """Inverse of :func:`escape_field`; raises ``ValueError`` on an unknown escape."""
    if field == NULL:
        return None
    if "\\" not in field:
        return field

    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        if code not in _UNESCAPES:
            raise ValueError(f"unknown escape \\{code} in field {field[:40]!r}")
        return _UNESCAPES[code]

    return _UNESCAPE_RE.sub(one, field)


def write_tsv(path: str | Path, header: Sequence[str], rows: Iterator[Sequence[str | None]]
              | Sequence[Sequence[str | None]]) -> Path:
    """Write a TAB-separated table of strings (fields escaped, see :func:`escape_field`),
    one ``\\n``-terminated line per row, header first. Not atomic: meant for the ``fill``
    of :func:`write_artifact_dir`."""
    path = Path(path)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write("\t".join(escape_field(h) for h in header) + "\n")
        for row in rows:
            handle.write("\t".join(escape_field(v) for v in row) + "\n")
    return path


def read_tsv(path: str | Path, header: Sequence[str]) -> list[list[str | None]]:
    """Read a table written by :func:`write_tsv` whose header must be ``header``.

    Raises:
        ArtifactError: Wrong header, a line with another number of fields, a bad escape or
            invalid UTF-8; the message names the file and line.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ArtifactError(f"{path}: not valid UTF-8 ({exc.reason})") from None
    except OSError as exc:
        raise ArtifactError(f"{path}: cannot read ({exc.strerror})") from None
    if not text.endswith("\n"):
        raise ArtifactError(f"{path}: truncated (the last line has no line end)")
    lines = text[:-1].split("\n")
    if lines[0].split("\t") != [escape_field(h) for h in header]:
        raise ArtifactError(f"{path}, line 1: header must be {' '.join(header)!r} "
                            "(TAB-separated)")
    rows: list[list[str | None]] = []
    width = len(header)
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != width:
            raise ArtifactError(f"{path}, line {number}: expected {width} fields, got "
                                f"{len(fields)}")
        if "\\" not in line:  # no escape and no \\N: the fields are the text (most lines)
            rows.append(fields)
            continue
        try:
            rows.append([unescape_field(f) for f in fields])
        except ValueError as exc:
            raise ArtifactError(f"{path}, line {number}: {exc}") from None
    return rows


def write_frame(path: str | Path, frame: Any) -> Path:
    """Write a pandas DataFrame with :func:`write_tsv`: missing values as ``\\N``, floats
    by ``repr`` (exact round trip), everything else by ``str``."""
    import numpy as np
    import pandas as pd

    columns = []
    for name in frame.columns:
        column = frame[name]
        missing = column.isna().to_numpy()
        if pd.api.types.is_float_dtype(column.dtype):
            text = [repr(float(v)) for v in column.to_numpy(dtype=float, na_value=np.nan)]
        elif pd.api.types.is_integer_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype):
            text = [str(int(v)) for v in column.to_numpy(dtype=object, na_value=0)]
        else:
            text = [str(v) for v in column.to_numpy(dtype=object)]
        columns.append([None if m else t for t, m in zip(text, missing)])
    return write_tsv(path, [str(c) for c in frame.columns], zip(*columns))


def read_frame(path: str | Path, columns: Sequence[str], dtypes: Mapping[str, str] | None = None
               ) -> Any:
    """Read a table written by :func:`write_frame` into a DataFrame of strings (``None`` for
    missing), converting the columns of ``dtypes`` (``"float64"``, ``"int64"`` or the
    nullable ``"Int64"``).

    Raises:
        ArtifactError: as :func:`read_tsv`, or a value that does not convert (named).
    """
    import pandas as pd

    rows = read_tsv(path, columns)
    frame = pd.DataFrame(rows, columns=list(columns), dtype=object)
    for name, dtype in (dtypes or {}).items():
        values = frame[name]
        try:
            if dtype == "Int64":
                frame[name] = pd.array([None if v is None else int(v) for v in values],
                                       dtype="Int64")
            elif dtype == "int64":
                frame[name] = pd.Series([int(v) for v in values], dtype="int64")
            else:
                frame[name] = pd.Series([float("nan") if v is None else float(v)
                                         for v in values], dtype=dtype)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ArtifactError(f"{path}: column {name!r} is not {dtype} ({exc})") from None
    return frame


# -- typed Parquet tables ------------------------------------------------------------------
#: Column types of :func:`write_table` / :func:`read_table`: ``"str"`` (text, missing
#: allowed), ``"int64"`` / ``"float64"`` (no missing value), ``"Int64"`` (nullable integer).
TABLE_TYPES = ("str", "int64", "float64", "Int64")


def _arrow_type(kind: str) -> Any:
    import pyarrow as pa

    types = {"str": pa.string(), "int64": pa.int64(), "float64": pa.float64(),
             "Int64": pa.int64()}
    if kind not in types:
        raise ValueError(f"column type {kind!r} is not one of {TABLE_TYPES}")
    return types[kind]


def write_table(path: str | Path, frame: Any, schema: Mapping[str, str]) -> Path:
    """Write the columns ``schema`` names (in its order, with its types, see
    :data:`TABLE_TYPES`) of DataFrame ``frame`` as one Parquet file: columnar and binary,
    so :func:`read_table` needs no per-row Python; nothing in it is code. Text is stored
    exactly (``None`` stays missing, ``""`` stays blank). Not atomic: meant for the
    ``fill`` of :func:`write_artifact_dir`.

    Raises:
        ValueError: a column is missing, or a missing value in a non-nullable column.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = []
    for name, kind in schema.items():
        if name not in frame.columns:
            raise ValueError(f"{path}: the frame has no column {name!r}")
        column = frame[name]
        if kind == "str":
            values = column.to_numpy(dtype=object)
            missing = column.isna().to_numpy()
            values = [None if m else str(v) for v, m in zip(values, missing)]
            arrays.append(pa.array(values, type=pa.string()))
            continue
        missing = column.isna().to_numpy()
        if missing.any() and kind != "Int64":
            raise ValueError(f"{path}: column {name!r} ({kind}) has missing values")
        dtype = np.float64 if kind == "float64" else np.int64
        values = column.to_numpy(dtype=dtype, na_value=0)
        arrays.append(pa.array(values, type=_arrow_type(kind),
                               mask=missing if missing.any() else None))
    pq.write_table(pa.Table.from_arrays(arrays, names=list(schema)), str(path))
    return Path(path)


def read_table(path: str | Path, schema: Mapping[str, str]) -> Any:
    """Read a table written by :func:`write_table` with exactly the columns and types of
    ``schema``: text columns in pandas' default text dtype (missing values are NA),
    ``"int64"`` / ``"float64"`` as numpy columns, ``"Int64"`` as pandas' nullable integer.

    Raises:
        ArtifactError: not a Parquet file, other columns or types, or a missing value in
            a non-nullable column; the message names the file and column.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    try:
        table = pq.read_table(pa.BufferReader(path.read_bytes()))
    except OSError as exc:
        raise ArtifactError(f"{path}: cannot read ({exc.strerror})") from None
    except (pa.ArrowException, ValueError) as exc:
        raise ArtifactError(f"{path}: not a Parquet table ({exc})") from None
    if table.column_names != list(schema):
        raise ArtifactError(f"{path}: columns {table.column_names}, expected {list(schema)}")
    columns = {}
    for name, kind in schema.items():
        column = table.column(name)
        expected = _arrow_type(kind)
        if kind == "str" and column.type == pa.large_string():
            column = column.cast(pa.string())
        if column.type != expected:
            raise ArtifactError(f"{path}: column {name!r} has type {column.type}, expected "
                                f"{expected}")
        if column.null_count and kind in ("int64", "float64"):
            raise ArtifactError(f"{path}: column {name!r} ({kind}) has missing values")
        if kind == "str":  # pandas' own text column (Arrow-backed since pandas 3: no copy
            columns[name] = column.to_pandas()  # into a million Python strings)
        elif kind == "Int64":
            import pyarrow.compute as pc

            mask = column.is_null().to_numpy(zero_copy_only=False)
            values = pc.fill_null(column, 0).to_numpy()
            columns[name] = pd.Series(pd.arrays.IntegerArray(values, mask))
        else:
            columns[name] = pd.Series(column.to_numpy())
    return pd.DataFrame(columns, columns=list(schema))


# -- artifact folders -----------------------------------------------------------------------
class ArtifactFiles(Mapping[str, Path]):
    """The verified files of an artifact folder: manifest name → absolute path.

    Attributes:
        root: The resolved version folder the files are in.
        kind: The manifest's ``kind``.
        meta: The manifest's ``meta`` object.
    """

    def __init__(self, root: Path, kind: str, meta: dict[str, Any], files: dict[str, Path]):
        self.root, self.kind, self.meta, self._files = root, kind, meta, files

    def __getitem__(self, name: str) -> Path:
        try:
            return self._files[name]
        except KeyError:
            raise ArtifactError(f"{self.root}: the manifest lists no file {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._files

    def __iter__(self) -> Iterator[str]:
        return iter(self._files)

    def __len__(self) -> int:
        return len(self._files)


def _check_name(name: object, manifest: Path) -> PurePosixPath:
    """A manifest entry must be a plain relative POSIX path inside the folder."""
    if not isinstance(name, str) or not name or "\0" in name or "\\" in name:
        raise ArtifactError(f"{manifest}: invalid file name {name!r}")
    pure = PurePosixPath(name)
    if pure.is_absolute() or name.startswith("/") or any(
            part in ("", ".", "..") for part in name.split("/")):
        raise ArtifactError(f"{manifest}: file name {name!r} is not a relative path inside the "
                            "folder (absolute paths and '..' are refused)")
    if name == MANIFEST:
        raise ArtifactError(f"{manifest}: lists itself")
    return pure


def _open_verified(root: Path, pure: PurePosixPath) -> int:
    """Open ``root/pure`` for reading without following any symbolic link."""
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    directory = getattr(os, "O_DIRECTORY", 0)
    fd = os.open(root, os.O_RDONLY | directory)
    try:
        for part in pure.parts[:-1]:
            child = os.open(part, os.O_RDONLY | directory | nofollow, dir_fd=fd)
            os.close(fd)
            fd = child
        # O_NONBLOCK: a FIFO listed in a manifest must not hang the reader (it is then
        # refused as not a regular file); no effect on regular files
        return os.open(pure.parts[-1], os.O_RDONLY | nofollow | getattr(os, "O_NONBLOCK", 0),
                       dir_fd=fd)
    finally:
        os.close(fd)


def _hash_fd(fd: int) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    while block := os.read(fd, 1 << 20):
        digest.update(block)
        size += len(block)
    return digest.hexdigest(), size


def _resolve_root(target: Path) -> Path:
    """The folder ``target`` names now (following its link), or the ``.aside`` folder of
    an interrupted migration."""
    if not os.path.lexists(target):
        aside = _aside(target)
        if aside.is_dir() and not aside.is_symlink():
            return aside
        raise ArtifactError(f"{target}: not found")
    root = Path(os.path.realpath(target))
    if not root.is_dir():
        raise ArtifactError(f"{target}: not a folder")
    return root


def _read_regular(root: Path, name: PurePosixPath, missing: str,
                  read: Callable[[int], _T]) -> _T:
    """``read(fd)`` of the regular file ``root/name``, opened without following links
    (:func:`_open_verified`); ``missing`` is the error text when it does not exist."""
    path = root / name
    try:
        fd = _open_verified(root, name)
    except FileNotFoundError:
        raise ArtifactError(missing) from None
    except OSError as exc:
        raise ArtifactError(f"{path}: cannot open ({exc.strerror}; symbolic links are "
                            "refused)") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ArtifactError(f"{path}: not a regular file")
        return read(fd)
    finally:
        os.close(fd)


def read_artifact_dir(target: str | Path, *, kind: str) -> ArtifactFiles:
    """Verify the artifact folder ``target`` and return its files (see the module
    docstring for what is checked).

    Args:
        target: The artifact path given to :func:`write_artifact_dir`.
        kind: The ``kind`` it must have been written with.

    Raises:
        ArtifactError: Anything missing, foreign, outside the folder or modified.
    """
    target = Path(target)
    root = _resolve_root(target)
    manifest_path = root / MANIFEST
    data = _read_regular(root, PurePosixPath(MANIFEST),
                         f"{target}: not a saved kgrec {kind} (no {MANIFEST})",
                         lambda fd: os.read(fd, MAX_MANIFEST_BYTES + 1))
    if len(data) > MAX_MANIFEST_BYTES:
        raise ArtifactError(f"{manifest_path}: larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ArtifactError(f"{manifest_path}: unreadable manifest ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != ARTIFACT_FORMAT:
        raise ArtifactError(f"{manifest_path}: not a kgrec artifact manifest (format "
                            f"{manifest.get('format') if isinstance(manifest, dict) else None!r})")
    if manifest.get("version") != ARTIFACT_VERSION:
        raise ArtifactError(f"{manifest_path}: version {manifest.get('version')!r} is not "
                            f"supported (expected {ARTIFACT_VERSION})")
    if manifest.get("kind") != kind:
        raise ArtifactError(f"{target}: not a saved kgrec {kind} (it holds a "
                            f"{manifest.get('kind')!r})")
    entries, meta = manifest.get("files"), manifest.get("meta", {})
    if not isinstance(entries, dict) or not isinstance(meta, dict):
        raise ArtifactError(f"{manifest_path}: 'files' and 'meta' must be objects")
    files: dict[str, Path] = {}
    for name, entry in entries.items():
        pure = _check_name(name, manifest_path)
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str) \
                or type(entry.get("size")) is not int:
            raise ArtifactError(f"{manifest_path}: entry {name!r} needs 'sha256' and 'size'")
        path = root / pure
        digest, size = _read_regular(root, pure, f"{path}: missing from the saved {kind}",
                                     _hash_fd)
        if size != entry["size"] or digest != entry["sha256"]:
            raise ArtifactError(f"{path}: content does not match the manifest (sha256 "
                                "mismatch): the file was truncated or modified")
        files[name] = path
    return ArtifactFiles(root, kind, meta, files)


def _aside(target: Path) -> Path:
    return target.parent / f".{target.name}.aside"


def _hook(step: str) -> None:
    if crash_hook is not None:
        crash_hook(step)


def _fsync(path: Path, *, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot sync folders
        pass
    finally:
        os.close(fd)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically with Linux ``renameat2(RENAME_EXCHANGE)``; ``False`` if
    the system cannot."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(a))


def _version_target(target: Path) -> Path | None:
    """The sibling version folder ``target`` links to, if it is one of ours."""
    if not target.is_symlink():
        return None
    link = os.readlink(target)
    if "/" in link or not link.startswith(f".{target.name}.v-"):
        return None
    return target.parent / link


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)


def _cleanup(target: Path) -> None:
    """Finish an interrupted migration, then remove the leftovers of interrupted saves."""
    aside = _aside(target)
    if aside.is_dir() and not os.path.lexists(target):
        os.rename(aside, target)
    elif os.path.lexists(aside):
        _remove(aside)
    keep = _version_target(target)
    for entry in target.parent.iterdir():
        name = entry.name
        if name.startswith(f".{target.name}.tmp-") or (
                name.startswith(f".{target.name}.v-") and entry != keep):
            _remove(entry)


def _is_replaceable(folder: Path) -> bool:
    return (folder / MANIFEST).is_file() or (folder / "stats.json").is_file() or not any(
        folder.iterdir())


def write_artifact_dir(target: str | Path, fill: Callable[[Path], None], *, kind: str,
                       meta: Mapping[str, Any] | None = None) -> Path:
    """Write an artifact folder crash-safely (protocol in the module docstring).

    Args:
        target: Where the artifact is found afterwards (a symbolic link to its version
            folder); its parent is created if needed.
        fill: Writes the files into the fresh, empty folder it is given (sub-folders
            allowed; no symbolic links; not ``manifest.json``).
        kind: What the artifact is (checked by :func:`read_artifact_dir`).
        meta: JSON-serialisable information stored in the manifest.

    Returns:
        ``target`` as a ``Path``.

    Raises:
        ArtifactError: ``target`` is a non-empty folder that is not a kgrec artifact.
        ValueError: ``fill`` made a symbolic link, a special file or ``manifest.json``.
    """
    target = Path(target)
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    lock = _lock(parent)
    try:
        _cleanup(target)
        if os.path.lexists(target) and not target.is_symlink() and not target.is_dir():
            raise ArtifactError(f"{target}: is a file, not an artifact folder; refusing to "
                                "replace it")
        if target.is_dir() and not target.is_symlink() and not _is_replaceable(target):
            raise ArtifactError(f"{target}: is a folder that is not a kgrec artifact; refusing "
                                "to replace it (choose another path or empty it)")
        token = secrets.token_hex(8)
        tmp = parent / f".{target.name}.tmp-{token}"
        os.mkdir(tmp)  # default mode 0o777 & ~umask
        try:
            fill(tmp)
            _hook("filled")
            files = _hash_tree(tmp)
            document = {"format": ARTIFACT_FORMAT, "version": ARTIFACT_VERSION, "kind": kind,
                        "meta": dict(meta or {}), "files": files}
            with open(tmp / MANIFEST, "w", encoding="utf-8") as handle:
                json.dump(document, handle, indent=1, ensure_ascii=False)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            for folder in {tmp, *((tmp / n).parent for n in files)}:
                _fsync(folder, directory=True)
            _hook("hashed")
            version = parent / f".{target.name}.v-{token}"
            os.rename(tmp, version)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _hook("renamed")
        link = parent / f".{target.name}.tmp-{token}.link"
        os.symlink(version.name, link)
        _fsync(parent, directory=True)
        _hook("linked")
        previous = _version_target(target)
        if target.is_dir() and not target.is_symlink():
            if _exchange(link, target):  # link now names the old folder
                _hook("swapped")
                _fsync(parent, directory=True)
                shutil.rmtree(link, ignore_errors=True)
            else:
                aside = _aside(target)
                os.rename(target, aside)
                _hook("aside")
                os.replace(link, target)
                _hook("swapped")
                _fsync(parent, directory=True)
                shutil.rmtree(aside, ignore_errors=True)
        else:
            os.replace(link, target)
            _hook("swapped")
            _fsync(parent, directory=True)
        if previous is not None and previous != version:
            shutil.rmtree(previous, ignore_errors=True)
        _hook("cleaned")
    finally:
        _unlock(lock)
    return target


def _hash_tree(folder: Path) -> dict[str, dict[str, Any]]:
    """``{relative path: {"sha256", "size"}}`` of every regular file under ``folder``;
    every file is synced to disk."""
    files: dict[str, dict[str, Any]] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        here = Path(dirpath)
        for name in sorted(dirnames + filenames):
            path = here / name
            mode = os.lstat(path).st_mode
            relative = path.relative_to(folder).as_posix()
            if stat.S_ISLNK(mode) or not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
                raise ValueError(f"{path}: an artifact holds regular files and folders only")
            if stat.S_ISREG(mode):
                if relative == MANIFEST:
                    raise ValueError(f"{path}: {MANIFEST} is written by write_artifact_dir")
                fd = os.open(path, os.O_RDONLY)
                try:
                    digest, size = _hash_fd(fd)
                    os.fsync(fd)
                finally:
                    os.close(fd)
                files[relative] = {"sha256": digest, "size": size}
    return dict(sorted(files.items()))


def _lock(folder: Path) -> int | None:
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        return None
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError:
        os.close(fd)
        return None
    return fd


def _unlock(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)  # closing releases the flock
