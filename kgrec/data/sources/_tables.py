"""Reading delimited text files into string tables, and validating them.

Every loader reads its files through :func:`read_table`, which decodes the bytes itself (so
a byte that is invalid in the declared encoding is reported with its line) and parses with
pandas' C parser into an all-string DataFrame. The checks below are vectorised: they find
the first offending row by position and only then work out its physical line number
(1-based, the header is line 1), re-scanning the file so that blank lines and quoted fields
spanning several lines are counted exactly. Values are kept verbatim (the publishers'
formats have no padding, and stripping 100k-row columns element by element costs seconds);
the CSV-folder loader strips blanks around every field of a user's files.

Bounds (one place, applied by every loader; each violation is a :class:`DataError` naming
file and line): numbers are finite; ratings within ``±``:data:`RATING_LIMIT`; timestamps
(Unix seconds, after unit conversion) within :data:`TIMESTAMP_RANGE`; years whole numbers
within :data:`YEAR_RANGE`; titles at most :data:`MAX_TITLE_CHARS` characters. A data line
with fewer fields than the header is an error, and so, for the publishers' formats whose
every line ends with a line end (``terminated=True``), is a last line without one: the
file was cut mid-line.
"""

from __future__ import annotations

import csv
import io
import re
import sys
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kgrec.data.dataset import DataError

#: Encoding name understood by :func:`decode`: UTF-8, with a per-line Latin-1 fallback for
#: files that mix both (HetRec's ``tags.dat``).
UTF8_OR_LATIN1 = "utf-8|latin-1"
#: Largest accepted absolute rating (the scales in use are 1-5, 0.5-10 or -10..10).
RATING_LIMIT = 1e6
#: Accepted timestamps, Unix seconds: 1900-01-01 to 9999-12-31 (UTC).
TIMESTAMP_RANGE = (-2_208_988_800, 253_402_300_799)
#: Accepted release years (four-digit years, as dates are written).
YEAR_RANGE = (1, 9999)
#: Longest accepted title, in characters (the longest MovieLens title has 81).
MAX_TITLE_CHARS = 1000


