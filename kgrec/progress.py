"""Progress output: a tqdm bar with an ETA on a terminal, one line per stage otherwise.

On a terminal the long loops (text encoding, training epochs, downloads, batch
recommendation) draw tqdm bars (``disable=None``: tqdm itself turns them off when the
stream is not a TTY). In a log file or a pipe a bar would be thousands of ``\\r`` redraws;
there each stage instead prints one line on stderr when it ends::

    kgrec: text: 4.2 s, peak RSS 812 MB (1,102 texts)

Peak RSS is the process's high-water mark so far (``getrusage``), so a stage's figure
includes the stages before it; the largest figure is the run's peak.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

__all__ = ["on_terminal", "peak_rss_mb", "stage", "stage_line"]


def on_terminal(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (default ``sys.stderr``) is a terminal, where bars are drawn."""
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or file-like without isatty
        return False


def peak_rss_mb() -> float:
    """The process's peak resident set size so far, in MiB (``nan`` where unknown)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return float("nan")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024  # bytes / KiB


def stage_line(name: str, seconds: float, detail: str = "", *,
               stream: TextIO | None = None) -> None:
    """Print ``kgrec: <name>: <seconds> s, peak RSS <MB> MB (<detail>)`` on ``stream``
    (default stderr)."""
    extra = f" ({detail})" if detail else ""
    print(f"kgrec: {name}: {seconds:.1f} s, peak RSS {peak_rss_mb():,.0f} MB{extra}",
          file=sys.stderr if stream is None else stream, flush=True)


@contextmanager
def stage(name: str, enabled: bool = True, *, detail: str = "") -> Iterator[dict]:
    """Time the block and, when ``enabled``, stderr is not a terminal and this is rank 0
    of a distributed run (or a single process), print its :func:`stage_line`.

    Yields a dict whose ``"detail"`` key the block may set (e.g. a count known only at
    the end). Nothing is printed when the block raises.
    """
    info = {"detail": detail}
    start = time.perf_counter()
    yield info
    if enabled and not on_terminal():
        from kgrec.distributed import is_primary

        if is_primary():
            stage_line(name, time.perf_counter() - start, info["detail"])
