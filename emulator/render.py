"""The emulator's real renderer: a NemoVideo draft in, an MP4 out, with one ffmpeg run.

The draft format is described in ``docs/draft-format.md`` (contract section 4): tracks ``t``
with type ``tt`` (0 video, 1 audio/BGM, 7 text), segments ``sg`` with times in milliseconds.

Timeline model (all lengths are counted in whole frames at :data:`FPS`, audio in samples at
:data:`SAMPLE_RATE`, so picture and sound never drift):

* Video segments play one after another in ``st`` order. A gap between the nominal end of
  one segment and the ``st`` of the next becomes black silence; a segment with ``tr`` is
  blended into the previous one with ``xfade`` (and ``acrossfade``), which shortens the
  total by the transition length.
* Audio segments are placed at their absolute ``st`` and mixed over the clip audio.
* Text segments are drawn between ``st`` and ``st + d`` on the output timeline.
* The output lasts ``draft["d"]`` when given, else until the end of the last segment; the
  picture is padded with black, the sound with silence.
"""

from __future__ import annotations

import logging
import math
import os
import re
import subprocess
import tempfile
import textwrap
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.media import MediaError, MediaInfo, ffmpeg_exe, filter_escape, font_path, probe

log = logging.getLogger(__name__)

__all__ = ["FPS", "SAMPLE_RATE", "RenderError", "RenderResult", "render_draft"]

FPS = 30
SAMPLE_RATE = 48000
_SPF = SAMPLE_RATE // FPS  # audio samples per video frame (1600)
_DEFAULT_W, _DEFAULT_H = 1920, 1080
_MAX_SIDE = 4096

_TT_VIDEO, _TT_AUDIO, _TT_TEXT = 0, 1, 7

#: xfade's transition names (ffmpeg 9), minus ``custom`` which needs an expression.
XFADE_TRANSITIONS = frozenset(
    ["fade", "wipeleft", "wiperight", "wipeup", "wipedown", "slideleft", "slideright", "slideup", "slidedown", "circlecrop", "rectcrop", "distance", "fadeblack", "fadewhite", "radial", "smoothleft", "smoothright", "smoothup", "smoothdown", "circleopen", "circleclose", "vertopen", "vertclose", "horzopen", "horzclose", "dissolve", "pixelize", "diagtl", "diagtr", "diagbl", "diagbr", "hlslice", "hrslice", "vuslice", "vdslice", "hblur", "fadegrays", "wipetl", "wipetr", "wipebl", "wipebr", "squeezeh", "squeezev", "zoomin", "fadefast", "fadeslow", "hlwind", "hrwind", "vuwind", "vdwind", "coverleft", "coverright", "coverup", "coverdown", "revealleft", "revealright", "revealup", "revealdown"]
)
_TRANSITION_ALIASES = {
    "crossfade": "fade",
    "cross": "fade",
    "xfade": "fade",
    "mix": "fade",
    "wipe": "wipeleft",
    "slide": "slideleft",
    "zoom": "zoomin",
    "blur": "hblur",
    "circle": "circleopen",
    "black": "fadeblack",
    "white": "fadewhite",
}


class RenderError(Exception):
    """The draft cannot be rendered: nothing to render, an unknown or broken source, an
    invalid draft, or an ffmpeg failure (then the message ends with ffmpeg's last stderr
    lines)."""


@dataclass(frozen=True)
class RenderResult:
    """A finished render.

    Attributes:
        path: the MP4 file written.
        duration_s: its duration in seconds (as rendered: frames / fps).
        size: its size in bytes.
    """

    path: Path
    duration_s: float
    size: int


# --------------------------------------------------------------------------- draft parsing


@dataclass
class _Source:
    path: Path
    info: MediaInfo


@dataclass
class _MediaSeg:
    st: int  # ms
    d: int  # ms
    ss: int  # ms
    src: _Source
    vol: float
    tr_type: str | None = None
    tr_ms: int = 0
    fi: int = 0  # ms
    fo: int = 0  # ms


@dataclass
class _TextSeg:
    st: int
    d: int | None
    seg: dict[str, Any]


