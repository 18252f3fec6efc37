"""Cleaning what strangers send before it is shown, stored or put in a header.

File names come from chat users and end up in replies, logs and multipart headers;
terminal output must not carry escape sequences that move the cursor or retitle the
window. Both are cleaned here, in one place.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath

MAX_FILENAME_CHARS = 100
"""File names are cut to this many characters, extension kept (issue 10)."""

_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
"""CSI (``ESC [ ... final``), OSC (``ESC ] ... BEL/ST``) and two-character escape sequences."""


DRAWN_FORMAT_CHARS = frozenset("\u0600\u0601\u0602\u0603\u0604\u0605\u06dd\u070f\u0890\u0891\u08e2\U000110bd\U000110cd")
"""Format (Cf) characters that are drawn (Arabic number signs and the like): not invisible."""


BLANK_LETTERS = frozenset("\u034f\u115f\u1160\u3164\uffa0")
"""Characters that are not format characters but show nothing (the combining grapheme joiner,
Hangul fillers)."""


def strip_invisible(text: str) -> str:
    """``text`` without invisible characters: format characters (Unicode Cf: zero-width, bidi
    controls, tags) except drawn ones, and :data:`BLANK_LETTERS`."""
    return "".join(
        ch for ch in text if ch not in BLANK_LETTERS and (ch in DRAWN_FORMAT_CHARS or unicodedata.category(ch) != "Cf")
    )


def _visible(ch: str, keep: str = "") -> bool:
    """False for control (Cc), format (Cf: zero-width, bidi overrides), surrogate and unassigned characters."""
    return ch in keep or unicodedata.category(ch) not in {"Cc", "Cf", "Cs", "Co", "Cn"}


def clean_filename(name: str, limit: int = MAX_FILENAME_CHARS) -> str:
    """A file name safe to show and to send: no path, no control or invisible characters, at most ``limit`` chars.

    The extension (up to 10 characters) is kept when the name is cut; an empty result is
    ``file``.

    Args:
        name: The name as the platform or the user gave it.
        limit: Longest result, in characters (at least 16).

    Returns:
        The cleaned name, e.g. ``"clip\\r\\n.mp4"`` -> ``"clip.mp4"``.
    """
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch if _visible(ch) else "" for ch in base)
    base = re.sub(r"\s+", " ", base).strip(" .") or "file"
    if len(base) <= limit:
        return base
    suffix = PurePosixPath(base).suffix
    if not suffix or len(suffix) > 10:
        suffix = ""
    return base[: limit - len(suffix) - 1].rstrip() + "…" + suffix


def clean_line(text: str) -> str:
    """``text`` as one line to show (a title): no control or invisible characters, whitespace collapsed."""
    return re.sub(r"\s+", " ", "".join(ch if _visible(ch) else " " for ch in text)).strip()


def clean_terminal(text: str) -> str:
    """``text`` without escape sequences or control characters (newlines and tabs kept), for a terminal."""
    text = _ANSI.sub("", text)
    return "".join(ch if _visible(ch, "\n\t") else "" for ch in text.replace("\r\n", "\n"))