def decode(data: bytes, encoding: str, path: Path) -> str:
    """Decode ``data`` or raise a :class:`DataError` naming the line of the first bad byte.

    ``encoding`` is a Python codec name (``"utf-8"`` tolerates a leading byte-order mark)
    or :data:`UTF8_OR_LATIN1`, which decodes each line as UTF-8 and falls back to Latin-1
    for the lines that are not valid UTF-8.
    """
    if encoding == UTF8_OR_LATIN1:
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            lines = data.split(b"\n")
            out = []
            for raw in lines:  # only reached for mixed files; a few thousand lines at most
                try:
                    out.append(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    out.append(raw.decode("latin-1"))
            return "\n".join(out).removeprefix("\ufeff")
    codec = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        bad = data[exc.start:exc.end]
        raise DataError(f"byte(s) 0x{bad.hex()} are not valid {encoding} ({exc.reason}); "
                        f"re-save the file as {encoding}", path=path, line=line) from None


@dataclass
class Table:
    """A parsed file: every column is a string column, missing fields are ``""``.

    Attributes:
        path: The file read.
        frame: One row per non-blank data line (columns named by the header, or
            ``0..n-1`` for headerless files).
        sep: Field separator the file was parsed with (after ``::`` → TAB rewriting).
        quoted: Whether ``"`` quoting was honoured (CSV) or ignored (``.dat`` formats).
        header: Whether the first non-blank line is a header.
        encoding: The declared encoding.
    """

    path: Path
    frame: pd.DataFrame
    sep: str
    quoted: bool
    header: bool
    encoding: str
    _multichar_sep: str | None = None

    def __len__(self) -> int:
        return len(self.frame)

    def line(self, position: int) -> int:
        """1-based physical line where data row ``position`` (0-based) starts."""
        for index, (start, _fields) in enumerate(self._records()):
            if index == position:
                return start
        return position + 1 + int(self.header)  # not reached for a valid position

    def error(self, message: str, position: int | None = None) -> DataError:
        """A :class:`DataError` naming this file and the line of row ``position``."""
        line = None if position is None else self.line(position)
        return DataError(message, path=self.path, line=line)

    def _records(self, *, include_header: bool = False) -> Iterable[tuple[int, list[str]]]:
        """(start line, fields) of each non-blank record, in file order (slow path: used
        only to locate an error)."""
        text = decode(self.path.read_bytes(), self.encoding, self.path)
        if self._multichar_sep:
            text = text.replace(self._multichar_sep, "\t")
        if self.quoted:
            reader = csv.reader(io.StringIO(text, newline=""), delimiter=self.sep)
            records = []
            previous_end = 0
            limit = csv.field_size_limit()
            csv.field_size_limit(max(limit, len(text) + 1))  # any field length, as pandas
            try:
                for fields in reader:
                    start, previous_end = previous_end + 1, reader.line_num
                    records.append((start, fields))
            finally:
                csv.field_size_limit(limit)
        else:
            records = ((number, line.split(self.sep))
                       for number, line in enumerate(re.split(r"\r\n|\r|\n", text), start=1))
        skip_header = self.header and not include_header
        for start, fields in records:
            if not fields or fields == [""]:
                continue
            if skip_header:
                skip_header = False
                continue
            yield start, fields


def require_file(path: Path, hint: str = "") -> Path:
    if not path.is_file():
        raise DataError("file not found" + (f"; {hint}" if hint else ""), path=path)
    return path


def read_table(path: str | Path, *, sep: str, encoding: str = "utf-8", header: bool = True,
               quoted: bool = False, columns: Sequence[str] = (), num_fields: int | None = None,
               lowercase_header: bool = False, terminated: bool = False) -> Table:
    """Read a delimited text file into a :class:`Table` of strings.

    Args:
        path: File to read; a missing file raises :class:`DataError`.
        sep: Field separator; a multi-character separator such as ``::`` is rewritten to
            TAB before parsing (the C parser takes single characters only).
        encoding: Declared encoding (see :func:`decode`).
        header: Whether the first non-blank line names the columns.
        quoted: Honour ``"`` quoting (CSV files). ``.dat`` formats are read verbatim.
        columns: Columns the header must contain (error on line 1 otherwise).
        num_fields: For headerless files, the exact number of fields per line.
        lowercase_header: Lower-case and strip header names (user CSVs).
        terminated: The format ends every line with a line end (the publishers' files
            do): a non-empty file whose last line has none was cut mid-line, an error.
    """
    path = Path(path)
    require_file(path)
    text = decode(path.read_bytes(), encoding, path)
    if terminated and text and not text.endswith(("\n", "\r")):
        raise DataError("the last line has no line end: the file is truncated (cut "
                        "mid-line); extract or download it again", path=path,
                        line=text.count("\n") + 1)
    multichar = None
    if len(sep) > 1:
        if "\t" in text:
            raise DataError(f"unexpected TAB character in a {sep!r}-separated file", path=path,
                            line=text.count("\n", 0, text.index("\t")) + 1)
        multichar, text = sep, text.replace(sep, "\t")
        sep = "\t"
    table = Table(path, pd.DataFrame(), sep, quoted, header, encoding, multichar)
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, header=0 if header else None, dtype=str,
                            keep_default_na=False, na_filter=False, engine="c",
                            quoting=csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE)
    except pd.errors.EmptyDataError:
        if header:
            raise DataError("file is empty (expected a header line)", path=path, line=1) from None
        frame = pd.DataFrame({i: pd.Series(dtype=str) for i in range(num_fields or 0)})
    except pd.errors.ParserError as exc:
        raise _field_count_error(table, exc) from None
    table.frame = frame
    _check_short_records(table, text, frame.shape[1], len(frame))
    frame = frame.fillna("")
    if header:
        names = [str(c).strip() for c in frame.columns]
        if lowercase_header:
            names = [n.lower() for n in names]
        frame.columns = names
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise DataError(f"missing column(s) {', '.join(map(repr, missing))}; the header has "
                            f"{', '.join(map(repr, names))}", path=path, line=1)
    elif num_fields is not None and frame.shape[1] != num_fields:
        raise DataError(f"expected {num_fields} fields per line, found {frame.shape[1]}",
                        path=path, line=table.line(0) if len(frame) else 1)
    table.frame = frame
    return table


