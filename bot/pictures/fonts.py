"""The font pictures draw with: Noto Sans SC from the ``pylopdf-fonts-zh-cn`` wheel.

Noto Sans SC (SIL OFL 1.1, ``pylopdf_fonts_zh_cn/NotoSansSC-Regular.otf``, found with
:mod:`importlib.resources`) has Latin, Greek, Cyrillic, Chinese and kana glyphs, so one face
draws every label in English and Chinese. Without the wheel, :func:`font` falls back to
Pillow's own font (``ImageFont.load_default``: Latin only) and logs one warning; characters
it lacks are then left out by :func:`drawable` rather than drawn as empty boxes (the
timeline picture then shows its own words in English).

Fonts are loaded once per size and shared. FreeType faces are not safe to use from two
threads at once, so hold :data:`lock` while measuring or drawing with them (pictures may be
drawn in worker threads).
"""

from __future__ import annotations

import functools
import importlib.resources
import logging
import threading
import unicodedata
from pathlib import Path
from typing import TypeAlias

from PIL import ImageFont

log = logging.getLogger(__name__)

__all__ = ["Font", "drawable", "font", "font_file", "lock"]

Font: TypeAlias = ImageFont.FreeTypeFont | ImageFont.ImageFont
"""A font :mod:`PIL.ImageDraw` draws with: the wheel's FreeType face, or Pillow's fallback."""

#: The font inside the ``pylopdf-fonts-zh-cn`` wheel: (package, file).
FONT_RESOURCE = ("pylopdf_fonts_zh_cn", "NotoSansSC-Regular.otf")

lock = threading.RLock()
"""Held while a shared font measures or draws text (FreeType faces are not thread-safe)."""

_NOT_A_GLYPH = "\U0010fffd"  # a private-use code point no font maps: its mask is the .notdef box
_GLYPH_CACHE_SIZE = 16384
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


@functools.cache
def font_file() -> Path | None:
    """The Noto Sans SC file from the ``pylopdf-fonts-zh-cn`` wheel, or ``None`` without it.

    Returns:
        The path of the ``.otf`` file (read by FreeType on demand, never copied).
    """
    package, name = FONT_RESOURCE
    try:
        path = Path(str(importlib.resources.files(package) / name))
    except (ImportError, TypeError, ValueError):
        return None
    return path if path.is_file() else None


@functools.cache
def _warn_fallback(reason: str) -> None:
    log.warning(
        "pictures draw with Pillow's default font (%s): no Chinese in pictures (pip install pylopdf-fonts-zh-cn)",
        reason,
    )


@functools.cache
def font(size: int) -> Font:
    """The picture font at ``size`` px (the em size), loaded once per size.

    Args:
        size: Em size in px, 6-200 (clamped).

    Returns:
        Noto Sans SC, or Pillow's default font (one warning logged) when the wheel is missing
        or its file cannot be read.
    """
    size = max(6, min(200, int(size)))
    path = font_file()
    if path is not None:
        try:
            return ImageFont.truetype(str(path), size)
        except OSError as exc:
            _warn_fallback(f"cannot read {path}: {exc}")
    else:
        _warn_fallback(f"no {FONT_RESOURCE[0]} wheel")
    return ImageFont.load_default(size)


def _mask(face: Font, text: str) -> tuple[tuple[int, int], bytes] | None:
    """The rendered mask of ``text`` as (size, bytes), or ``None`` if the font cannot render it."""
    try:
        with lock:
            mask = face.getmask(text)
            return mask.size, bytes(mask)
    except (OSError, RuntimeError, ValueError, UnicodeError):
        return None


@functools.lru_cache(maxsize=_GLYPH_CACHE_SIZE)
def _has_glyph(face: Font, char: str) -> bool:
    """Whether ``face`` draws ``char`` with a glyph of its own (not the .notdef box).

    A combining mark is tried after an ``x`` (alone, a shaper draws it on a dotted circle).
    """
    combining = unicodedata.category(char) in {"Mn", "Me"}
    prefix = "x" if combining else ""
    mine = _mask(face, prefix + char)
    return mine is not None and mine != _mask(face, prefix + _NOT_A_GLYPH)


def drawable(text: str, face: Font) -> str:
    """``text`` reduced to what ``face`` can draw, on one line.

    Whitespace runs become one space; control, format (zero-width joiners, direction marks),
    surrogate, private-use and unassigned characters, variation selectors and characters the
    font has no glyph for (emoji, scripts Noto Sans SC lacks) are dropped, as are combining
    marks left without a base character.

    Args:
        text: Any text (file names, user words).
        face: The font it will be drawn with.

    Returns:
        The drawable text, stripped (may be empty).
    """
    out: list[str] = []
    base = False  # whether the last character kept a glyph a combining mark may sit on
    for char in text:
        if char.isspace():
            if out and out[-1] != " ":
                out.append(" ")
            base = False
            continue
        category = unicodedata.category(char)
        if category in _DROPPED_CATEGORIES or 0xFE00 <= ord(char) <= 0xFE0F or 0xE0100 <= ord(char) <= 0xE01EF:
            continue
        if category in {"Mn", "Me"}:
            if base and _has_glyph(face, char):
                out.append(char)
            continue
        base = _has_glyph(face, char)
        if base:
            out.append(char)
    return "".join(out).strip()
