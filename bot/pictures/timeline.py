"""The ``/status`` timeline picture: one lane per track, the segments as blocks on a time axis.

Two steps, so tests can check the pixels against the geometry:

* :func:`layout` reads the draft (``docs/draft-format.md``, through the helpers of
  :mod:`bot.nemo.timeline`) and decides everything: the canvas size, every box in px, every
  text localized (:func:`bot.texts.t`) and already fitted to its room.
* :func:`draw` paints a :class:`TimelineLayout` and encodes it as PNG.

:func:`timeline_png` does both (``None`` for an empty draft). Nothing raises on odd drafts:
unknown keys are ignored, missing or non-finite numbers count as 0, negative starts are cut at
0, everything is clamped to :data:`MAX_MS`, at most :data:`MAX_LANES` lanes are drawn (a
"+K more" note counts the rest) and at most :data:`MAX_BLOCKS` segments per lane.

The picture, top to bottom (px; :data:`WIDTH` wide, dark theme)::

    margin 24
    title row 56        "Timeline · 12.3 s" / "时间线 · 12.3 秒"
    one lane per track  84 each: a label column (colour chip + localized track name, 190 wide),
                        then the track area, where each segment is a rounded block
    axis row 44         the time axis: ticks and second labels ("5 s", or "1:30" from 2 min on)
    note row 34         only when lanes are hidden: "+K more track(s) not shown"
    margin 24

A block is a rounded rectangle in its lane's kind colour (:data:`KIND_COLORS`) with its name
(cut with an ellipsis to fit, left out when there is no room) and its duration ("3.2 s"; music
adds its volume) in dark ink. Its left edge, :data:`SAMPLE_W` px wide between the corner arcs
(:attr:`Block.sample`), never carries text: there every pixel is exactly the lane's colour.
Segments that overlap in a lane (captions at the same time) stack in up to
:data:`MAX_SUBROWS` thinner sub-rows with one line of text; a short overlap (a transition
between clips) keeps one row, the earlier block ending where the later one begins.

Every word comes from the catalog (``picture.*`` keys); names keep only the characters the
font can draw (:func:`bot.pictures.fonts.drawable`: no emoji boxes), and without the CJK font
the picture's own words fall back to English.
"""

from __future__ import annotations

import functools
import io
import logging
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw

from bot.nemo.timeline import (
    TrackKind,
    draft_tracks,
    fmt_seconds,
    number,
    segment_name,
    track_kind,
    track_segments,
)
from bot.pictures import fonts
from bot.texts import SOURCE_LANG, t

log = logging.getLogger(__name__)

__all__ = [
    "KIND_COLORS",
    "MAX_BLOCKS",
    "MAX_LANES",
    "Block",
    "Box",
    "Lane",
    "Tick",
    "TimelineLayout",
    "TimelinePicture",
    "draw",
    "layout",
    "timeline_png",
]

RGB = tuple[int, int, int]
Box = tuple[int, int, int, int]
"""``(left, top, right, bottom)`` in px, right and bottom exclusive (a PIL crop box)."""

# ---------------------------------------------------------------- geometry (px)

WIDTH = 1280
"""The picture's width, px."""
MARGIN = 24
TITLE_H = 56
LANE_H = 84
BLOCK_INSET_Y = 10
"""Space between a lane's edge and its blocks, px (blocks are ``LANE_H - 2 * 10`` = 64 px high)."""
LABEL_W = 190
CHIP = 14
AXIS_H = 44
NOTE_H = 34
AXIS_LEFT = MARGIN + LABEL_W + 14
AXIS_RIGHT = WIDTH - MARGIN - 16
RADIUS = 8
GAP = 2
"""Px left empty at a block's right end, so that touching segments stay apart."""
MIN_BLOCK_W = 3
TEXT_PAD_X = 12
MIN_TEXT_W = 18
SAMPLE_W = 6
"""Width of the text-free left edge of every block, px (see :attr:`Block.sample`)."""
NAME_CY, DETAIL_CY = 20, 44
"""Vertical centres of a block's name and duration lines, px below the block's top."""
TWO_LINES_H, ONE_LINE_H = 56, 24
"""Blocks this high (px) get two lines (name, duration), or one (name then duration), else none."""
DETAIL_GAP = 10
MAX_SUBROWS = 3
"""Overlapping segments stack in up to this many sub-rows of a lane (64, 30 or 18 px high)."""
SUBROW_GAP = 4
OVERLAP_SHARE = 0.4
"""Segments overlapping by at most this share of the shorter one (transitions) share a row."""

