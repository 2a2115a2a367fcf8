"""Where remote datasets live on disk, and how they get there.

Cache root, in order: the ``data_dir`` argument (``--data-dir`` on the command line), the
``KGREC_DATA_DIR`` environment variable, then the platform's user cache folder
(``$XDG_CACHE_HOME/kgrec`` or ``~/.cache/kgrec`` on Linux, ``~/Library/Caches/kgrec`` on
macOS, ``%LOCALAPPDATA%\\kgrec\\Cache`` on Windows). Each dataset has a folder under the
root named as in the publisher's zip (``ml-100k/``, ``ml-1m/``,
``hetrec2011-movielens-2k-v2/``); ``data_dir`` may also point at that folder directly.

:func:`fetch` uses a local copy whenever its required files are present. **Local files are
only checked for presence, not hashed** (a user may have a legitimately different copy, and
hashing 25 MB on every load is wasted work; call :func:`verify` to check a folder). Files
obtained by download are always verified before they enter the cache: the zip is fetched
over HTTPS with certificate verification, extracted into a temporary folder beside the
target, every file with a known hash is checked, and only then is the folder moved into
place with one ``os.replace``. A failed or interrupted download never leaves a partial
dataset behind.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import ssl
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from kgrec.data.dataset import DataError
from kgrec.data.sources._tables import warn
from kgrec.io import sha256_file

log = logging.getLogger("kgrec.data")

ENV_DATA_DIR = "KGREC_DATA_DIR"


class DatasetUnavailableError(DataError):
    """No local copy and no way to download one; the message says what to put where."""


class ChecksumError(DataError):
    """A downloaded file does not have its published hash."""


@dataclass(frozen=True)
class RemoteSource:
    """A dataset published as a zip, and the hashes its files must have.

    Attributes:
        name: Registry name (``"ml-100k"``).
        folder: Folder name under the cache root (the zip's top-level folder).
        url: HTTPS address of the zip (``file://`` is accepted too, for mirrors and tests).
        required: Files a local copy must hold to be used without downloading.
        optional: Files loaded when present (their absence is reported, not fatal).
        sha256: Expected sha256 hex digest per file name, checked after download.
        git_blob: Expected ``git hash-object`` id per file, for files whose sha256 is not
            known.
        indicative_git_blob: Single-source git blob ids: a mismatch is only warned about.
        aliases: Other folder names accepted under the cache root.
    """

    name: str
    folder: str
    url: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    sha256: Mapping[str, str] = field(default_factory=dict)
    git_blob: Mapping[str, str] = field(default_factory=dict)
    indicative_git_blob: Mapping[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()


# Hash values: shared/datasets/SHA256SUMS and README.md (GroupLens originals, cross-checked
# across independent copies).
ML_100K = RemoteSource(
    name="ml-100k",
    folder="ml-100k",
    url="https://files.grouplens.org/datasets/movielens/ml-100k.zip",
    required=("u.data", "u.item", "u.genre"),
    optional=("u.user", "u.info", "README"),
    sha256={
        "README": "4883b8cf340ed0059971b33f56ad3adc88a40792108ebca3d24aafc4c82e8b52",
        "u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
        "u.genre": "9757e0d3e6b298159a80dd48eaf938114690e911e39af97a76949ef1663610bb",
        "u.info": "5b0a40b2e47a729ee6203063f6dcf8790c2e63f5a18663e6ee318a72c5f3c27b",
        "u.item": "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701",
        "u.occupation": "cd5fbec9afe345d993a62fc7817df1a4a9079c4feb267b3118763b8fd942137d",
        "u.user": "f120e114da2e8cf314fd28f99417c94ae9ddf1cb6db8ce0e4b5995d40e90e62c",
        "u1.base": "ce253ec86c448b44fb3ba9a30d12dcfc2e9210cbde71efada3730c22e9ac212a",
        "u1.test": "18c6014a4b2c7324f250a63f8904a7b16b2b19f911129e346141507b0cbac950",
        "u2.base": "6c06f0b5df4b256da1a994f3ac66edc8da4d3f09bc9282df6b14d893366d703e",
        "u2.test": "4de658d1e04ed9104629509a2e2528fce833ac8e048280183f1df167632038c3",
        "u3.base": "afdc155c291c6edc41c0407e39d7462eb98d341e064f0b0a12175b80b3c4af5d",
        "u3.test": "0f548b51c78327de4c156461d3e430b7e5579fe2b5681586a59416e48fd35f6d",
        "u4.base": "219f0f4d40dfe9c5141d425f53fa91ee23ed275f14e280bbf1b50117afb064ca",
        "u4.test": "7c02ad0a1e7ab1083c8b9d4b627203a051dd7b5eab46d99fa44de33470de8db9",
        "u5.base": "a9574e59ce961eec2121627760b6e9b0974ce1637b3fe69ac32cb14a4bfab485",
        "u5.test": "351cc52e0d15b6c721466276fc24671d40936899e3d01fadeaf312915b8c5634",
        "ua.base": "67b5bcdb380c29f85d56a012ecd88612ae020f30a6730d117a334ee8203b91f2",
        "ua.test": "d0497e202417720f57a184ec8c66be2d1afa4ff41bb53787c57b28d6bf79bc42",
        "ub.base": "237254d253b6ad7de84f919d041055428646254f34ed8f562703c899430cd881",
        "ub.test": "d54a72d05730d5892062734b2bec73e976f9b713d18c828a18b968d6cce442da",
    },
)

ML_1M = RemoteSource(
    name="ml-1m",
    folder="ml-1m",
    url="https://files.grouplens.org/datasets/movielens/ml-1m.zip",
    required=("movies.dat",),
    optional=("ratings.dat", "users.dat", "README"),
    sha256={
        "README": "2d5ddce86ccbd247207456165827b4b9ddf27282bca93807d4c763e28414f133",
        "movies.dat": "0140fc2356357c1a851d0f52e893a1e4d3696df632c4141cea8d5bc3d621f0b9",
        "users.dat": "1dc3a95300cb19f7c10e027daf29b8cdf1d908dab65b5edfb45950aa389a10a3",
    },
    # Only the git blob id of ratings.dat is known (agreed by four independent copies).
    git_blob={"ratings.dat": "77a7c4b150f588c23bb9e1f068aa996c0b413695"},
)

HETREC_2K = RemoteSource(
    name="hetrec-2k",
    folder="hetrec2011-movielens-2k-v2",
    url="https://files.grouplens.org/datasets/hetrec2011/hetrec2011-movielens-2k-v2.zip",
    required=("movies.dat", "movie_genres.dat"),  # movies.dat alone could be ml-1m's
    optional=("movie_directors.dat", "movie_actors.dat",
              "movie_countries.dat", "movie_tags.dat", "tags.dat",
              "user_ratedmovies-timestamps.dat", "user_ratedmovies.dat",
              "user_taggedmovies-timestamps.dat", "user_taggedmovies.dat"),
    sha256={
        "readme.txt": "fa5a69643a936323159beaa9e08b1b0e9635bf3e339ed55571470acb7ecd68b9",
        "movies.dat": "f55b1664fe154ce23289c6d47b9e35d2c7fc4798d059e382c402fb9bf8bc3713",
        "movie_directors.dat": "9308c8c373e95035e571f4b443ae77214ae09d92279fd3b7492275b605b31a8b",
        "movie_genres.dat": "59d31eb835f653062b9ac8c6b89ba3e986f2325d97d3f201c511f95683afeb6f",
        "movie_countries.dat": "176d4068048267105614a3b88f5034f9ca982951fc84d5736ee6f15ae1b68da6",
        "movie_locations.dat": "d356e8c50c9e1854afd05e30247ba58b430e17aaac23d67957229d12f6cbf29b",
        "movie_tags.dat": "33c256779797190f315af912f84320175a0c92c853e7eae2799f0d3e5baa8fad",
        "tags.dat": "c3a9a210ce0feeb3b1ae5fd02b60cfdb2defefb8da5c8286c4364c1a01a3c8c2",
        "user_taggedmovies.dat":
            "ed3e9d55872a9a4c49cd691cf2ae40322a326404fc35a361d5320973da50b810",
        "user_taggedmovies-timestamps.dat":
            "8f57ab02c48475de96f9ef60b38696b7bdb5b13bee3c7a570064600d0044fe2c",
    },
    # Single-source ids (shared/datasets/README.md calls them indicative): warn on mismatch.
    indicative_git_blob={
        "movie_actors.dat": "0dd677a9074597b80b92083bc7a0059d41d74cc6",
        "user_ratedmovies.dat": "9619cb9ced807dd1220b330d80a4866c147a6b56",
        "user_ratedmovies-timestamps.dat": "a2f1f4b63d69d49d46ebe5a567c9a5aeab7cba87",
    },
    aliases=("hetrec-2k", "hetrec2011-movielens-2k"),
)

SOURCES: dict[str, RemoteSource] = {s.name: s for s in (ML_100K, ML_1M, HETREC_2K)}


# -- locations --------------------------------------------------------------------------
def user_cache_dir() -> Path:
    """The platform's per-user cache folder for kgrec (no directory is created)."""
    if os.name == "nt":
        base = os.environ.get("LOCALAPPDATA") or os.path.expanduser(r"~\AppData\Local")
        return Path(base) / "kgrec" / "Cache"
    if sys.platform == "darwin":
        return Path(os.path.expanduser("~/Library/Caches")) / "kgrec"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = xdg if xdg and os.path.isabs(xdg) else os.path.expanduser("~/.cache")
    return Path(base) / "kgrec"


def cache_root(data_dir: str | Path | None = None) -> Path:
    """``data_dir`` if given, else ``$KGREC_DATA_DIR``, else :func:`user_cache_dir`."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        return Path(env).expanduser()
    return user_cache_dir()


def find_local(source: RemoteSource, data_dir: str | Path | None = None) -> Path | None:
    """The folder holding ``source.required``: ``<root>/<folder>``, an alias, or the root."""
    root = cache_root(data_dir)
    for candidate in (root / source.folder, *(root / a for a in source.aliases), root):
        if all((candidate / name).is_file() for name in source.required):
            return candidate
    return None


# -- hashing ----------------------------------------------------------------------------
def git_blob_id(path: str | Path, chunk: int = 1 << 20) -> str:
    """``git hash-object``: sha1 of ``b"blob <size>\\0"`` followed by the file's bytes."""
    path = Path(path)
    digest = hashlib.sha1(b"blob %d\0" % path.stat().st_size)
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify(source: RemoteSource, folder: str | Path, *, downloaded: bool = False) -> list[str]:
    """Check the files of ``folder`` against the hashes of ``source``.

    Args:
        source: Which dataset's table to use.
        folder: The dataset folder.
        downloaded: ``folder`` is a fresh extraction of ``source.url``: every file with a
            known hash must be present, and errors name the URL. Otherwise (a local
            copy) absent files are skipped.

    Returns:
        The names of the files that were verified.

    Raises:
        ChecksumError: A file's hash differs (the message names the file and both hashes),
            or a downloaded archive lacks a file.
    """
    folder = Path(folder)
    tables = [(source.sha256, "sha256", sha256_file), (source.git_blob, "git blob", git_blob_id)]
    if downloaded:
        missing = [n for table, _, _ in tables for n in table if not (folder / n).is_file()]
        if missing:
            raise ChecksumError(f"the {source.name} archive from {source.url} lacks "
                                f"{', '.join(map(repr, missing))}")
    checked = []
    for table, kind, function in tables:
        for name, expected in table.items():
            path = folder / name
            if not path.is_file():
                continue
            actual = function(path)
            if actual != expected:
                where = f" (downloaded from {source.url})" if downloaded else ""
                raise ChecksumError(f"{kind} mismatch for {name}{where}: expected {expected}, "
                                    f"got {actual}; the file is corrupt or the publisher "
                                    "changed it", path=None if downloaded else path)
            checked.append(name)
    for name, expected in source.indicative_git_blob.items():
        path = folder / name
        if path.is_file() and (actual := git_blob_id(path)) != expected:
            warn(f"{path}: git blob {actual} differs from the single-source id {expected} "
                 f"noted for {name}; loading it anyway")
    return checked


# -- download ---------------------------------------------------------------------------
def _urlopen(request: urllib.request.Request, timeout: float):
    """Open ``request`` with certificate verification (the default SSL context)."""
    return urllib.request.urlopen(request, timeout=timeout,
                                  context=ssl.create_default_context())


def _download(url: str, folder: Path, desc: str) -> Path:
    """Stream ``url`` into a temporary file in ``folder`` with a progress bar on a
    terminal (one ``kgrec: download ...`` line otherwise, :mod:`kgrec.progress`)."""
    from tqdm.auto import tqdm

    from kgrec.progress import stage

    scheme = urlparse(url).scheme
    if scheme not in ("https", "file"):
        raise ValueError(f"refusing to download over {scheme or 'an unknown scheme'}: {url} "
                         "(only https:// and file:// are allowed)")
    request = urllib.request.Request(url, headers={"User-Agent": "kgrec"})
    fd, name = tempfile.mkstemp(prefix=".download-", suffix=".zip", dir=folder)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out, _urlopen(request, timeout=60) as response, \
                stage(f"download {desc}") as progress:
            total = response.headers.get("Content-Length")
            with tqdm(total=int(total) if total else None, unit="B", unit_scale=True,
                      unit_divisor=1024, desc=desc, leave=False, disable=None) as bar:
                while block := response.read(1 << 16):
                    out.write(block)
                    bar.update(len(block))
            progress["detail"] = f"{out.tell() / (1 << 20):,.1f} MiB"
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _extract(archive: Path, into: Path) -> Path:
    """Extract ``archive`` into ``into``; return the folder holding the files (the zip's
    single top-level folder, if it has one)."""
    into = into.resolve()
    try:
        with zipfile.ZipFile(archive) as zf:
            for member in zf.namelist():
                target = (into / member).resolve()
                if into != target and into not in target.parents:
                    raise DataError(f"archive member {member!r} would escape the extraction "
                                    "folder", path=archive)
            zf.extractall(into)
    except zipfile.BadZipFile as exc:
        raise DataError(f"not a valid zip archive ({exc})", path=archive) from None
    entries = [p for p in into.iterdir() if p.name != "__MACOSX"]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return into


def _unavailable(source: RemoteSource, target: Path, reason: str) -> DatasetUnavailableError:
    optional = f"; optional: {', '.join(source.optional)}" if source.optional else ""
    return DatasetUnavailableError(
        f"{source.name}: no local copy ({reason}). Put the files {', '.join(source.required)} "
        f"(unzipped from {source.url}{optional}) in {target}, or point --data-dir / "
        f"{ENV_DATA_DIR} at a folder that holds {source.folder}/.", path=target)


def fetch(source: RemoteSource | str, data_dir: str | Path | None = None, *,
          force: bool = False, download: bool = True) -> Path:
    """Folder holding ``source``'s files: the local copy, or a fresh verified download.

    Args:
        source: A :class:`RemoteSource` or its name (``"ml-100k"``, ``"ml-1m"``,
            ``"hetrec-2k"``).
        data_dir: Cache root or dataset folder (see :func:`cache_root`).
        force: Download again even if a local copy exists (replaces it).
        download: Allow network access; when ``False`` a missing copy is an error.

    Raises:
        DatasetUnavailableError: No local copy and the download is disabled or failed
            (offline): names the folder and the files to place there.
        ChecksumError: A downloaded file has the wrong hash (nothing is written).
    """
    if isinstance(source, str):
        source = SOURCES[source]
    root = cache_root(data_dir)
    if not force:
        local = find_local(source, data_dir)
        if local is not None:
            return local
    target = root / source.folder
    if not download:
        raise _unavailable(source, target, "downloads are disabled")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _unavailable(source, target, f"cannot create {root}: {exc.strerror}") from None
    log.info("downloading %s from %s into %s", source.name, source.url, target)
    try:
        archive = _download(source.url, root, desc=source.name)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise _unavailable(source, target, f"download from {source.url} failed: {reason}"
                           ) from None
    scratch = Path(tempfile.mkdtemp(prefix=f".{source.folder}-", dir=root))
    try:
        content = _extract(archive, scratch)
        checked = verify(source, content, downloaded=True)
        log.info("%s: verified %d files (%s)", source.name, len(checked), ", ".join(checked))
        _replace_dir(content, target)
    finally:
        archive.unlink(missing_ok=True)
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def _replace_dir(new: Path, target: Path) -> None:
    """Move folder ``new`` to ``target``, replacing any previous folder there."""
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}-old-", dir=target.parent))
        os.replace(target, old / target.name)
    os.replace(new, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