def _num(value: Any, default: float) -> float:
    if isinstance(value, bool) or value is None:
        return default
    try:
        f = float(value)
    except (TypeError, ValueError):
        return default
    return f if math.isfinite(f) else default


def _ms(value: Any, default: int = 0) -> int:
    return int(round(_num(value, default)))


def _frames(ms: float) -> int:
    return int(round(ms * FPS / 1000))


def _even(value: Any, default: int) -> int:
    v = int(_num(value, default))
    v = max(16, min(_MAX_SIDE, v))
    return v - (v % 2)


def _transition(tr: Any) -> tuple[str | None, int]:
    if not isinstance(tr, dict):
        return None, 0
    d = _ms(tr.get("d"), 500)
    if d <= 0:
        return None, 0
    name = str(tr.get("type") or "fade").strip().lower()
    name = _TRANSITION_ALIASES.get(name, name)
    if name not in XFADE_TRANSITIONS:
        log.warning("unknown transition %r, using fade", name)
        name = "fade"
    return name, d


class _Sources:
    """Resolves and probes each ``src`` once."""

    def __init__(self, resolve: Callable[[str], Path]):
        self._resolve = resolve
        self._cache: dict[str, _Source] = {}

    def get(self, src: Any) -> _Source:
        if not isinstance(src, str) or not src:
            raise RenderError(f"segment without a source: {src!r}")
        if src in self._cache:
            return self._cache[src]
        try:
            path = Path(self._resolve(src))
        except (KeyError, FileNotFoundError, LookupError, ValueError, OSError) as e:
            raise RenderError(f"unknown source {src}: {e}") from e
        if not path.is_file():
            raise RenderError(f"unknown source {src}: {path} does not exist")
        try:
            info = probe(path)
        except MediaError as e:
            raise RenderError(f"source {src} is not usable media: {e}") from e
        self._cache[src] = _Source(path, info)
        return self._cache[src]


def _sorted_segments(track: dict[str, Any]) -> list[dict[str, Any]]:
    segs = track.get("sg") or []
    if not isinstance(segs, list):
        return []
    segs = [s for s in segs if isinstance(s, dict)]
    return sorted(segs, key=lambda s: _ms(s.get("st")))


def _media_seg(seg: dict[str, Any], sources: _Sources, *, default_vol: float) -> _MediaSeg | None:
    src = sources.get(seg.get("src"))
    ss = max(0, _ms(seg.get("ss")))
    d = _ms(seg.get("d"), -1)
    if d <= 0 and "d" not in seg:
        # no duration given: the rest of the source
        if src.info.duration_s:
            d = int(src.info.duration_s * 1000) - ss
    if d <= 0:
        log.warning("skipping segment %s: no positive duration", seg.get("id"))
        return None
    if src.info.duration_s and src.info.kind != "image":
        src_ms = int(src.info.duration_s * 1000)
        if ss >= src_ms - 40:
            log.warning(
                "segment %s: in-point %d ms past the source's end; using %d ms", seg.get("id"), ss, max(0, src_ms - d)
            )
            ss = max(0, src_ms - d)
    tr_type, tr_ms = _transition(seg.get("tr"))
    return _MediaSeg(
        st=max(0, _ms(seg.get("st"))),
        d=d,
        ss=ss,
        src=src,
        vol=max(0.0, min(4.0, _num(seg.get("vol"), default_vol))),
        tr_type=tr_type,
        tr_ms=tr_ms,
        fi=max(0, _ms(seg.get("fi"))),
        fo=max(0, _ms(seg.get("fo"))),
    )


# --------------------------------------------------------------------------- graph building


class _Graph:
    def __init__(self) -> None:
        self.inputs: list[list[str]] = []
        self.chains: list[str] = []
        self._n = 0

    def add_input(self, args: list[str]) -> int:
        self.inputs.append(args)
        return len(self.inputs) - 1

    def label(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self._n}"

    def add(self, chain: str) -> None:
        self.chains.append(chain)


def _fit(w: int, h: int) -> str:
    return (
        f"scale={w}:{h}:force_original_aspect_ratio=decrease:force_divisible_by=2,"
        f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1"
    )


