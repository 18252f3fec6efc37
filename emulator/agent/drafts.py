"""Building and fixing drafts (``docs/draft-format.md``, contract section 4).

Track ids are fixed per role, so a new edit replaces the track it owns: ``trk_v1`` video
(``tt`` 0), ``trk_b1`` background music (``tt`` 1), ``trk_t1`` title and ``trk_t2``
leaderboard (``tt`` 7). Times are in milliseconds.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Callable
from typing import Any

from emulator.agent.context import Clip

__all__ = [
    "BGM_FADE_IN_MS",
    "BGM_FADE_OUT_MS",
    "BGM_VOLUME",
    "TITLE_MS",
    "TRANSITION",
    "bgm_track",
    "clip_seg",
    "current_draft",
    "drop_tracks",
    "empty_draft",
    "ensure_video",
    "finalize_draft",
    "is_kind_track",
    "leaderboard_track",
    "set_track",
    "title_track",
    "tracks",
    "video_end",
    "video_track",
]

TRANSITION = {"type": "fade", "d": 500}
TITLE_MS = 3000
BGM_VOLUME = 0.35
BGM_FADE_IN_MS = 500
BGM_FADE_OUT_MS = 1000

Track = dict[str, Any]


def _sid(prefix: str = "seg") -> str:
    return f"{prefix}_{secrets.token_hex(3)}"


def empty_draft(canvas: dict[str, Any] | None = None) -> dict[str, Any]:
    """A draft with no tracks, sized like the canvas (default 1920x1080 at 30 fps)."""
    canvas = canvas or {}
    return {
        "t": [],
        "d": 0,
        "m": {"width": int(canvas.get("width") or 1920), "height": int(canvas.get("height") or 1080), "fps": 30},
    }


def current_draft(state: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of the session's draft to edit, or an empty one sized like ``canvas_config``."""
    return copy.deepcopy(state.get("draft") or empty_draft(state.get("canvas_config")))


def tracks(draft: dict[str, Any], tt: int) -> list[Track]:
    """The draft's tracks of type ``tt`` (0 video, 1 audio, 7 text)."""
    return [t for t in draft.get("t") or [] if isinstance(t, dict) and t.get("tt") == tt]


def video_end(draft: dict[str, Any]) -> int:
    """End of the last video segment in ms (0 without video)."""
    end = 0
    for t in tracks(draft, 0):
        for s in t.get("sg") or []:
            end = max(end, int(s.get("st", 0)) + int(s.get("d", 0)))
    return end


def set_track(draft: dict[str, Any], track: Track) -> None:
    """Replace the track with the same id, or add it; keep video, audio, text order."""
    kept = [t for t in draft.get("t") or [] if t.get("id") != track["id"]]
    kept.append(track)
    order = {0: 0, 1: 1, 7: 2}
    kept.sort(key=lambda t: order.get(t.get("tt"), 3))
    draft["t"] = kept


def drop_tracks(draft: dict[str, Any], pred: Callable[[Track], bool]) -> int:
    """Remove the tracks matching ``pred``; returns how many were removed."""
    before = len(draft.get("t") or [])
    draft["t"] = [t for t in draft.get("t") or [] if not pred(t)]
    return before - len(draft["t"])


def is_kind_track(kind: str) -> Callable[[Track], bool]:
    """A predicate for text tracks holding a segment of ``kind`` (``title``, ``leaderboard``)."""
    return lambda t: t.get("tt") == 7 and any(s.get("kind") == kind for s in t.get("sg") or [])