MAX_LANES = 12
"""At most this many lanes are drawn; the picture is then at most 1190 px high."""
MAX_BLOCKS = 400
"""At most this many segments per lane are read (the first ones in draft order)."""
MAX_MS = 24 * 3600 * 1000
"""Times are clamped to 24 h."""
MAX_TEXT = 300
"""Names are cut to this many characters before they are measured."""
MIN_SPAN_MS = 1000
"""The shortest time axis, ms (a draft whose segments all last 0 ms)."""
TICK_STEPS_MS = (100, 200, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000)
MIN_TICK_GAP = 100
"""The closest two ticks may be, px."""

TITLE_SIZE, LABEL_SIZE, NAME_SIZE, DETAIL_SIZE, TICK_SIZE, NOTE_SIZE = 28, 20, 18, 15, 15, 17
"""Font sizes, px."""

# ---------------------------------------------------------------- colours

BACKGROUND: RGB = (20, 22, 27)
STRIPES: tuple[RGB, RGB] = ((30, 33, 40), (25, 28, 34))
GRID: RGB = (50, 55, 66)
TEXT: RGB = (238, 241, 246)
MUTED: RGB = (152, 160, 174)
INK: RGB = (14, 16, 20)
"""Text on blocks."""

KIND_COLORS: dict[TrackKind, RGB] = {
    "video": (77, 141, 255),
    "music": (46, 196, 120),
    "title": (245, 166, 35),
    "leaderboard": (170, 112, 255),
    "caption": (255, 110, 150),
    "other": (150, 160, 175),
}
"""The fill of the blocks of each track kind: blue, green, amber, violet, pink, grey."""


# ---------------------------------------------------------------- layout types


@dataclass(frozen=True, slots=True)
class Block:
    """One segment drawn as a block.

    Attributes:
        box: The block, px.
        sample: The block's left edge between its corner arcs (``SAMPLE_W`` px wide, or the
            whole width of a narrower block), px: no text, exactly the lane's colour.
        radius: Corner radius, px.
        start_ms: Start on the timeline, ms (clamped to 0..``MAX_MS``).
        duration_ms: Duration, ms (clamped to 0..``MAX_MS``).
        name: The name as drawn (fitted, maybe with an ellipsis); ``""`` when left out.
        detail: The duration (music: and volume) as drawn; ``""`` when left out.
        name_at: Where the name is drawn (``ImageDraw.text``'s ``xy``), px.
        detail_at: Where the detail is drawn, px: below the name in a full-height block,
            after it in a block of a sub-row.
    """

    box: Box
    sample: Box
    radius: int
    start_ms: float
    duration_ms: float
    name: str
    detail: str
    name_at: tuple[int, int]
    detail_at: tuple[int, int]


@dataclass(frozen=True, slots=True)
class Lane:
    """One track drawn as a lane.

    Attributes:
        track_index: The track's index in the draft's ``t``.
        kind: What the track holds (:func:`bot.nemo.timeline.track_kind`).
        label: The localized track name as drawn (``Video`` / ``视频``...).
        color: The blocks' fill (:data:`KIND_COLORS`).
        box: The lane's row across the picture, px.
        label_box: Where the label text goes (after the colour chip), px.
        chip: The colour chip left of the label, px.
        blocks: The segments in start order (at most :data:`MAX_BLOCKS`).
    """

    track_index: int
    kind: TrackKind
    label: str
    color: RGB
    box: Box
    label_box: Box
    chip: Box
    blocks: tuple[Block, ...]


@dataclass(frozen=True, slots=True)
class Tick:
    """A mark on the time axis: its ``x`` (px), its time (``ms``) and its label."""

    x: int
    ms: float
    label: str


@dataclass(frozen=True, slots=True)
class TimelineLayout:
    """Everything :func:`draw` paints, decided by :func:`layout`.

    Attributes:
        width: Canvas width, px (:data:`WIDTH`).
        height: Canvas height, px (at most 1190).
        lang: The catalog language of the texts.
        title: The title row's text (``Timeline · 12.3 s``).
        total_ms: The draft's length, ms: the larger of its ``d`` and its last segment's end.
        span_ms: The time the axis covers, ms (``total_ms``, at least :data:`MIN_SPAN_MS`).
        axis: The track area, px: ``left`` is 0 ms, ``right`` is ``span_ms``; ``top`` and
            ``bottom`` are the lanes' span.
        lanes: The tracks with segments, in draft order (at most :data:`MAX_LANES`).
        ticks: The time axis marks, left to right.
        hidden_lanes: Tracks with segments that did not fit.
        note: The hidden-lanes note (``+3 more track(s) not shown``), ``""`` when none.
    """

    width: int
    height: int
    lang: str
    title: str
    total_ms: float
    span_ms: float
    axis: Box
    lanes: tuple[Lane, ...]
    ticks: tuple[Tick, ...]
    hidden_lanes: int
    note: str