def _black(g: _Graph, w: int, h: int, frames: int) -> str:
    lv = g.label("v")
    g.add(
        f"color=c=black:s={w}x{h}:r={FPS}:d={frames / FPS + 1:.4f},"
        f"format=yuv420p,setsar=1,trim=end_frame={frames},setpts=PTS-STARTPTS[{lv}]"
    )
    return lv


def _silence(g: _Graph, frames: int) -> str:
    la = g.label("a")
    g.add(
        f"anullsrc=r={SAMPLE_RATE}:cl=stereo,aformat=sample_fmts=fltp:channel_layouts=stereo,"
        f"atrim=end_sample={frames * _SPF},asetpts=PTS-STARTPTS[{la}]"
    )
    return la


_AFMT = f"aresample={SAMPLE_RATE},aformat=sample_fmts=fltp:sample_rates={SAMPLE_RATE}:channel_layouts=stereo"


def _video_segment(g: _Graph, seg: _MediaSeg, w: int, h: int) -> tuple[str, str, int]:
    """Adds one video-track segment; returns (video label, audio label, frames)."""
    frames = max(1, _frames(seg.d))
    dur = frames / FPS
    info = seg.src.info
    path = str(seg.src.path)
    if info.kind == "image":
        idx = g.add_input(["-loop", "1", "-framerate", str(FPS), "-t", f"{dur + 0.1:.3f}", "-i", path])
    else:
        args = []
        if seg.ss:
            args += ["-ss", f"{seg.ss / 1000:.3f}"]
        idx = g.add_input([*args, "-t", f"{dur + 0.1:.3f}", "-i", path])

    if info.has_video:
        lv = g.label("v")
        g.add(
            f"[{idx}:v:0]setpts=PTS-STARTPTS,{_fit(w, h)},fps={FPS},format=yuv420p,"
            f"tpad=stop_mode=clone:stop={frames},trim=end_frame={frames},setpts=PTS-STARTPTS[{lv}]"
        )
    else:
        lv = _black(g, w, h, frames)

    if info.has_audio and info.kind != "image":
        la = g.label("a")
        g.add(
            f"[{idx}:a:0]asetpts=PTS-STARTPTS,{_AFMT},volume={seg.vol:.3f},"
            f"apad=whole_len={frames * _SPF},atrim=end_sample={frames * _SPF},asetpts=PTS-STARTPTS[{la}]"
        )
    else:
        la = _silence(g, frames)
    return lv, la, frames


def _video_track(g: _Graph, segs: list[_MediaSeg], w: int, h: int) -> tuple[str, str, int] | None:
    """Joins the video segments; returns (video label, audio label, total frames)."""
    cur: tuple[str, str, int] | None = None
    nominal_end = 0  # ms, end of the previous segment on the draft's timeline
    for seg in segs:
        gap = _frames(seg.st - nominal_end)
        if gap > 0:
            gv, ga = _black(g, w, h, gap), _silence(g, gap)
            cur = _concat(g, cur, (gv, ga, gap))
        nominal_end = max(nominal_end, seg.st + seg.d)
        piece = _video_segment(g, seg, w, h)
        if cur is None:
            cur = piece
            continue
        t = min(_frames(seg.tr_ms), cur[2] - 1, piece[2] - 1) if seg.tr_type else 0
        if t >= 1:
            cv, ca, cf = cur
            pv, pa, pf = piece
            lv, la = g.label("v"), g.label("a")
            # concat outputs use a microsecond time base; xfade wants both inputs alike
            g.add(f"[{cv}]settb=1/{FPS}[{cv}t]")
            g.add(f"[{pv}]settb=1/{FPS}[{pv}t]")
            g.add(
                f"[{cv}t][{pv}t]xfade=transition={seg.tr_type}:duration={t / FPS:.6f}:"
                f"offset={(cf - t) / FPS:.6f},trim=end_frame={cf + pf - t}[{lv}]"
            )
            g.add(f"[{ca}][{pa}]acrossfade=ns={t * _SPF}:c1=tri:c2=tri[{la}]")
            cur = (lv, la, cf + pf - t)
        else:
            cur = _concat(g, cur, piece)
    return cur


