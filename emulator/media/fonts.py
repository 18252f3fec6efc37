"""The font file drawtext uses: Noto Sans from its wheel, else Debian's DejaVu Sans."""

from __future__ import annotations

import functools
import logging
import os
import shutil
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

__all__ = ["font_path"]

_DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
_NOTO_FILE = "NotoSans[wdth,wght].ttf"


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
