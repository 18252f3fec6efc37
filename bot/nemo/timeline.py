"""Reading drafts: readiness, the one-line timeline summary and the draft diff.

Outer keys are documented in contract section 4; segment keys are the ones listed in
``docs/draft-format.md``. Unknown keys are ignored and unknown shapes degrade to generic
names, never to an exception.
"""

from __future__ import annotations

import math
from typing import Any, Literal

TRACK_VIDEO, TRACK_AUDIO, TRACK_TEXT = 0, 1, 7

TrackKind = Literal["video", "music", "title", "leaderboard", "caption", "other"]
"""What a track holds, as :func:`track_kind` tells it."""


def _tracks(draft: Any) -> list[dict[str, Any]]:
    if not isinstance(draft, dict):
        return []
    tracks = draft.get("t")
    return [t for t in tracks if isinstance(t, dict)] if isinstance(tracks, list) else []


def _segments(track: dict[str, Any]) -> list[dict[str, Any]]:
    segs = track.get("sg")
    return [s for s in segs if isinstance(s, dict)] if isinstance(segs, list) else []


def is_ready(draft: Any) -> bool:
    """True when the draft has at least one track with a non-empty ``sg`` (contract section 4)."""
    return any(_segments(t) for t in _tracks(draft))


def _num(value: Any, default: float = 0.0) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return default
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        return default
    return number if math.isfinite(number) else default


def draft_tracks(draft: Any) -> list[dict[str, Any]]:
    """The draft's tracks (``t``) that are objects, in draft order; ``[]`` for anything else."""
    return _tracks(draft)


def track_segments(track: dict[str, Any]) -> list[dict[str, Any]]:
    """The track's segments (``sg``) that are objects, in draft order; ``[]`` for anything else."""
    return _segments(track)


def number(value: Any, default: float = 0.0) -> float:
    """A finite JSON number as a float (``st``, ``d``, ``vol``...); ``default`` for anything
    else (strings, booleans, ``None``, NaN, infinities, integers too large for a float)."""
    return _num(value, default)


def segment_name(seg: dict[str, Any]) -> str | None:
    """The segment's display name (``n``, else ``txt`` and a few other keys), stripped, or
    ``None`` when it has none."""
    for key in ("n", "txt", "name", "text", "fn"):
        value = seg.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def fmt_seconds(ms: float) -> str:
    """Milliseconds as seconds for people: 10000 -> ``10``, 5300 -> ``5.3``."""
    s = round(ms / 1000.0, 1)
    return str(int(s)) if s == int(s) else f"{s:g}"


def _range(segs: list[dict[str, Any]]) -> str:
    starts = [_num(s.get("st")) for s in segs]
    ends = [_num(s.get("st")) + _num(s.get("d")) for s in segs]
    return f"{fmt_seconds(min(starts))}-{fmt_seconds(max(ends))}s"


def _seg_name(seg: dict[str, Any]) -> str:
    return segment_name(seg) or "clip"


def track_kind(track: dict[str, Any]) -> TrackKind:
    """``video`` (``tt`` 0), ``music`` (``tt`` 1), for text tracks (``tt`` 7) ``leaderboard``
    (any leaderboard segment), ``caption`` (only captions) or ``title``; ``other`` for the rest."""
    tt = track.get("tt")
    if tt == TRACK_VIDEO:
        return "video"
    if tt == TRACK_AUDIO:
        return "music"
    if tt == TRACK_TEXT:
        kinds = {kind if isinstance(kind := s.get("kind"), str) else None for s in _segments(track)}
        if "leaderboard" in kinds:
            return "leaderboard"
        if kinds == {"caption"}:
            return "caption"
        return "title"
    return "other"


_LABELS: dict[TrackKind, str] = {
    "video": "Video",
    "music": "BGM",
    "title": "Title",
    "leaderboard": "Leaderboard",
    "caption": "Caption",
    "other": "Track",
}


def track_label(track: dict[str, Any]) -> str:
    """``Video``, ``BGM``, ``Title``, ``Leaderboard``, ``Caption`` or ``Track`` (:func:`track_kind`)."""
    return _LABELS[track_kind(track)]


