"""The font files drawtext uses: a Latin font and a CJK font, each from a wheel first.

* Latin (:func:`font_path`): Noto Sans from the ``fontpkg-noto-sans`` wheel, else Debian's
  DejaVu Sans.
* CJK (:func:`cjk_font_path`): Noto Sans SC (Simplified Chinese forms; also covers kana,
  Latin and CJK punctuation, not Hangul) from the ``pylopdf-fonts-zh-cn`` wheel (SIL OFL 1.1,
  ``pylopdf_fonts_zh_cn/NotoSansSC-Regular.otf``, found with :mod:`importlib.resources`),
  else a system font: Debian's ``fonts-noto-cjk`` (``NotoSansCJK-Regular.ttc``; drawtext
  takes its first face, Japanese glyph forms), ``fonts-wqy-microhei``,
  ``fonts-wqy-zenhei`` or ``fonts-droid-fallback``. Without any, Chinese text renders as
  empty boxes (a warning is logged once).

:func:`font_for` picks between them for a piece of text (:func:`has_cjk`).
"""

from __future__ import annotations

import functools
import importlib.resources
import logging
import os
import shutil
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

__all__ = ["cjk_font_path", "font_for", "font_path", "has_cjk"]

_DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
_NOTO_FILE = "NotoSans[wdth,wght].ttf"

#: The CJK font inside the ``pylopdf-fonts-zh-cn`` wheel: (package, file).
_CJK_WHEEL = ("pylopdf_fonts_zh_cn", "NotoSansSC-Regular.otf")
#: System CJK fonts (Debian packages), in order of preference.
_CJK_SYSTEM = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),  # fonts-noto-cjk
    Path("/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf"),
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),  # fonts-wqy-microhei
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),  # fonts-wqy-zenhei
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),  # fonts-droid-fallback
)

#: Code point ranges drawn with the CJK font: CJK radicals, symbols and punctuation, kana,
#: bopomofo, Hangul, enclosed CJK, CJK ideographs (with extensions and compatibility
#: ideographs), CJK compatibility forms and full-width forms.
_CJK_RANGES = (
    (0x1100, 0x11FF),
    (0x2E80, 0x2FDF),
    (0x3000, 0x33FF),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xA960, 0xA97F),
    (0xAC00, 0xD7AF),
    (0xF900, 0xFAFF),
    (0xFE30, 0xFE4F),
    (0xFF00, 0xFFEF),
    (0x20000, 0x3134F),
)


def has_cjk(text: str) -> bool:
    """Whether ``text`` has a Chinese, Japanese or Korean character (or CJK punctuation,
    or a full-width form), which Noto Sans and DejaVu Sans cannot draw."""
    for ch in text:
        cp = ord(ch)
        if cp >= 0x1100 and any(lo <= cp <= hi for lo, hi in _CJK_RANGES):
            return True
    return False


@functools.cache
def _noto_copy() -> Path | None:
    try:
        import fontpkg_noto_sans
    except ImportError:
        return None
    src = Path(fontpkg_noto_sans.__file__).resolve().parent / "files" / _NOTO_FILE
    if not src.is_file():
        return None
    # drawtext's option parser dislikes the brackets in the name: keep a plain-named copy
    cache = Path(tempfile.gettempdir()) / f"nemobot-fonts-{os.getuid() if hasattr(os, 'getuid') else 0}"
    dst = cache / "NotoSans.ttf"
    try:
        size = src.stat().st_size
        if not (dst.is_file() and dst.stat().st_size == size):
            cache.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=cache, suffix=".ttf.part")
            os.close(fd)
            shutil.copyfile(src, tmp)
            os.replace(tmp, dst)
        return dst
    except OSError as e:
        log.warning("cannot copy %s to %s: %s", src, dst, e)
        return None


def font_path() -> Path | None:
    """A TrueType font file drawtext can use, or ``None`` if there is none.

    Prefers Noto Sans from the ``fontpkg-noto-sans`` wheel (copied once to a cache folder
    under the temp dir with a bracket-free name), then Debian's DejaVu Sans.

    Returns:
        Path of the font file, or ``None`` (callers then render without text).
    """
    noto = _noto_copy()
    if noto is not None and noto.is_file():
        return noto
    if _DEJAVU.is_file():
        return _DEJAVU
    return None


@functools.cache
def _cjk_wheel_font() -> Path | None:
    package, name = _CJK_WHEEL
    try:
        res = importlib.resources.files(package) / name
    except (ImportError, TypeError, ValueError):
        return None
    try:
        path = Path(str(res))
    except TypeError:
        return None
    return path if path.is_file() else None


@functools.cache
def _warn_no_cjk_font() -> None:
    log.warning(
        "no CJK font found: Chinese, Japanese and Korean text renders as empty boxes "
        "(pip install pylopdf-fonts-zh-cn, or apt-get install fonts-noto-cjk)"
    )


def cjk_font_path() -> Path | None:
    """A font file with Chinese glyphs drawtext can use, or ``None`` if there is none.

    Prefers Noto Sans SC from the ``pylopdf-fonts-zh-cn`` wheel (the ``demo`` extra), then
    Debian's ``fonts-noto-cjk``, ``fonts-wqy-microhei``, ``fonts-wqy-zenhei`` and
    ``fonts-droid-fallback`` (see the module docstring).

    Returns:
        Path of the font file, or ``None``.
    """
    wheel = _cjk_wheel_font()
    if wheel is not None:
        return wheel
    for path in _CJK_SYSTEM:
        if path.is_file():
            return path
    return None


def font_for(text: str) -> Path | None:
    """The font to draw ``text`` with: :func:`cjk_font_path` when it has CJK characters
    (:func:`has_cjk`) and a CJK font exists, else :func:`font_path` (falling back to the
    CJK font, which has Latin glyphs too, when there is no Latin font).

    Returns:
        Path of the font file, or ``None`` when there is no font at all.
    """
    latin = font_path()
    if has_cjk(text):
        cjk = cjk_font_path()
        if cjk is not None:
            return cjk
        _warn_no_cjk_font()
        return latin
    return latin if latin is not None else cjk_font_path()