def _concat(g: _Graph, a: tuple[str, str, int] | None, b: tuple[str, str, int]) -> tuple[str, str, int]:
    if a is None:
        return b
    lv, la = g.label("v"), g.label("a")
    g.add(f"[{a[0]}][{a[1]}][{b[0]}][{b[1]}]concat=n=2:v=1:a=1[{lv}][{la}]")
    return lv, la, a[2] + b[2]


def _music_segment(g: _Graph, seg: _MediaSeg, total_frames: int) -> str | None:
    if not seg.src.info.has_audio:
        log.warning("audio segment source %s has no audio stream; skipped", seg.src.path.name)
        return None
    start = _frames(seg.st)
    if start >= total_frames:
        return None
    frames = min(max(1, _frames(seg.d)), total_frames - start)
    dur = frames / FPS
    args = ["-stream_loop", "-1"]
    if seg.ss:
        args += ["-ss", f"{seg.ss / 1000:.3f}"]
    idx = g.add_input([*args, "-t", f"{dur + 0.1:.3f}", "-i", str(seg.src.path)])
    fi = min(seg.fi / 1000, dur / 2)
    fo = min(seg.fo / 1000, dur / 2)
    chain = (
        f"[{idx}:a:0]asetpts=PTS-STARTPTS,{_AFMT},"
        f"apad=whole_len={frames * _SPF},atrim=end_sample={frames * _SPF},volume={seg.vol:.3f}"
    )
    if fi > 0:
        chain += f",afade=t=in:st=0:d={fi:.3f}"
    if fo > 0:
        chain += f",afade=t=out:st={dur - fo:.3f}:d={fo:.3f}"
    if start > 0:
        chain += f",adelay=delays={start * _SPF}S:all=1"
    la = g.label("m")
    g.add(f"{chain},asetpts=PTS-STARTPTS[{la}]")
    return la


# --------------------------------------------------------------------------- text


class _Text:
    """Builds drawtext/drawbox filters; text goes through files (no escaping pitfalls)."""

    def __init__(self, tmpdir: Path, w: int, h: int):
        self.tmpdir = tmpdir
        self.w, self.h = w, h
        self.font = font_path()
        self._n = 0
        if self.font is None:
            log.warning("no font file found: rendering without text")

    def _file(self, text: str) -> str:
        self._n += 1
        p = self.tmpdir / f"text{self._n}.txt"
        p.write_text(text, encoding="utf-8")
        return filter_escape(str(p))

    def drawtext(self, text: str, *, size: int, x: str, y: str, enable: str, extra: str = "") -> str | None:
        if self.font is None or not text.strip():
            return None
        opts = [
            f"fontfile={filter_escape(str(self.font))}",
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
        kind = str(seg.get("kind") or "title").lower()
        text = str(seg.get("txt") if seg.get("txt") is not None else seg.get("n") or "")
        caption = kind == "caption"
        size = round(self.h / (18 if caption else 11))
        pos = str(seg.get("pos") or ("bottom" if caption else "center")).lower()
        max_chars = max(8, int(self.w * 0.86 / (size * 0.56)))
        lines: list[str] = []
        for para in text.splitlines() or [""]:
            lines.extend(_wrap(para, max_chars))
        lines = lines[:4]
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
        w, h = self.w, self.h
        header = str(seg.get("txt") or seg.get("n") or "Leaderboard")
        rows = [r for r in (seg.get("rows") or []) if isinstance(r, dict)]
        pos = str(seg.get("pos") or "right").lower()
        hs = max(10, round(h / 20))  # header font size
        rs = max(8, round(h / 28))  # row font size
        pad = max(4, round(h / 40))
        lh = round(rs * 1.6)
        hh = round(hs * 1.7)
        margin = round(min(w, h) * 0.04)
        pw = max(round(w * 0.32), 8 * rs)
        pw = min(pw, w - 2 * margin)
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
    lines, cur = [], ""
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


# --------------------------------------------------------------------------- running


def _run(cmd: list[str], total_s: float, progress: Callable[[float], None] | None, stderr_path: Path) -> None:
    """Runs ffmpeg, feeding ``-progress pipe:1`` lines to ``progress``; raises RenderError."""
    with open(stderr_path, "w+b") as err:
        try:
            popen = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, text=True, errors="replace"
            )
        except OSError as e:
            raise RenderError(f"cannot run ffmpeg: {e}") from e
        with popen as proc:
            assert proc.stdout is not None
            try:
                last = 0.0
                for line in proc.stdout:
                    key, _, value = line.strip().partition("=")
                    if key != "out_time_us" or progress is None:
                        continue
                    try:
                        us = int(value)
                    except ValueError:
                        continue  # "N/A" before the first frame
                    pct = max(0.0, min(99.0, us / 1e6 / total_s * 100)) if total_s > 0 else 0.0
                    if pct > last:
                        last = pct
                        progress(round(pct, 1))
                rc = proc.wait()
            except BaseException:
                proc.kill()
                proc.wait()
                raise
        if rc != 0:
            err.seek(0)
            text = err.read().decode("utf-8", "replace")
            tail = "\n".join([ln for ln in text.splitlines() if ln.strip()][-12:])
            raise RenderError(f"ffmpeg failed (exit {rc}):\n{tail}")