def _check_short_records(table: Table, text: str, width: int, rows: int) -> None:
    """A record with fewer fields than the header (or the first line) is an error; pandas
    pads such rows with empty strings. Cheap when the separator count adds up (rows longer
    than ``width`` already failed to parse), exact (record by record) otherwise."""
    if width <= 1 or text.count(table.sep) == (width - 1) * (rows + int(table.header)):
        return
    for start, fields in table._records(include_header=True):
        if len(fields) < width:
            raise DataError(f"expected {width} fields, found {len(fields)} (is the line cut "
                            "short?)", path=table.path, line=start)


def _field_count_error(table: Table, exc: Exception) -> DataError:
    """Locate the first record with more fields than the first one (header or data)."""
    expected = None
    for start, fields in table._records(include_header=True):
        if expected is None:
            expected = len(fields)
        elif len(fields) > expected:
            return DataError(f"expected {expected} fields, found {len(fields)}",
                             path=table.path, line=start)
    if "EOF inside string" in str(exc) and expected is not None:
        return DataError('a quoted field (") is never closed: the file ends inside it',
                         path=table.path, line=start)
    return DataError(f"cannot parse: {exc}", path=table.path)


def warn(message: str) -> None:
    """``warnings.warn`` attributed to the first caller outside ``kgrec.data`` (so the user
    sees their own ``load_dataset`` line, however deep the loader that decided)."""
    package = str(Path(__file__).resolve().parents[1])
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, UserWarning, stacklevel=level)


# -- vectorised checks ------------------------------------------------------------------
def first_true(mask: np.ndarray | pd.Series) -> int | None:
    """Position of the first ``True`` in ``mask``, or ``None``."""
    hits = np.flatnonzero(np.asarray(mask, dtype=bool))
    return int(hits[0]) if len(hits) else None


def check_nonempty(table: Table, columns: Iterable[str | int], frame: pd.DataFrame | None = None
                   ) -> None:
    """Every value of ``columns`` is non-empty."""
    frame = table.frame if frame is None else frame
    for column in columns:
        position = first_true(frame[column].eq("").to_numpy())
        if position is not None:
            raise table.error(f"empty {_name(column)}", position)


def to_number(table: Table, column: str | int, *, allow_empty: bool = False,
              what: str | None = None, low: float | None = None, high: float | None = None
              ) -> pd.Series:
    """Column parsed as float; an unparsable, infinite (``inf``, ``1e400``), out-of-range
    (``low``/``high``, inclusive) or, unless allowed, empty value is an error."""
    raw = table.frame[column]
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna().to_numpy()
    if allow_empty:
        bad = bad & raw.ne("").to_numpy()
    position = first_true(bad)
    if position is not None:
        raise table.error(f"unparsable {what or _name(column)} {raw.iloc[position]!r} "
                          "(expected a number)", position)
    values = values.astype(float)
    position = first_true(np.isinf(values.to_numpy()))
    if position is not None:
        raise table.error(f"{what or _name(column)} {raw.iloc[position]!r} is not a finite "
                          "number", position)
    check_range(table, values, what or _name(column), low, high, raw)
    return values


def check_range(table: Table, values: pd.Series, what: str, low: float | None,
                high: float | None, raw: pd.Series | None = None) -> None:
    """Every non-missing value of ``values`` (row-aligned with ``table``) is within
    ``[low, high]``."""
    array = values.to_numpy(dtype=float)
    out = np.zeros(len(array), dtype=bool)
    with np.errstate(invalid="ignore"):
        if low is not None:
            out |= array < low
        if high is not None:
            out |= array > high
    position = first_true(out)
    if position is not None:
        shown = raw.iloc[position] if raw is not None else array[position]
        bounds = " to ".join("any" if b is None else f"{b:,.0f}" if b == int(b) else f"{b:g}"
                             for b in (low, high))
        raise table.error(f"{what} {shown!r} is out of range (accepted: {bounds}"
                          + (", i.e. 1900-01-01 to 9999-12-31" if (low, high) == TIMESTAMP_RANGE
                             else "") + ")", position)


