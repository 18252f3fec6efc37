"""Step 3 of a render: text segments as drawtext and drawbox filters over the picture.

Titles and captions are wrapped and faded in and out; leaderboards (``kind`` ``leaderboard``,
or text segments with ``rows``) are drawn as a panel. Sizes, margins and positions follow
the canvas: font sizes scale with its short side (so a 1080x1920 story gets the same type
size as a 1920x1080 video), positions are fractions of its width and height. Text with
Chinese, Japanese or Korean characters is drawn with the CJK font (a leaderboard with any
such name uses it for the whole panel). Text goes to ffmpeg through files, so no escaping
is needed; without a font file no text is drawn.
"""

from __future__ import annotations

import logging
import re
import textwrap
import unicodedata
from pathlib import Path
from typing import Any

from emulator.media import filter_escape
from emulator.media.fonts import has_cjk
from emulator.render.timeline import TextSeg

log = logging.getLogger(__name__)

__all__ = ["TextOverlays", "overlay_filters"]


class TextOverlays:
    """Builds drawtext/drawbox filters; text goes through files (no escaping pitfalls).

    Args:
        tmpdir: Folder for the text files (must outlive the ffmpeg run).
        w: Frame (canvas) width in pixels.
        h: Frame (canvas) height in pixels.
        font: TrueType font file for Latin text; ``None``: no Latin font.
        cjk_font: Font file with CJK glyphs, for text with CJK characters; ``None``: such
            text is drawn with ``font`` (empty boxes). Without either font no text is drawn
            (leaderboard boxes still are).
    """

    def __init__(self, tmpdir: Path, w: int, h: int, font: Path | None, *, cjk_font: Path | None = None) -> None:
        self.tmpdir = tmpdir
        self.w, self.h = w, h
        #: The canvas's short side: the unit of font sizes.
        self.unit = min(w, h)
        self.font = font
        self.cjk_font = cjk_font
        self._n = 0
        self._warned_cjk = False
        if self.font is None and self.cjk_font is None:
            log.warning("no font file found: rendering without text")

    def font_for(self, text: str) -> Path | None:
        """The font for ``text``: the CJK font when it has CJK characters, else the Latin
        font (each falling back to the other)."""
        if has_cjk(text):
            if self.cjk_font is None and self.font is not None and not self._warned_cjk:
                self._warned_cjk = True
                log.warning("no CJK font: %r and other CJK text render as empty boxes", text[:40])
            return self.cjk_font or self.font
        return self.font or self.cjk_font

    def _file(self, text: str) -> str:
        self._n += 1
        p = self.tmpdir / f"text{self._n}.txt"
        p.write_text(text, encoding="utf-8")
        return filter_escape(str(p))

    def drawtext(
        self, text: str, *, size: int, x: str, y: str, enable: str, extra: str = "", font: Path | None = None
    ) -> str | None:
        """One drawtext filter (``x``/``y``/``enable`` are ffmpeg expressions), or ``None``
        without a font or for blank text.

        ``font`` overrides the choice of :meth:`font_for`.
        """
        font = font or self.font_for(text)
        if font is None or not text.strip():
            return None
        opts = [
            f"fontfile={filter_escape(str(font))}",
            f"textfile={self._file(text)}",
            "expansion=none",
            f"fontsize={size}",
            f"x='{x}'",
            f"y='{y}'",
            f"enable='{enable}'",
        ]
        if extra:
            opts.append(extra)
        return "drawtext=" + ":".join(opts)

    def title(self, seg: dict[str, Any], a: float, b: float) -> list[str]:
        """A title or caption (``kind`` ``caption``) shown from ``a`` to ``b`` seconds.

        Up to 4 wrapped lines (6 on a portrait canvas) at ``pos`` (``center``; captions
        ``bottom``), fading in and out; the type size follows the canvas's short side.
        """
        kind = str(seg.get("kind") or "title").lower()
        text = str(seg.get("txt") if seg.get("txt") is not None else seg.get("n") or "")
        caption = kind == "caption"
        size = round(self.unit / (18 if caption else 11))
        pos = str(seg.get("pos") or ("bottom" if caption else "center")).lower()
        max_chars = max(8, int(self.w * 0.86 / (size * 0.56)))
        lines: list[str] = []
        for para in text.splitlines() or [""]:
            lines.extend(_wrap(para, max_chars))
        lines = lines[: 4 if self.w >= self.h else 6]
        margin = round(self.h * 0.08)
        x = {"left": f"{round(self.w * 0.05)}", "right": f"w-text_w-{round(self.w * 0.05)}"}.get(pos, "(w-text_w)/2")
        y = {"top": f"{margin}", "bottom": f"h-text_h-{margin}"}.get(pos, "(h-text_h)/2")
        f = min(0.3, (b - a) / 4)
        alpha = f"max(0,min(1,min((t-{a:.3f})/{f:.3f},({b:.3f}-t)/{f:.3f})))" if f > 0.05 else "1"
        extra = (
            f"fontcolor=white:box=1:boxcolor=black@0.45:boxborderw={round(size * 0.35)}:"
            f"shadowcolor=black@0.7:shadowx=2:shadowy=2:line_spacing={round(size * 0.2)}:"
            f"text_align=C:alpha='{alpha}'"
        )
        f_ = self.drawtext("\n".join(lines), size=size, x=x, y=y, enable=_between(a, b), extra=extra)
        return [f_] if f_ else []

    def leaderboard(self, seg: dict[str, Any], a: float, b: float) -> list[str]:
        """A leaderboard panel (header ``txt``, then ``rows`` of rank, name, score) from ``a``
        to ``b`` seconds, at ``pos`` (default ``right``); rows that do not fit are dropped."""
        w, h, unit = self.w, self.h, self.unit
        header = str(seg.get("txt") or seg.get("n") or "Leaderboard")
        rows = [r for r in (seg.get("rows") or []) if isinstance(r, dict)]
        pos = str(seg.get("pos") or "right").lower()
        hs = max(10, round(unit / 20))  # header font size
        rs = max(8, round(unit / 28))  # row font size
        pad = max(4, round(unit / 40))
        lh = round(rs * 1.6)
        hh = round(hs * 1.7)
        margin = round(unit * 0.04)
        # a third of a landscape frame; on a narrow (portrait) canvas still room for ~24 characters
        pw = max(round(w * 0.32), round(rs * 0.56 * 24) + 2 * pad)
        pw = min(pw, w - 2 * margin)
        names = " ".join(str(r.get("name") or "") for r in rows)
        font = self.font_for(f"{header} {names}")  # one font for the whole panel
        max_rows = max(0, (h - 2 * margin - 2 * pad - hh) // lh)
        rows = rows[:max_rows]
        ph = pad + hh + len(rows) * lh + pad
        px = {"left": margin, "center": (w - pw) // 2, "top": (w - pw) // 2, "bottom": (w - pw) // 2}.get(
            pos, w - pw - margin
        )
        py = {"top": margin, "bottom": h - ph - margin}.get(pos, (h - ph) // 2)
        en = _between(a, b)
        out = [
            f"drawbox=x={px}:y={py}:w={pw}:h={ph}:color=black@0.6:t=fill:enable='{en}'",
            f"drawbox=x={px + pad}:y={py + pad + hh - max(2, hs // 8) - round(hs * 0.15)}:"
            f"w={pw - 2 * pad}:h={max(2, hs // 10)}:color=white@0.5:t=fill:enable='{en}'",
        ]
        char_w = 0.56
        head_chars = max(4, int((pw - 2 * pad) / (hs * char_w)))
        t = self.drawtext(
            _clip(header, head_chars),
            size=hs,
            x=f"{px + pad}",
            y=f"{py + pad}",
            enable=en,
            extra="fontcolor=0xFFD54F:shadowcolor=black@0.8:shadowx=2:shadowy=2",
            font=font,
        )
        if t:
            out.append(t)
        score_chars = 6
        name_chars = max(3, int((pw - 2 * pad) / (rs * char_w)) - score_chars - 1)
        for i, row in enumerate(rows):
            y = py + pad + hh + i * lh + round((lh - rs) / 2)
            rank = row.get("rank", i + 1)
            name = str(row.get("name") if row.get("name") is not None else "")
            score = row.get("score")
            color = "0xFFD54F" if i == 0 else "white"
            left = self.drawtext(
                _clip(f"{rank}. {name}", name_chars),
                size=rs,
                x=f"{px + pad}",
                y=f"{y}",
                enable=en,
                extra=f"fontcolor={color}:shadowcolor=black@0.8:shadowx=1:shadowy=1",
                font=font,
            )
            if left:
                out.append(left)
            if score is not None and not isinstance(score, bool):
                try:
                    score_txt = f"{float(score):.1f}"
                except (TypeError, ValueError):
                    score_txt = str(score)
                right = self.drawtext(
                    score_txt,
                    size=rs,
                    x=f"{px + pw - pad}-text_w",
                    y=f"{y}",
                    enable=en,
                    extra=f"fontcolor={color}:shadowcolor=black@0.8:shadowx=1:shadowy=1",
                    font=font,
                )
                if right:
                    out.append(right)
        return out


def _between(a: float, b: float) -> str:
    return f"between(t,{a:.3f},{b:.3f})"


def _width(text: str) -> int:
    """Width in half-em units: East Asian wide and full-width characters count double."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _clip(text: str, n: int) -> str:
    """Collapses whitespace and cuts ``text`` to ``n`` half-em units, ending with an ellipsis."""
    text = " ".join(text.split())
    if _width(text) <= n:
        return text
    out, used = "", 0
    for ch in text:
        w = _width(ch)
        if used + w > max(1, n - 1):
            break
        out, used = out + ch, used + w
    return out.rstrip() + "\u2026"


def _wrap(para: str, n: int) -> list[str]:
    """Wraps one paragraph to lines of at most ``n`` half-em units."""
    if _width(para) == len(para):
        return textwrap.wrap(para, n) or [""]
    lines: list[str] = []
    cur = ""
    for word in re.split(r"(\s+)", para):
        for ch in [word] if _width(word) <= n else list(word):
            if _width(cur + ch) > n and cur.strip():
                lines.append(cur.strip())
                cur = ch.lstrip()
            else:
                cur += ch
    if cur.strip():
        lines.append(cur.strip())
    return lines or [""]


def overlay_filters(texts: list[TextSeg], total_s: float, overlays: TextOverlays) -> list[str]:
    """The filters drawing every text segment that starts before the end of the output.

    Args:
        texts: The timeline's text segments.
        total_s: Output length in seconds (segments without ``d`` last until then).
        overlays: The filter builder (font, size, text-file folder).

    Returns:
        Filters to chain onto the picture, in segment order.
    """
    out: list[str] = []
    for ts in texts:
        a = ts.st / 1000
        b = (ts.st + ts.d) / 1000 if ts.d else total_s
        if a >= total_s:
            continue
        kind = str(ts.seg.get("kind") or "title").lower()
        if kind == "leaderboard" or (ts.seg.get("rows") and kind not in ("title", "caption")):
            out += overlays.leaderboard(ts.seg, a, b)
        else:
            out += overlays.title(ts.seg, a, b)
    return out