def describe_track(track: dict[str, Any]) -> str:
    """One track as ``BGM: Lo-fi (0-10s, 35%)`` / ``Title: "Urban Dreams" (0-3s)``."""
    label = track_label(track)
    segs = _segments(track)
    if not segs:
        return f"{label}: empty"
    names: list[str] = []
    for seg in segs:
        name = _seg_name(seg)
        if name not in names:
            names.append(name)
    shown = ", ".join(names[:3]) + (f" +{len(names) - 3} more" if len(names) > 3 else "")
    if track.get("tt") == TRACK_TEXT:
        shown = ", ".join(f'"{n}"' for n in names[:3]) + (f" +{len(names) - 3} more" if len(names) > 3 else "")
    detail = _range(segs)
    if track.get("tt") == TRACK_AUDIO:
        vol = segs[0].get("vol")
        if isinstance(vol, (int, float)):
            detail += f", {round(vol * 100)}%"
    if track.get("tt") == TRACK_VIDEO and len(segs) > 1:
        shown = f"{len(segs)} clips: {shown}"
    return f"{label}: {shown} ({detail})"


def summarize(draft: Any) -> str:
    """The one-line timeline summary of contract section 4.

    Example: ``Timeline (3 tracks): 1. Video: city timelapse (0-10s) 2. BGM: Lo-fi (0-10s, 35%)
    3. Title: "Urban Dreams" (0-3s)``. An empty draft gives ``Timeline: empty``.
    """
    tracks = [t for t in _tracks(draft) if _segments(t)]
    if not tracks:
        return "Timeline: empty"
    parts = [f"{i}. {describe_track(t)}" for i, t in enumerate(tracks, start=1)]
    noun = "track" if len(tracks) == 1 else "tracks"
    return f"Timeline ({len(tracks)} {noun}): " + " ".join(parts)


def _track_key(track: dict[str, Any], index: int) -> str:
    tid = track.get("id")
    return str(tid) if tid else f"{track.get('tt')}#{index}"


def diff(before: Any, after: Any) -> list[str]:
    """What changed between two drafts, as short sentences for a silent run.

    Examples: ``Added title "Final Standings" (0-5s)``, ``Removed BGM: Lo-fi (0-10s, 35%)``,
    ``Changed Video: 3 clips: a.mp4, b.mp4, c.mp4 (0-8s)``, ``Duration 5.3s -> 8s``,
    ``Canvas 1920x1080 -> 1080x1920``.

    Returns:
        Sentences in track order; ``[]`` when nothing visible changed.
    """
    old = {_track_key(t, i): t for i, t in enumerate(_tracks(before))}
    new = {_track_key(t, i): t for i, t in enumerate(_tracks(after))}
    changes: list[str] = []
    for key, track in new.items():
        if not _segments(track):
            continue
        desc = describe_track(track)
        label, _, rest = desc.partition(": ")
        if key not in old or not _segments(old[key]):
            changes.append(f"Added {label.lower()} {rest}")
        elif _segments(old[key]) != _segments(track):
            changes.append(f"Changed {desc}")
    for key, track in old.items():
        if _segments(track) and (key not in new or not _segments(new[key])):
            changes.append(f"Removed {describe_track(track)}")
    d_old = _num(before.get("d")) if isinstance(before, dict) else 0.0
    d_new = _num(after.get("d")) if isinstance(after, dict) else 0.0
    if changes and d_old and d_new and d_old != d_new:
        changes.append(f"Duration {fmt_seconds(d_old)}s -> {fmt_seconds(d_new)}s")
    size_old, size_new = _canvas(before), _canvas(after)
    if size_new and size_old != size_new:
        changes.append(f"Canvas {size_old or '?'} -> {size_new}")
    return changes


def _canvas(draft: Any) -> str | None:
    """``1080x1920`` from the draft's canvas (``m.width`` x ``m.height``, docs/draft-format.md), or ``None``."""
    meta = draft.get("m") if isinstance(draft, dict) else None
    if not isinstance(meta, dict):
        return None
    width, height = _num(meta.get("width")), _num(meta.get("height"))
    return f"{int(width)}x{int(height)}" if width and height else None
