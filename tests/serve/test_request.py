"""Argument checks at the facade boundary: k, liked, query."""

import pytest

from kgrec.serve.request import Request, check_k, query_text, titles


@pytest.mark.parametrize("k", [0, -3, 1.0, "5", True, None])
def test_check_k_refuses_non_positive_or_non_int(k):
    with pytest.raises(ValueError, match="k must be a positive integer"):
        check_k(k)


def test_check_k_accepts_ints():
    import numpy as np

    assert check_k(3) == 3 and check_k(np.int64(2)) == 2


def test_titles_one_string_is_one_title():
    assert titles("Heat") == ["Heat"]
    assert titles(("Heat", "Casino")) == ["Heat", "Casino"]
    assert titles(None) == []
    with pytest.raises(TypeError, match=r"liked\[0\] must be a title"):
        titles([b"Heat"])
    with pytest.raises(TypeError, match="liked must be a title or a list"):
        titles(7)


def test_query_text():
    assert query_text(None) is None and query_text("crime") == "crime"
    with pytest.raises(ValueError, match="query is empty"):
        query_text("   ")
    with pytest.raises(TypeError, match="query must be a string"):
        query_text(["crime"])


def test_anchors_are_liked_then_named_without_repeats():
    assert Request(None, liked=(3, 5), named=(5, 9)).anchors == [3, 5, 9]
    assert Request(None).query_entities == []