@dataclass(frozen=True, slots=True)
class TimelinePicture:
    """A drawn timeline: the PNG bytes, their size in px and the layout they were drawn from."""

    png: bytes
    width: int
    height: int
    layout: TimelineLayout


# ---------------------------------------------------------------- text helpers


def _length(face: fonts.Font, text: str) -> float:
    with fonts.lock:
        return float(face.getlength(text))


def _ellipsis(text: str) -> str:
    """``…`` after wide (CJK) characters, ``...`` after the rest (Noto Sans SC's ``…`` is the
    centred Chinese one)."""
    wide = bool(text) and unicodedata.east_asian_width(text[-1]) in {"W", "F"}
    return text + ("…" if wide else "...")


def _fit(text: str, face: fonts.Font, width: float) -> str:
    """``text`` (already :func:`fonts.drawable`) cut with an ellipsis to at most ``width`` px;
    ``""`` when not even one character fits."""
    text = text[:MAX_TEXT]
    if not text or width <= 0:
        return ""
    if _length(face, text) <= width:
        return text
    lo, hi = 0, len(text) - 1
    while lo < hi:  # the longest prefix that fits with its ellipsis
        mid = (lo + hi + 1) // 2
        if _length(face, _ellipsis(text[:mid].rstrip())) <= width:
            lo = mid
        else:
            hi = mid - 1
    prefix = text[:lo].rstrip()
    return _ellipsis(prefix) if prefix else ""


def _whole(text: str, face: fonts.Font, width: float) -> str:
    """``text`` when it fits in ``width`` px, else ``""``."""
    return text if text and _length(face, text) <= width else ""


def _centre_top(face: fonts.Font, centre_y: float) -> int:
    """The ``y`` to draw a line of ``face`` at so that its Latin letters centre on ``centre_y``."""
    with fonts.lock:
        top, bottom = face.getbbox("Hg")[1::2]
    return round(centre_y - (top + bottom) / 2)


# ---------------------------------------------------------------- reading the draft


def _clamp_ms(value: float) -> float:
    return max(0.0, min(float(MAX_MS), value))


def _times(seg: dict[str, Any]) -> tuple[float, float, float]:
    """``(start, end, duration)`` of a segment, ms: starts before 0 are cut at 0, all clamped."""
    start = max(-float(MAX_MS), min(float(MAX_MS), number(seg.get("st"))))
    duration = _clamp_ms(number(seg.get("d")))
    end = _clamp_ms(start + duration)
    return _clamp_ms(start), end, duration


def _local(say: Callable[[str], str], lang: str, face: fonts.Font) -> str:
    """``say(lang)`` reduced to what ``face`` draws (:func:`fonts.drawable`); the English text
    instead when the font lacks some of its characters (Chinese without the CJK font)."""
    text = say(lang)
    drawn = fonts.drawable(text, face)
    if lang != SOURCE_LANG and drawn != " ".join(text.split()):
        return fonts.drawable(say(SOURCE_LANG), face)
    return drawn


def _seconds(ms: float, lang: str, face: fonts.Font) -> str:
    """``3.2 s`` / ``3.2 秒``."""
    return _local(lambda lang: t("picture.seconds", lang, seconds=fmt_seconds(ms)), lang, face)


def _clock(ms: float) -> str:
    """``1:30``, ``1:02:05``: a time on a long axis."""
    s = round(ms / 1000)
    h, m, sec = s // 3600, s % 3600 // 60, s % 60
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def _volume(seg: dict[str, Any], lang: str, face: fonts.Font) -> str:
    """``vol 35%`` / ``音量 35%`` from the segment's ``vol`` (0.0-1.0); ``""`` without one."""
    vol = seg.get("vol")
    if not isinstance(vol, (int, float)) or isinstance(vol, bool):
        return ""
    level = number(vol, -1.0)
    if not 0.0 <= level <= 10.0:
        return ""
    percent = round(level * 100)
    return _local(lambda lang: t("picture.volume", lang, percent=percent), lang, face)


