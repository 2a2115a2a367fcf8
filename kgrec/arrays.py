"""Small numpy helpers for the index structures built when a model loads.

``np.unique`` of numpy 2.3+ finds distinct values with a hash table, which on a million
int64 keys costs ~100x a sort (measured 0.64 s against 5 ms); :func:`sorted_unique` is the
sort-based equivalent for the large arrays built at load time.
"""

from __future__ import annotations

import numpy as np

__all__ = ["row_pointer", "sorted_unique"]


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """The distinct values of a 1-D array, ascending (``np.unique(values)``, by sorting)."""
    out = np.sort(np.asarray(values).ravel())
    if out.size < 2:
        return out
    keep = np.empty(out.size, dtype=bool)
    keep[0] = True
    np.not_equal(out[1:], out[:-1], out=keep[1:])
    return out[keep]


def row_pointer(rows: np.ndarray, n_rows: int) -> np.ndarray:
    """CSR row pointer ``int64 [n_rows + 1]`` of grouped (e.g. sorted) row numbers."""
    ptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(np.asarray(rows, dtype=np.int64), minlength=n_rows), out=ptr[1:])
    return ptr