def render_draft(
    draft: dict,
    resolve: Callable[[str], Path],
    out_path: Path,
    *,
    progress: Callable[[float], None] | None = None,
    preset: str = "veryfast",
) -> RenderResult:
    """Render a draft to an MP4 with a single ffmpeg run (blocking).

    Output: ``m.width`` x ``m.height`` (default 1920x1080, even sizes, 16-4096 px), 30 fps,
    H.264 yuv420p (CRF 23), AAC 48 kHz stereo, ``+faststart``. The file is written next to
    ``out_path`` first and moved into place when complete.

    Args:
        draft: the draft dict (``docs/draft-format.md``): ``t`` tracks with ``tt`` 0 (video),
            1 (audio) or 7 (text) and segments ``sg`` (times in ms); ``d`` total duration in
            ms (optional); ``m`` metadata with ``width``/``height`` in pixels (optional).
            Other track types are ignored.
        resolve: maps a segment's ``src`` URL to a local file; may raise ``KeyError`` or
            ``FileNotFoundError`` for unknown sources.
        out_path: the MP4 to write (parent folders are created).
        progress: called with the percentage done (0-100, increasing) while ffmpeg runs,
            finally with 100. Runs in the rendering thread; an exception raised by it stops
            ffmpeg and propagates.
        preset: libx264 preset (``ultrafast`` ... ``veryslow``).

    Returns:
        The :class:`RenderResult` (path, duration in seconds, size in bytes).

    Raises:
        RenderError: the draft has no segment to render ("nothing to render"), is malformed,
            names an unknown or undecodable source, or ffmpeg fails (message ends with
            ffmpeg's last stderr lines).
    """
    if not isinstance(draft, dict):
        raise RenderError("invalid draft: not an object")
    tracks = draft.get("t") or []
    if not isinstance(tracks, list):
        raise RenderError("invalid draft: 't' is not a list")
    tracks = [t for t in tracks if isinstance(t, dict)]
    if not any(_sorted_segments(t) for t in tracks):
        raise RenderError("nothing to render")

    meta = draft.get("m") if isinstance(draft.get("m"), dict) else {}
    w = _even(meta.get("width"), _DEFAULT_W)
    h = _even(meta.get("height"), _DEFAULT_H)

    sources = _Sources(resolve)
    video: list[_MediaSeg] = []
    audio: list[_MediaSeg] = []
    texts: list[_TextSeg] = []
    for track in tracks:
        tt = track.get("tt")
        for seg in _sorted_segments(track):
            if tt == _TT_VIDEO:
                m = _media_seg(seg, sources, default_vol=1.0)
                if m:
                    video.append(m)
            elif tt == _TT_AUDIO:
                m = _media_seg(seg, sources, default_vol=0.35)
                if m:
                    audio.append(m)
            elif tt == _TT_TEXT:
                d = _ms(seg.get("d"), -1)
                texts.append(_TextSeg(st=max(0, _ms(seg.get("st"))), d=d if d > 0 else None, seg=seg))
            else:
                log.debug("ignoring track type %r", tt)
    video.sort(key=lambda s: s.st)
    if not video and not audio and not texts:
        raise RenderError("nothing to render")

    g = _Graph()
    joined = _video_track(g, video, w, h) if video else None
    video_frames = joined[2] if joined else 0

    draft_d = _ms(draft.get("d"), -1)
    if draft_d > 0:
        total = max(1, _frames(draft_d))
    else:
        ends = [video_frames]
        ends += [_frames(s.st + s.d) for s in audio]
        ends += [_frames(t.st + t.d) for t in texts if t.d]
        total = max(ends)
        if total <= 0:
            total = max([_frames(t.st) + 3 * FPS for t in texts] or [3 * FPS])
    total_s = total / FPS

    # picture base, padded/trimmed to the total
    if joined:
        vb = g.label("v")
        chain = f"[{joined[0]}]"
        if video_frames < total:
            chain += f"tpad=stop_mode=add:stop={total - video_frames}:color=black,"
        g.add(f"{chain}trim=end_frame={total},setpts=PTS-STARTPTS[{vb}]")
        ab = g.label("a")
        g.add(f"[{joined[1]}]apad=whole_len={total * _SPF},atrim=end_sample={total * _SPF},asetpts=PTS-STARTPTS[{ab}]")
    else:
        vb = _black(g, w, h, total)
        ab = _silence(g, total)

    # music
    mixes = [lbl for s in audio if (lbl := _music_segment(g, s, total))]
    if mixes:
        aout = g.label("aout")
        ins = "".join(f"[{x}]" for x in [ab, *mixes])
        g.add(
            f"{ins}amix=inputs={1 + len(mixes)}:duration=first:dropout_transition=0:normalize=0,"
            f"atrim=end_sample={total * _SPF}[{aout}]"
        )
    else:
        aout = ab

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nemobot-render-") as tmp:
        tmpdir = Path(tmp)
        text = _Text(tmpdir, w, h)
        overlay: list[str] = []
        for ts in texts:
            a = ts.st / 1000
            b = (ts.st + ts.d) / 1000 if ts.d else total_s
            if a >= total_s:
                continue
            kind = str(ts.seg.get("kind") or "title").lower()
            if kind == "leaderboard" or (ts.seg.get("rows") and kind not in ("title", "caption")):
                overlay += text.leaderboard(ts.seg, a, b)
            else:
                overlay += text.title(ts.seg, a, b)
        vout = g.label("vout")
        g.add(f"[{vb}]{','.join([*overlay, 'format=yuv420p'])}[{vout}]")

        part = out_path.with_name(out_path.name + ".part")
        try:
            exe = ffmpeg_exe()
        except MediaError as e:
            raise RenderError(str(e)) from e
        cmd = [exe, "-hide_banner", "-nostdin", "-y", "-loglevel", "error"]
        for args in g.inputs:
            cmd += args
        cmd += [
            "-filter_complex", ";".join(g.chains),
            "-map", f"[{vout}]", "-map", f"[{aout}]",
            "-c:v", "libx264", "-preset", preset, "-crf", "23", "-pix_fmt", "yuv420p",
            "-r", str(FPS), "-threads", "2",
            "-c:a", "aac", "-b:a", "160k", "-ar", str(SAMPLE_RATE), "-ac", "2",
            "-t", f"{total_s:.3f}", "-movflags", "+faststart",
            "-progress", "pipe:1", "-nostats", "-f", "mp4", str(part),
        ]  # fmt: skip
        log.debug("ffmpeg %s", " ".join(cmd))
        if progress is not None:
            progress(0.0)
        try:
            _run(cmd, total_s, progress, tmpdir / "stderr.txt")
            os.replace(part, out_path)
        finally:
            part.unlink(missing_ok=True)

    if progress is not None:
        progress(100.0)
    return RenderResult(path=out_path, duration_s=round(total_s, 3), size=out_path.stat().st_size)
