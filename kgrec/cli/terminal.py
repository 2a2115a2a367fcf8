"""Text for the terminal: control characters taken from data are shown escaped.

Titles, names and explanation sentences come from files anyone can write; printed raw, an
``ESC [ ...`` sequence in a title could recolour, move the cursor or retitle the terminal,
and a bidirectional override could reorder what is shown. :func:`printable` replaces every
control character (Unicode category ``Cc``: C0, DEL, C1; plus the line and paragraph
separators and the bidirectional embedding, override and isolate marks) by an escape.
"""

from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str, *, json: bool = False) -> str:
    """``text`` with its control characters escaped: ``\\x1b`` for code points below 256,
    ``\\u202e`` above (``json=True``: ``\\u001b`` throughout, valid inside a JSON string;
    use it on the output of ``json.dumps``, which escapes C0 itself but not DEL, C1 or
    the marks above)."""
    def escape(match: re.Match[str]) -> str:
        code = ord(match.group())
        return f"\\u{code:04x}" if json or code > 0xFF else f"\\x{code:02x}"

    return _CONTROL.sub(escape, text)