def to_year(table: Table, column: str | int) -> pd.Series:
    """Optional year column: empty → missing, else a whole number within
    :data:`YEAR_RANGE`; returned as nullable ``Int64``."""
    years = to_number(table, column, allow_empty=True, what="year", low=YEAR_RANGE[0],
                      high=YEAR_RANGE[1])
    position = first_true(((years % 1).fillna(0) != 0).to_numpy())
    if position is not None:
        raise table.error(f"year {table.frame[column].iloc[position]!r} is not a whole number",
                          position)
    return years.round().astype("Int64")


def check_titles(table: Table, titles: pd.Series) -> None:
    """Titles (row-aligned with ``table``) have at most :data:`MAX_TITLE_CHARS`
    characters."""
    position = first_true(titles.str.len().gt(MAX_TITLE_CHARS).to_numpy())
    if position is not None:
        raise table.error(f"title of {len(titles.iloc[position]):,} characters is longer than "
                          f"the {MAX_TITLE_CHARS:,} accepted", position)


def check_unique(table: Table, columns: Sequence[str | int], what: str,
                 frame: pd.DataFrame | None = None) -> None:
    """No two rows share the values of ``columns``; names both lines of the first repeat."""
    frame = table.frame if frame is None else frame
    keys = frame[list(columns)] if len(columns) > 1 else frame[columns[0]]
    dup = keys.duplicated(keep="first").to_numpy()
    position = first_true(dup)
    if position is None:
        return
    row = frame.iloc[position]
    same = np.ones(len(frame), dtype=bool)
    for column in columns:
        same &= frame[column].to_numpy() == row[column]
    first = first_true(same)
    value = ", ".join(str(row[c]) for c in columns)
    raise table.error(f"duplicate {what} ({value}); first given on line {table.line(first)}",
                      position)


def check_known(table: Table, values: pd.Series, known: pd.Index | set[str] | Iterable[str],
                what: str, where: str) -> None:
    """Every one of ``values`` (a column of ``table``, row-aligned) is in ``known``."""
    position = first_true(~values.isin(known).to_numpy())
    if position is not None:
        raise table.error(f"{what} {values.iloc[position]!r} is not in {where}", position)


def ratings_frame(table: Table, item_ids: pd.Series | pd.Index, *, items_where: str,
                  user: str | int = "user_id", item: str | int = "item_id",
                  rating: str | int | None = "rating", timestamp: str | int | None = "timestamp",
                  timestamp_divisor: int = 1) -> pd.DataFrame:
    """Validate a ratings table and return it in the ``MovieDataset.ratings`` schema.

    Checks, each naming file and line: non-empty user and item ids, finite rating within
    ``±RATING_LIMIT`` and timestamp within ``TIMESTAMP_RANGE``, item present in ``item_ids``, at most one rating per (user, item).

    Args:
        table: The parsed ratings file.
        item_ids: Valid item ids.
        items_where: Name of the items file, for the "unknown item" message.
        user, item, rating, timestamp: Source column names; ``rating=None`` gives 1.0
            (implicit feedback), ``timestamp=None`` gives 0.
        timestamp_divisor: Source timestamp unit per second (1000 for milliseconds).
    """
    frame = table.frame
    check_nonempty(table, [user, item])
    out = pd.DataFrame({"user_id": frame[user], "item_id": frame[item]})
    out["rating"] = 1.0 if rating is None else to_number(
        table, rating, what="rating", low=-RATING_LIMIT, high=RATING_LIMIT)
    if timestamp is None:
        out["timestamp"] = np.zeros(len(frame), dtype=np.int64)
    else:
        seconds = to_number(table, timestamp, what="timestamp") / timestamp_divisor
        check_range(table, seconds, "timestamp (seconds)", *TIMESTAMP_RANGE,
                    raw=frame[timestamp])
        out["timestamp"] = np.floor(seconds.to_numpy()).astype(np.int64)
    check_known(table, out["item_id"], item_ids, "item", items_where)
    check_unique(table, ["user_id", "item_id"], "rating for (user, item)", frame=out)
    return out


def _name(column: str | int) -> str:
    return f"field {column + 1}" if isinstance(column, (int, np.integer)) else f"{column}"
