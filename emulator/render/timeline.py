"""Step 1 of a render: read the draft into a :class:`Timeline` of probed segments.

The draft format is described in ``docs/draft-format.md`` (contract section 4): tracks ``t``
with type ``tt`` (0 video, 1 audio/BGM, 7 text), segments ``sg`` with times in milliseconds.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

from emulator.media import MediaError, MediaInfo, probe
from emulator.render.errors import RenderError
from emulator.render.transitions import transition
from emulator.render.units import MAX_SIDE, even, ms, num

log = logging.getLogger(__name__)

__all__ = ["MediaSeg", "Source", "TextSeg", "Timeline", "canvas_size", "collect_inputs"]

_DEFAULT_W, _DEFAULT_H = 1920, 1080
#: Short side of a canvas given only by its aspect ratio (``"9:16"`` -> 1080x1920).
_SHORT_SIDE = 1080
_TT_VIDEO, _TT_AUDIO, _TT_TEXT = 0, 1, 7
_RATIO = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*[:x/]\s*(\d+(?:\.\d+)?)\s*$")


@dataclass
class Source:
    """A segment's source file and what :func:`emulator.media.probe` found in it.

    Attributes:
        path: The local file.
        info: The probe's findings.
        display: The picture's size as shown (sample aspect ratio applied, rotated by its
            display matrix as ffmpeg's autorotation does), or ``None`` without a picture or
            when unknown.
    """

    path: Path
    info: MediaInfo
    display: tuple[int, int] | None = None


def _display_size(path: Path, info: MediaInfo) -> tuple[int, int] | None:
    """The picture size a source shows: for videos, the first frame's size with its sample
    aspect ratio and rotation applied; for images the probed size."""
    if not info.has_video or not info.width or not info.height:
        return None
    if info.kind != "video":
        return info.width, info.height
    try:
        with av.open(str(path)) as c:
            stream = c.streams.video[0]
            frame = next(c.decode(stream))
            w, h = frame.width, frame.height
            sar = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio
            if sar and float(sar) > 0:
                w = round(w * float(sar))
            if int(frame.rotation or 0) % 180:
                w, h = h, w
            return (w, h) if w > 0 and h > 0 else None
    except (av.FFmpegError, StopIteration, ValueError, OSError) as e:
        log.debug("cannot read the display size of %s: %s", path.name, e)
        return info.width, info.height


@dataclass
class MediaSeg:
    """A video or audio segment, times in milliseconds.

    Attributes:
        st: Start on the draft's timeline.
        d: Duration.
        ss: In-point in the source.
        src: The probed source.
        vol: Volume factor (0-4).
        tr_type: xfade transition into this segment (video only), or ``None``.
        tr_ms: The transition's length.
        fi: Fade-in length (audio segments).
        fo: Fade-out length (audio segments).
    """

    st: int
    d: int
    ss: int
    src: Source
    vol: float
    tr_type: str | None = None
    tr_ms: int = 0
    fi: int = 0
    fo: int = 0


@dataclass
class TextSeg:
    """A text segment: start and duration in milliseconds (``d`` ``None``: to the end)."""

    st: int
    d: int | None
    seg: dict[str, Any]


@dataclass(frozen=True)
class Timeline:
    """What a draft asks to render, with every source resolved and probed.

    Attributes:
        width: Output width in pixels (even, 16-4096).
        height: Output height in pixels (even, 16-4096).
        video: Video-track segments in ``st`` order.
        audio: Audio-track segments.
        texts: Text-track segments.
        duration_ms: The draft's ``d`` when positive, else ``None`` (the output then lasts
            until the end of the last segment).
    """

    width: int
    height: int
    video: list[MediaSeg]
    audio: list[MediaSeg]
    texts: list[TextSeg]
    duration_ms: int | None


class _Sources:
    """Resolves and probes each ``src`` once."""

    def __init__(self, resolve: Callable[[str], Path]):
        self._resolve = resolve
        self._cache: dict[str, Source] = {}

    def get(self, src: Any) -> Source:
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
        self._cache[src] = Source(path, info, _display_size(path, info))
        return self._cache[src]


def _sorted_segments(track: dict[str, Any]) -> list[dict[str, Any]]:
    segs = track.get("sg") or []
    if not isinstance(segs, list):
        return []
    segs = [s for s in segs if isinstance(s, dict)]
    return sorted(segs, key=lambda s: ms(s.get("st")))


def _media_seg(seg: dict[str, Any], sources: _Sources, *, default_vol: float) -> MediaSeg | None:
    src = sources.get(seg.get("src"))
    ss = max(0, ms(seg.get("ss")))
    d = ms(seg.get("d"), -1)
    if d <= 0 and "d" not in seg and src.info.duration_s:
        # no duration given: the rest of the source
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
    tr_type, tr_ms = transition(seg.get("tr"))
    return MediaSeg(
        st=max(0, ms(seg.get("st"))),
        d=d,
        ss=ss,
        src=src,
        vol=max(0.0, min(4.0, num(seg.get("vol"), default_vol))),
        tr_type=tr_type,
        tr_ms=tr_ms,
        fi=max(0, ms(seg.get("fi"))),
        fo=max(0, ms(seg.get("fo"))),
    )


def _tracks(draft: Any) -> list[dict[str, Any]]:
    """The draft's track objects; raises RenderError for a malformed draft."""
    if not isinstance(draft, dict):
        raise RenderError("invalid draft: not an object")
    tracks = draft.get("t") or []
    if not isinstance(tracks, list):
        raise RenderError("invalid draft: 't' is not a list")
    return [t for t in tracks if isinstance(t, dict)]


