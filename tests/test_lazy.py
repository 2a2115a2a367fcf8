"""kgrec.lazy.built_once: one build under concurrent first access, then a plain read."""

import threading
import time
from dataclasses import dataclass

import pytest

from kgrec.lazy import built_once, is_built


class Index:
    def __init__(self):
        self.builds = 0

    @built_once
    def table(self) -> list[int]:
        """A slow build."""
        self.builds += 1
        time.sleep(0.05)  # wide window for a second thread to race in
        return [self.builds]


def test_concurrent_first_access_builds_once_and_shares_the_value():
    index = Index()
    start = threading.Barrier(8)
    got = []

    def reader():
        start.wait()
        got.append(index.table)

    threads = [threading.Thread(target=reader) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert index.builds == 1 and len(got) == 8 and all(g is got[0] for g in got)
    assert is_built(index, "table") and index.table is got[0]
    assert Index.table.__doc__ == "A slow build." and not is_built(Index(), "table")


def test_a_failed_build_is_retried_and_frozen_dataclasses_work():
    class Flaky:
        calls = 0

        @built_once
        def value(self) -> int:
            Flaky.calls += 1
            if Flaky.calls == 1:
                raise RuntimeError("first try fails")
            return 42

    flaky = Flaky()
    with pytest.raises(RuntimeError, match="first try"):
        flaky.value
    assert flaky.value == 42 and Flaky.calls == 2

    @dataclass(frozen=True)
    class Frozen:
        x: int

        @built_once
        def double(self) -> int:
            return 2 * self.x

    assert Frozen(4).double == 8
