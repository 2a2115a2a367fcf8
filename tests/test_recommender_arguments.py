"""Issue 14's cases about the Recommender's arguments and concurrency (fixed by the
architecture issue, 9): a string where a list is expected is read as one item or refused
naming the argument, a negative k is refused, concurrent calls equal serial calls."""

from __future__ import annotations

import threading

import pytest

def same_or_refused(call_bad, call_good, argument: str) -> None:
    """``call_bad`` either means what ``call_good`` means or raises an error naming
    ``argument``."""
    try:
        bad = call_bad()
    except (TypeError, ValueError, KeyError) as exc:
        assert argument in str(exc)
        return
    assert [r.item_id for r in bad] == [r.item_id for r in call_good()]


def test_liked_as_a_string(hostile_recommender):
    rec, _ = hostile_recommender
    same_or_refused(lambda: rec.recommend(liked="movie:2", k=3),
                    lambda: rec.recommend(liked=["movie:2"], k=3), "liked")


def test_exclude_filter_as_a_string(hostile_recommender):
    rec, _ = hostile_recommender
    same_or_refused(lambda: rec.recommend("u0", k=8, filters={"exclude": "123"}),
                    lambda: rec.recommend("u0", k=8, filters={"exclude": ["123"]}), "exclude")


def test_genres_filter_as_a_string(hostile_recommender):
    rec, _ = hostile_recommender
    genre = "Crime\tDrama"
    same_or_refused(lambda: rec.recommend("u0", k=8, filters={"genres": genre}),
                    lambda: rec.recommend("u0", k=8, filters={"genres": [genre]}), "genres")


def test_recommend_batch_negative_k(hostile_recommender):
    rec, _ = hostile_recommender
    with pytest.raises(ValueError, match=r"\bk\b"):
        rec.recommend_batch(["u0", "u1"], k=-1)


def test_concurrent_calls_equal_serial_calls(hostile_recommender):
    """8 threads × 24 mixed calls on one Recommender give the serial results."""
    rec, _ = hostile_recommender
    calls = [("recommend", ("u0",), {"k": 4}), ("recommend", ("u3",), {"k": 3}),
             ("recommend", (), {"liked": ["movie:2"], "k": 3}),
             ("recommend", ("u1",), {"k": 5, "filters": {"min_year": 1992}}),
             ("recommend", (), {"query": "a crime drama", "k": 3}),
             ("recommend", (), {"query": "movies like nan", "k": 3}),
             ("explain", ("u2", "movie:5"), {})]
    def run(name, args, kwargs):
        out = getattr(rec, name)(*args, **kwargs)
        return [repr(x) for x in out]

    serial = [run(*c) for c in calls]
    results: dict[tuple[int, int], list[str]] = {}
    errors: list[BaseException] = []

    def worker(t: int) -> None:
        try:
            for j in range(24):
                i = (t + j) % len(calls)
                results[(t, j)] = (i, run(*calls[i]))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    differing = [(key, i) for key, (i, out) in results.items() if out != serial[i]]
    assert not differing, f"{len(differing)} of {len(results)} results differ from serial"
