"""Titles printed by ``kgrec recommend`` / ``kgrec explain`` cannot drive the terminal:
control characters are shown escaped."""

from __future__ import annotations

import json
import re

from kgrec.cli import main
from kgrec.cli.terminal import printable

RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def test_printable_escapes_every_control_character():
    assert printable("Red \x1b[31mAlert\x07") == "Red \\x1b[31mAlert\\x07"
    assert printable("a\tb\nc\r\x7f\x9b") == "a\\x09b\\x0ac\\x0d\\x7f\\x9b"
    assert printable("\u202eevil\u2028") == "\\u202eevil\\u2028"
    assert printable("Amélie, 東京物語 ✓") == "Amélie, 東京物語 ✓"
    assert printable('{"t": "\x9b"}', json=True) == '{"t": "\\u009b"}'
    assert json.loads(printable(json.dumps({"t": "\x1b\x9b\u202e"}, ensure_ascii=False),
                                json=True)) == {"t": "\x1b\x9b\u202e"}


def test_recommend_and_explain_print_no_raw_control_characters(hostile_recommender, capsys):
    _, path = hostile_recommender
    assert main(["recommend", "--model", str(path), "--user", "u0", "-k", "8"]) == 0
    text = capsys.readouterr().out
    assert "\\x1b[31mAlert" in text and not RAW_CONTROL.search(text)
    assert main(["recommend", "--model", str(path), "--user", "u0", "-k", "8", "--json"]) == 0
    out = capsys.readouterr().out
    assert not RAW_CONTROL.search(out)
    titles = {r["title"] for r in json.loads(out)["recommendations"]}
    assert titles & {"Red \x1b[31mAlert\x1b[0m\x07", "\u202eevil\u2066", "tab\tand\nnewline\r"}
    assert main(["explain", "--model", str(path), "u0", "5"]) == 0
    text = capsys.readouterr().out
    assert "\\x1b[31mAlert" in text and not RAW_CONTROL.search(text)
    assert main(["explain", "--model", str(path), "u0", "5", "--json"]) == 0
    out = capsys.readouterr().out
    assert not RAW_CONTROL.search(out) and json.loads(out)["title"].startswith("Red \x1b")