def _layout(segments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Place video segments back to back; a ``tr`` overlaps its segment with the previous one.

    That matches the renderer (``emulator/render/graph.py``): a transition blends the segment
    into the previous one and shortens the output by its length, so ``st`` is the real output
    time.
    """
    t = 0
    prev_d = 0
    out: list[dict[str, Any]] = []
    for seg in segments:
        seg = dict(seg)
        tr = dict(seg.pop("tr", None) or {})
        overlap = min(int(tr.get("d", 0)), prev_d - 1, seg["d"] - 1) if tr and out else 0
        if overlap > 0:
            seg["tr"] = {**tr, "d": overlap}
            t -= overlap
        seg["st"] = t
        t += seg["d"]
        prev_d = seg["d"]
        out.append(seg)
    return out


def clip_seg(
    clip: Clip, *, ss: int = 0, d: int | None = None, sc: float | None = None, tr: bool = False
) -> dict[str, Any]:
    """A video segment of ``clip`` (placed later by :func:`video_track`).

    Args:
        clip: The uploaded clip.
        ss: In-point in ms.
        d: Duration in ms (default: the rest of the clip).
        sc: Motion score to record in ``sc``.
        tr: Blend in from the previous segment with :data:`TRANSITION`.
    """
    seg: dict[str, Any] = {
        "id": _sid(),
        "st": 0,
        "d": int(d if d is not None else clip.duration_ms - ss),
        "n": clip.filename,
        "src": clip.src,
        "ss": int(ss),
        "vol": 1.0,
    }
    if sc is not None:
        seg["sc"] = float(sc)
    if tr:
        seg["tr"] = dict(TRANSITION)
    return seg


def video_track(segments: list[dict[str, Any]]) -> Track:
    """The video track (``trk_v1``) with ``segments`` placed back to back."""
    return {"id": "trk_v1", "tt": 0, "n": "Video", "sg": _layout(segments)}


def ensure_video(draft: dict[str, Any], clips: list[Clip]) -> bool:
    """Give a draft without video the uploaded clips back to back. Returns True if added."""
    if any(t.get("sg") for t in tracks(draft, 0)):
        return False
    drop_tracks(draft, lambda t: t.get("tt") == 0)
    set_track(draft, video_track([clip_seg(c) for c in clips]))
    return True


def finalize_draft(draft: dict[str, Any], *, title: str | None = None) -> dict[str, Any]:
    """Make ``d`` and ``m`` consistent with the tracks and fit overlays to the video.

    ``d`` becomes the end of the video track (or of the longest segment without video);
    leaderboards span the whole video, titles at most its length, audio is cut at its end.
    Empty tracks are dropped.

    Args:
        draft: The draft to fix, changed in place.
        title: New ``m.title``, if any.

    Returns:
        The same draft.
    """
    end_of_video = video_end(draft)
    for t in draft.get("t") or []:
        if t.get("tt") == 0:
            continue
        for s in t.get("sg") or []:
            if end_of_video <= 0:
                continue
            if t.get("tt") == 7 and s.get("kind") == "leaderboard":
                s["st"], s["d"] = 0, end_of_video
            elif int(s.get("st", 0)) >= end_of_video:
                s["d"] = 0
            else:
                s["d"] = min(int(s.get("d", 0)), end_of_video - int(s.get("st", 0)))
        t["sg"] = sorted((s for s in t.get("sg") or [] if int(s.get("d", 0)) > 0), key=lambda s: s["st"])
    draft["t"] = [t for t in draft.get("t") or [] if t.get("sg")]
    end = end_of_video or max(
        (int(s.get("st", 0)) + int(s.get("d", 0)) for t in draft["t"] for s in t["sg"]), default=0
    )
    draft["d"] = int(end)
    m = dict(draft.get("m") or {})
    m.setdefault("width", 1920)
    m.setdefault("height", 1080)
    m["fps"] = 30
    if title:
        m["title"] = title
    draft["m"] = m
    return draft


def leaderboard_track(title: str, rows: list[dict[str, Any]], d: int) -> Track:
    """The leaderboard overlay track (``trk_t2``): one ``kind: leaderboard`` segment of ``d`` ms."""
    seg = {"id": _sid(), "st": 0, "d": d, "n": title, "txt": title, "kind": "leaderboard", "pos": "right", "rows": rows}
    return {"id": "trk_t2", "tt": 7, "n": "Leaderboard", "sg": [seg]}


def title_track(text: str, end_of_video: int) -> Track:
    """The title track (``trk_t1``): ``text`` centred for :data:`TITLE_MS` (at most the video)."""
    seg = {
        "id": _sid(),
        "st": 0,
        "d": min(TITLE_MS, end_of_video),
        "n": text,
        "txt": text,
        "kind": "title",
        "pos": "center",
    }
    return {"id": "trk_t1", "tt": 7, "n": "Title", "sg": [seg]}


def bgm_track(name: str, src: str, d: int) -> Track:
    """The background music track (``trk_b1``): ``src`` for ``d`` ms at 35% with fades."""
    seg = {
        "id": _sid(),
        "st": 0,
        "d": d,
        "n": name,
        "src": src,
        "ss": 0,
        "vol": BGM_VOLUME,
        "fi": BGM_FADE_IN_MS,
        "fo": BGM_FADE_OUT_MS,
    }
    return {"id": "trk_b1", "tt": 1, "n": "BGM", "sg": [seg]}
