"""Read-only attributes built on first use, once, safely under concurrent requests.

A fitted recommender holds indexes that only some requests need (the title parser of
liked titles and queries, the item-side graph of long explanation paths). Building them
when the model loads makes every load pay for them; :class:`built_once` builds each on
first access instead. A server runs requests from a thread pool, so two requests may
touch a missing index at the same moment: the first builds it under a lock while the
others wait, and every caller gets the same object (``functools.cached_property`` no
longer locks since Python 3.12, so it could build twice).

    class Scorer:
        @built_once
        def parser(self) -> QueryParser:
            return QueryParser(self.kg)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

_T = TypeVar("_T")

__all__ = ["built_once", "is_built"]


class built_once(Generic[_T]):  # noqa: N801 - used as a decorator, like property
    """Decorator: the method's result becomes the attribute's value on first access
    (stored in the instance's ``__dict__``, so later reads cost a dict lookup). Builds are
    serialised by one re-entrant lock per attribute; a build that raises stores nothing
    (the next access tries again). Works on frozen dataclasses (``__dict__`` is written
    directly); not on classes with ``__slots__``."""

    def __init__(self, build: Callable[[Any], _T]):
        self.build = build
        self.name = build.__name__
        self.__doc__ = build.__doc__
        self._lock = threading.RLock()

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> built_once[_T]: ...

    @overload
    def __get__(self, obj: object, owner: type | None = None) -> _T: ...

    def __get__(self, obj: object | None, owner: type | None = None) -> Any:
        if obj is None:
            return self
        values = obj.__dict__
        if self.name in values:
            return values[self.name]
        with self._lock:
            if self.name not in values:  # another thread may have built it meanwhile
                values[self.name] = self.build(obj)
            return values[self.name]


def is_built(obj: object, name: str) -> bool:
    """Whether the :class:`built_once` attribute ``name`` of ``obj`` has been built."""
    return name in obj.__dict__