def _lane_label(kind: TrackKind, lang: str) -> str:
    """``Video`` / ``视频``, ``Music`` / ``音乐``... for a track kind."""
    labels: dict[TrackKind, str] = {
        "video": t("picture.lane.video", lang),
        "music": t("picture.lane.music", lang),
        "title": t("picture.lane.title", lang),
        "leaderboard": t("picture.lane.leaderboard", lang),
        "caption": t("picture.lane.caption", lang),
        "other": t("picture.lane.other", lang),
    }
    return labels[kind]


# ---------------------------------------------------------------- layout


def _ticks(span_ms: float, lang: str) -> tuple[Tick, ...]:
    """Marks every 0.1 s to 10 min (then whole hours), at least ``MIN_TICK_GAP`` px apart."""
    face = fonts.font(TICK_SIZE)
    axis_w = AXIS_RIGHT - AXIS_LEFT
    most = max(1, axis_w // MIN_TICK_GAP)
    step = next((s for s in TICK_STEPS_MS if span_ms / s <= most), None)
    if step is None:  # beyond 10-minute steps: whole hours
        step = 3_600_000 * max(1, -(-int(span_ms) // (3_600_000 * most)))
    clock = span_ms >= 120_000
    ticks: list[Tick] = []
    ms = 0.0
    while ms <= span_ms + 0.5:
        x = AXIS_LEFT + round(ms / span_ms * axis_w)
        ticks.append(Tick(x=x, ms=ms, label=_clock(ms) if clock else _seconds(ms, lang, face)))
        ms += step
    return tuple(ticks)


def _rows(timed: list[tuple[float, float]]) -> tuple[list[int], int]:
    """Sub-rows for overlapping segments: ``(row of each, number of rows)``.

    ``timed`` holds ``(start, end)`` in ms, in start order. A segment joins the first row it
    does not overlap, or overlaps by at most ``OVERLAP_SHARE`` of the shorter of the two (a
    transition); else it opens a new row, up to :data:`MAX_SUBROWS`; past that it goes to the
    row that ends first (and is drawn over what it covers).
    """
    ends: list[tuple[float, float]] = []  # each row's last (end, duration), ms
    rows: list[int] = []
    for start, end in timed:
        duration = end - start
        row = next(
            (
                r
                for r, (last_end, last_duration) in enumerate(ends)
                if last_end - start <= OVERLAP_SHARE * min(duration, last_duration)
            ),
            None,
        )
        if row is None:
            row = len(ends) if len(ends) < MAX_SUBROWS else min(range(len(ends)), key=lambda r: ends[r][0])
            if row == len(ends):
                ends.append((end, duration))
        ends[row] = (max(ends[row][0], end), duration)
        rows.append(row)
    return rows, max(1, len(ends))


def _blocks(segs: list[dict[str, Any]], top: int, kind: TrackKind, span_ms: float, lang: str) -> tuple[Block, ...]:
    """The blocks of one lane whose row starts at ``top`` (px)."""
    name_font, detail_font = fonts.font(NAME_SIZE), fonts.font(DETAIL_SIZE)
    axis_w = AXIS_RIGHT - AXIS_LEFT

    def x_of(ms: float) -> int:
        return AXIS_LEFT + round(ms / span_ms * axis_w)

    timed = sorted(((*_times(seg), i, seg) for i, seg in enumerate(segs[:MAX_BLOCKS])), key=lambda e: (e[0], e[3]))
    rows, count = _rows([(start, end) for start, end, _, _, _ in timed])
    band = LANE_H - 2 * BLOCK_INSET_Y
    height = (band - (count - 1) * SUBROW_GAP) // count
    boxes: list[Box] = []
    for (start, end, _, _, _), row in zip(timed, rows, strict=True):
        x0 = min(x_of(start), AXIS_RIGHT - MIN_BLOCK_W)
        x1 = min(AXIS_RIGHT, max(x_of(end) - GAP, x0 + MIN_BLOCK_W))
        y0 = top + BLOCK_INSET_Y + row * (height + SUBROW_GAP)
        boxes.append((x0, y0, x1, y0 + height))
    # a block that a transition overlaps ends GAP px before the next one; else (more stacked
    # than MAX_SUBROWS) the next is drawn over it, and its text stops where the next begins
    next_x0: list[int] = [box[2] for box in boxes]
    last_in_row: dict[int, int] = {}
    for n, row in enumerate(rows):
        prev = last_in_row.get(row)
        last_in_row[row] = n
        if prev is None or boxes[n][0] >= boxes[prev][2]:
            continue
        (p_start, p_end, *_), (start, end, *_) = timed[prev], timed[n]
        if p_end - start <= OVERLAP_SHARE * min(p_end - p_start, end - start):
            x0, y0, _, y1 = boxes[prev]
            boxes[prev] = (x0, y0, max(x0 + MIN_BLOCK_W, boxes[n][0] - GAP), y1)
        next_x0[prev] = min(boxes[prev][2], boxes[n][0])

    two_lines = height >= TWO_LINES_H
    blocks: list[Block] = []
    for n, (start, _, duration, _, seg) in enumerate(timed):
        x0, y0, x1, y1 = boxes[n]
        room = next_x0[n] - x0 - 2 * TEXT_PAD_X
        name = detail = ""
        name_at = detail_at = (x0 + TEXT_PAD_X, y0)
        if room >= MIN_TEXT_W and height >= ONE_LINE_H:
            raw = segment_name(seg) or ""
            name = _fit(fonts.drawable(raw, name_font), name_font, room) if raw else ""
            seconds = _seconds(duration, lang, detail_font)
            volume = _volume(seg, lang, detail_font) if kind == "music" else ""
            if two_lines:
                name_at = (x0 + TEXT_PAD_X, _centre_top(name_font, y0 + NAME_CY))
                detail_at = (x0 + TEXT_PAD_X, _centre_top(detail_font, y0 + DETAIL_CY))
                detail_room = room
            else:  # one line: the duration after the name, when there is room
                name_at = (x0 + TEXT_PAD_X, _centre_top(name_font, (y0 + y1) / 2))
                after = round(_length(name_font, name)) + DETAIL_GAP if name else 0
                detail_at = (x0 + TEXT_PAD_X + after, _centre_top(detail_font, (y0 + y1) / 2))
                detail_room = room - after
            detail = (volume and _whole(f"{seconds} · {volume}", detail_font, detail_room)) or _whole(
                seconds, detail_font, detail_room
            )
        radius = max(0, min(RADIUS, (x1 - x0) // 2, (y1 - y0) // 2))
        sample = (x0, y0 + radius, min(x0 + SAMPLE_W, x1), y1 - radius)
        blocks.append(Block(boxes[n], sample, radius, start, duration, name, detail, name_at, detail_at))
    return tuple(blocks)


def layout(draft: Any, lang: str = "en") -> TimelineLayout:
    """Lay out the timeline picture of ``draft``.

    Args:
        draft: A draft (``docs/draft-format.md``); anything else counts as an empty draft.
        lang: Catalog language of the texts (``en``, ``zh``; others get English).

    Returns:
        The layout: one lane per track with segments, in draft order. An empty draft gives
        a layout with no lanes (:func:`timeline_png` then draws nothing).
    """
    tracks = [(i, track, segs) for i, track in enumerate(draft_tracks(draft)) if (segs := track_segments(track))]
    ends = [_times(seg)[1] for _, _, segs in tracks for seg in segs[:MAX_BLOCKS]]
    declared = _clamp_ms(number(draft.get("d"))) if isinstance(draft, dict) else 0.0
    total = max([declared, *ends])
    span = max(total, float(MIN_SPAN_MS))

    shown, hidden = tracks[:MAX_LANES], max(0, len(tracks) - MAX_LANES)
    lanes_top = MARGIN + TITLE_H
    lanes_bottom = lanes_top + LANE_H * len(shown)
    label_font = fonts.font(LABEL_SIZE)
    lanes: list[Lane] = []
    for row, (index, track, segs) in enumerate(shown):
        top = lanes_top + row * LANE_H
        kind = track_kind(track)
        chip_y = top + (LANE_H - CHIP) // 2
        chip = (MARGIN, chip_y, MARGIN + CHIP, chip_y + CHIP)
        label_box = (MARGIN + CHIP + 10, top, MARGIN + LABEL_W, top + LANE_H)
        label = _fit(
            _local(functools.partial(_lane_label, kind), lang, label_font), label_font, label_box[2] - label_box[0]
        )
        lanes.append(
            Lane(
                track_index=index,
                kind=kind,
                label=label,
                color=KIND_COLORS[kind],
                box=(0, top, WIDTH, top + LANE_H),
                label_box=label_box,
                chip=chip,
                blocks=_blocks(segs, top, kind, span, lang),
            )
        )
    note_font = fonts.font(NOTE_SIZE)
    note = (
        _fit(
            _local(lambda lang: t("picture.more_lanes", lang, count=hidden), lang, note_font),
            note_font,
            WIDTH - 2 * MARGIN,
        )
        if hidden
        else ""
    )
    height = lanes_bottom + AXIS_H + (NOTE_H if hidden else 0) + MARGIN
    title_font = fonts.font(TITLE_SIZE)
    title = _fit(
        _local(lambda lang: t("picture.timeline.title", lang, seconds=fmt_seconds(total)), lang, title_font),
        title_font,
        WIDTH - 2 * MARGIN,
    )
    return TimelineLayout(
        width=WIDTH,
        height=height,
        lang=lang,
        title=title,
        total_ms=total,
        span_ms=span,
        axis=(AXIS_LEFT, lanes_top, AXIS_RIGHT, lanes_bottom),
        lanes=tuple(lanes),
        ticks=_ticks(span, lang),
        hidden_lanes=hidden,
        note=note,
    )


# ---------------------------------------------------------------- drawing


def _inclusive(box: Box) -> tuple[int, int, int, int]:
    """A :data:`Box` as PIL's drawing functions take it (right and bottom inclusive)."""
    return box[0], box[1], box[2] - 1, box[3] - 1


def draw(layout: TimelineLayout) -> bytes:
    """Paint ``layout``.

    Args:
        layout: From :func:`layout`.

    Returns:
        An RGB PNG of ``layout.width`` x ``layout.height`` px.
    """
    image = Image.new("RGB", (layout.width, layout.height), BACKGROUND)
    pen = ImageDraw.Draw(image)
    left, lanes_top, right, lanes_bottom = layout.axis
    title_font, label_font = fonts.font(TITLE_SIZE), fonts.font(LABEL_SIZE)
    name_font, detail_font = fonts.font(NAME_SIZE), fonts.font(DETAIL_SIZE)
    tick_font, note_font = fonts.font(TICK_SIZE), fonts.font(NOTE_SIZE)
    with fonts.lock:
        pen.text((MARGIN, _centre_top(title_font, MARGIN + TITLE_H / 2 - 4)), layout.title, fill=TEXT, font=title_font)

        for row, lane in enumerate(layout.lanes):
            pen.rectangle(_inclusive(lane.box), fill=STRIPES[row % 2])
        for tick in layout.ticks:
            pen.line([(tick.x, lanes_top), (tick.x, lanes_bottom - 1)], fill=GRID, width=1)

        for lane in layout.lanes:
            pen.rounded_rectangle(_inclusive(lane.chip), radius=3, fill=lane.color)
            label_y = _centre_top(label_font, (lane.box[1] + lane.box[3]) / 2)
            pen.text((lane.label_box[0], label_y), lane.label, fill=TEXT, font=label_font)
            for block in lane.blocks:
                pen.rounded_rectangle(_inclusive(block.box), radius=block.radius, fill=lane.color)
                if block.name:
                    pen.text(block.name_at, block.name, fill=INK, font=name_font)
                if block.detail:
                    pen.text(block.detail_at, block.detail, fill=INK, font=detail_font)

        axis_y = lanes_bottom + 6
        pen.line([(left, axis_y), (right, axis_y)], fill=MUTED, width=1)
        label_y = _centre_top(tick_font, axis_y + 22)
        for tick in layout.ticks:
            pen.line([(tick.x, axis_y), (tick.x, axis_y + 6)], fill=MUTED, width=1)
            width = _length(tick_font, tick.label)
            x = min(max(tick.x - width / 2, MARGIN), layout.width - MARGIN - width)
            pen.text((round(x), label_y), tick.label, fill=MUTED, font=tick_font)

        if layout.note:
            note_y = _centre_top(note_font, lanes_bottom + AXIS_H + NOTE_H / 2)
            pen.text((MARGIN, note_y), layout.note, fill=MUTED, font=note_font)

    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=6)
    return out.getvalue()


def timeline_png(draft: Any, lang: str = "en") -> TimelinePicture | None:
    """The timeline picture of ``draft`` in ``lang``: :func:`layout`, then :func:`draw`.

    Args:
        draft: A draft (``docs/draft-format.md``), any shape.
        lang: Catalog language (``en``, ``zh``).

    Returns:
        The picture, or ``None`` when the draft has no segment (or, logged, if drawing failed:
        the text summary then goes out alone).
    """
    try:
        plan = layout(draft, lang)
        if not plan.lanes:
            return None
        return TimelinePicture(png=draw(plan), width=plan.width, height=plan.height, layout=plan)
    except Exception:
        log.exception("cannot draw the timeline picture")
        return None
