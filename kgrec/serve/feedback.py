"""Feedback that refines the next list at once: sessions, persistence, scoring.

A :class:`FeedbackSession` holds one person's reactions (a known user, ``"user:7"``, or a
cold-start session, ``"session:abc"``): ``like``, ``dislike``, ``more_like_this`` and
``not_interested`` on movies (bare item ids), in order, with :meth:`FeedbackSession.undo`.
The latest signal on a movie is the one that counts. :class:`FeedbackStore` keeps one
JSON file per session in a folder, replaced atomically on every save.

Effect on a request (:func:`feedback_scores`), with no retraining:

* ``dislike`` / ``not_interested``: the movie never comes back (score ``-inf``);
* ``like``: the movie joins the person's history (the caller adds it to the history it
  scores from) and is not recommended again;
* ``more_like_this`` on movies ``M``: every movie ``i`` gains
  :math:`B_m\\,z(l_i)`, with ``l`` the shared-director/cast/genre similarity to ``M``
  (:meth:`kgrec.serve.intent_scoring.ItemFacts.anchor_similarity`) standardised over the
  catalogue, and is explained by the most telling entity it shares with a movie of ``M``
  ("more like Heat, as you asked: shares the director Michael Mann").
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from kgrec.explain import Explanation
    from kgrec.serve.intent_scoring import ItemFacts

SIGNALS = ("like", "dislike", "more_like_this", "not_interested")
BLOCKING = ("dislike", "not_interested")
FORMAT = 1


@dataclass(frozen=True)
class FeedbackEvent:
    """One reaction: ``item`` (bare item id), ``signal`` (one of :data:`SIGNALS`), ``at``
    (Unix seconds)."""

    item: str
    signal: str
    at: float

    def to_dict(self) -> dict[str, Any]:
        return {"item": self.item, "signal": self.signal, "at": self.at}


@dataclass
class FeedbackSession:
    """One person's reactions, oldest first.

    Args:
        key: ``"user:<id>"`` for a known user, ``"session:<id>"`` for a cold-start session.
        events: reactions so far.
    """

    key: str
    events: list[FeedbackEvent] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key.strip():
            raise ValueError(f"feedback session key must be a non-empty string, got {self.key!r}")

    def add(self, item: str, signal: str, at: float | None = None) -> FeedbackEvent:
        """Record ``signal`` on ``item``.

        Raises:
            ValueError: unknown signal (naming the valid ones).
        """
        if signal not in SIGNALS:
            raise ValueError(f"unknown feedback signal {signal!r}; valid: {list(SIGNALS)}")
        event = FeedbackEvent(str(item), signal, time.time() if at is None else float(at))
        self.events.append(event)
        return event

    def undo(self) -> FeedbackEvent | None:
        """Remove and return the latest reaction (``None`` when there is none)."""
        return self.events.pop() if self.events else None

    def state(self) -> dict[str, str]:
        """Item → its latest signal."""
        out: dict[str, str] = {}
        for e in self.events:
            out[e.item] = e.signal
        return out

    def items(self, *signals: str) -> list[str]:
        """Items whose latest signal is one of ``signals``, in order of that signal."""
        st = self.state()
        return [i for i in dict.fromkeys(e.item for e in self.events) if st[i] in signals]

    @property
    def blocked(self) -> list[str]:
        return self.items(*BLOCKING)

    @property
    def liked(self) -> list[str]:
        return self.items("like", "more_like_this")

    @property
    def more_like(self) -> list[str]:
        return self.items("more_like_this")

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "key": self.key, "events": [e.to_dict() for e in self.events]}

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "feedback") -> FeedbackSession:
        try:
            if data.get("format") != FORMAT:
                raise ValueError(f"format {data.get('format')!r} (expected {FORMAT})")
            events = [FeedbackEvent(str(e["item"]), str(e["signal"]), float(e["at"]))
                      for e in data["events"]]
            bad = [e.signal for e in events if e.signal not in SIGNALS]
            if bad:
                raise ValueError(f"unknown signal {bad[0]!r}")
            return cls(str(data["key"]), events)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"{where}: not a feedback session ({exc})") from None

    def __repr__(self) -> str:
        counts = {s: 0 for s in SIGNALS}
        for s in self.state().values():
            counts[s] += 1
        shown = ", ".join(f"{k}={v}" for k, v in counts.items() if v)
        return f"FeedbackSession({self.key!r}, {shown or 'empty'})"


class FeedbackStore:
    """Sessions persisted as JSON, one file per key in ``folder`` (atomic replacement), or
    kept in memory when ``folder`` is ``None``. Loads return copies, so a request works
    on its own session object; saves are serialised by a lock.

    Args:
        folder: where the files live (created on the first save, not here), or ``None``.
    """

    def __init__(self, folder: str | Path | None = None):
        import threading

        self.folder = None if folder is None else Path(folder)
        self._memory: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def path(self, key: str) -> Path:
        """File of ``key``: its safe characters plus a hash (distinct keys never share)."""
        if self.folder is None:
            raise ValueError("this feedback store is in memory: it has no files")
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", key)[:60]
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]
        return self.folder / f"{safe}.{digest}.json"

    def load(self, key: str) -> FeedbackSession:
        """The stored session of ``key`` (a copy), or a new empty one."""
        if self.folder is None:
            with self._lock:
                data = self._memory.get(key)
            return FeedbackSession(key) if data is None else FeedbackSession.from_dict(data)
        path = self.path(key)
        if not path.is_file():
            return FeedbackSession(key)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ValueError(f"{path}: unreadable feedback file ({exc})") from None
        session = FeedbackSession.from_dict(data, str(path))
        if session.key != key:
            raise ValueError(f"{path}: holds session {session.key!r}, not {key!r}")
        return session

    def save(self, session: FeedbackSession) -> Path | None:
        """Persist ``session``; returns its file (``None`` in memory)."""
        from kgrec.io import atomic_write_text

        with self._lock:
            if self.folder is None:
                self._memory[session.key] = session.to_dict()
                return None
            self.folder.mkdir(parents=True, exist_ok=True)
            return atomic_write_text(self.path(session.key),
                                     json.dumps(session.to_dict(), indent=1))


def apply_feedback(store: FeedbackStore, key: str, item: str | None, signal: str
                   ) -> FeedbackSession:
    """Add ``signal`` on ``item`` (bare item id) to the session ``key`` of ``store``, or
    drop its latest event when ``signal == "undo"``; saves and returns the session."""
    session = store.load(key)
    if signal == "undo":
        session.undo()
    elif item is None:
        raise ValueError(f"feedback signal {signal!r} needs an item")
    else:
        session.add(item, signal)
    store.save(session)
    return session


def _indices(facts: ItemFacts, items: list[str]) -> list[int]:
    out = []
    for i in items:
        ent = i if i.startswith("movie:") else f"movie:{i}"
        if facts.kg.has(ent):
            out.append(facts.kg.index(ent))
    return out


def blocked_indices(session: FeedbackSession, facts: ItemFacts) -> list[int]:
    """Movie indices never to return (disliked, not interested, liked)."""
    return _indices(facts, session.blocked + session.liked)


def feedback_scores(session: FeedbackSession, facts: ItemFacts, *, weight: float = 1.5
                    ) -> np.ndarray:
    """Additive scores ``[num_items]`` from the session (see the module formula); blocked
    and liked movies are ``-inf``."""
    s = np.zeros(facts.n, dtype=np.float64)
    more = _indices(facts, session.more_like)
    if more:
        sim = facts.anchor_similarity(more).astype(np.float64)
        sd = sim.std()
        if sd > 1e-8:
            s += weight * (sim - sim.mean()) / sd
    s[blocked_indices(session, facts)] = -np.inf
    return s


def feedback_explanations(session: FeedbackSession, facts: ItemFacts, item: int
                          ) -> list[Explanation]:
    """Why ``item`` moved up: the best entity it shares with a "more like this" movie."""
    from kgrec.explain import Explanation, PathStep
    from kgrec.explain.render import display_name, role_noun

    kg = facts.kg
    movie = kg.nodes["movie"][item]
    best = None
    for a in _indices(facts, session.more_like):
        shared = facts.best_shared(a, item)
        if shared is None:
            continue
        rel, ent = shared
        value = facts.idf[rel][kg.index(ent)]
        if best is None or value > best[0]:
            best = (value, a, rel, ent)
    if best is None:
        return []
    _, a, rel, ent = best
    anchor = kg.nodes["movie"][a]
    name = display_name(kg, ent)
    noun = role_noun(rel)
    what = f"the {noun} {name}" if name else f"a {noun}"
    path = (PathStep(anchor, rel, ent, True), PathStep(movie, rel, ent, False))
    return [Explanation("", movie, "feedback", path, anchor, ent, 0.95,
                        f"{facts.titles[item]}: more like {facts.titles[a]}, as you asked: "
                        f"shares {what}.")]