def canvas_size(meta: dict[str, Any]) -> tuple[int, int]:
    """The output size a draft's ``m`` asks for.

    ``m.width`` and ``m.height`` when both are numbers; else an aspect ratio in
    ``m.aspect_ratio`` (or ``m.ratio``) such as ``"9:16"`` with a 1080-pixel short side
    (9:16 -> 1080x1920, 1:1 -> 1080x1080, 16:9 -> 1920x1080); else 1920x1080. Sides are
    even and within 16..4096 pixels.
    """
    w, h = meta.get("width"), meta.get("height")
    if num(w, 0) <= 0 or num(h, 0) <= 0:
        ratio = meta.get("aspect_ratio") or meta.get("ratio") or meta.get("aspectRatio")
        match = _RATIO.match(str(ratio)) if isinstance(ratio, str) else None
        if match and float(match[1]) > 0 and float(match[2]) > 0:
            rw, rh = float(match[1]), float(match[2])
            scale = _SHORT_SIDE / min(rw, rh)
            return even(min(MAX_SIDE, round(rw * scale)), _DEFAULT_W), even(
                min(MAX_SIDE, round(rh * scale)), _DEFAULT_H
            )
    return even(w, _DEFAULT_W), even(h, _DEFAULT_H)


def collect_inputs(draft: dict[str, Any], resolve: Callable[[str], Path]) -> Timeline:
    """Read a draft into a :class:`Timeline`, resolving and probing each source once.

    Video segments get volume 1.0 by default, audio segments 0.35; segments without a
    positive duration are skipped (with a warning), tracks of other types ignored.

    Args:
        draft: The draft (``docs/draft-format.md``).
        resolve: Maps a segment's ``src`` to a local file.

    Returns:
        The timeline: output size (:func:`canvas_size`: ``m.width`` x ``m.height``, else
        from ``m.aspect_ratio``, default 1920x1080) and the segments by kind.

    Raises:
        RenderError: the draft is not an object or ``t`` not a list ("invalid draft"), no
            track has a segment ("nothing to render"), or a source is missing, unknown to
            ``resolve`` or not decodable media.
    """
    tracks = _tracks(draft)
    if not any(_sorted_segments(t) for t in tracks):
        raise RenderError("nothing to render")

    raw_meta = draft.get("m")
    meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
    width, height = canvas_size(meta)

    sources = _Sources(resolve)
    video: list[MediaSeg] = []
    audio: list[MediaSeg] = []
    texts: list[TextSeg] = []
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
                d = ms(seg.get("d"), -1)
                texts.append(TextSeg(st=max(0, ms(seg.get("st"))), d=d if d > 0 else None, seg=seg))
            else:
                log.debug("ignoring track type %r", tt)
    video.sort(key=lambda s: s.st)
    if not video and not audio and not texts:
        raise RenderError("nothing to render")
    draft_d = ms(draft.get("d"), -1)
    return Timeline(width, height, video, audio, texts, draft_d if draft_d > 0 else None)
