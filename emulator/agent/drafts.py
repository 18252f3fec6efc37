"""Building and fixing drafts (``docs/draft-format.md``, contract section 4).

Track ids are fixed per role, so a new edit replaces the track it owns: ``trk_v1`` video
(``tt`` 0), ``trk_b1`` background music (``tt`` 1), ``trk_t1`` title, ``trk_t2``
leaderboard, ``trk_t3`` text overlays and captions, ``trk_t4`` the clips' ranks (``tt`` 7).
Times are in milliseconds.

Two keys beyond the documented ones: ``m.uploads`` counts the uploaded video clips the
timeline has taken in (so a later upload joins it exactly once), and a text segment's
``anchor: "end"`` keeps it at the end of the video when later edits change the length.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Callable
from typing import Any

from emulator.agent.context import Clip, clips_from_state

__all__ = [
    "ANCHOR_END",
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
    "join_uploads",
    "leaderboard_track",
    "place_text",
    "rank_track",
    "set_canvas",
    "set_track",
    "sync_uploads",
    "title_track",
    "tracks",
    "video_end",
    "video_track",
    "working_draft",
]

TRANSITION: dict[str, Any] = {"type": "fade", "d": 500}
TITLE_MS = 3000
BGM_VOLUME = 0.35
BGM_FADE_IN_MS = 500
BGM_FADE_OUT_MS = 1000
ANCHOR_END = "end"

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
            elif t.get("tt") == 7 and s.get("anchor") == ANCHOR_END:
                s["d"] = min(int(s.get("d", 0)), end_of_video)
                s["st"] = end_of_video - s["d"]
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


def set_canvas(draft: dict[str, Any], width: int, height: int) -> None:
    """Set the draft's canvas (``m.width`` / ``m.height``, what the renderer reads)."""
    m = dict(draft.get("m") or {})
    m["width"], m["height"] = int(width), int(height)
    draft["m"] = m


def _main_video(draft: dict[str, Any]) -> Track | None:
    found = [t for t in tracks(draft, 0) if t.get("sg")]
    return next((t for t in found if t.get("id") == "trk_v1"), found[0] if found else None)


def join_uploads(draft: dict[str, Any], clips: list[Clip]) -> list[Clip]:
    """Let every upload join the timeline once.

    A draft without video gets all clips back to back. Otherwise the clips uploaded since
    the timeline last took uploads in (``m.uploads``; for a draft without it, the clips no
    video segment uses) are appended to the main video track, blending in when the track
    uses transitions. ``m.uploads`` becomes ``len(clips)``.

    Args:
        draft: Changed in place.
        clips: The session's clips in upload order.

    Returns:
        The clips added.
    """
    if not clips:
        return []
    m = dict(draft.get("m") or {})
    main = _main_video(draft)
    if main is None:
        ensure_video(draft, clips)
        added = list(clips)
    else:
        seen = m.get("uploads")
        if isinstance(seen, int) and not isinstance(seen, bool) and 0 <= seen <= len(clips):
            added = clips[seen:]
        else:
            used = {s.get("src") for t in tracks(draft, 0) for s in t.get("sg") or []}
            added = [c for c in clips if c.src not in used]
        segs = sorted(main["sg"], key=lambda s: int(s.get("st", 0)))
        blend = any(s.get("tr") for s in segs)
        for clip in added:
            seg = clip_seg(clip)
            last = segs[-1]
            end = int(last.get("st", 0)) + int(last.get("d", 0))
            overlap = min(int(TRANSITION["d"]), int(last.get("d", 0)) - 1, seg["d"] - 1) if blend else 0
            if overlap > 0:
                seg["tr"] = {**TRANSITION, "d": overlap}
            seg["st"] = end - max(0, overlap)
            segs.append(seg)
        main["sg"] = segs
    m = dict(draft.get("m") or {})
    m["uploads"] = len(clips)
    draft["m"] = m
    return added


def working_draft(state: dict[str, Any], clips: list[Clip]) -> tuple[dict[str, Any], list[Clip]]:
    """The session's draft to edit, with every upload on the timeline (:func:`join_uploads`).

    Returns:
        The draft (a copy) and the clips that joined it now.
    """
    draft = current_draft(state)
    return draft, join_uploads(draft, clips)


def sync_uploads(state: dict[str, Any]) -> bool:
    """Let new uploads join the session's timeline right away (for the upload endpoint).

    A draft with video gets the clips uploaded since it last took uploads in appended
    (:func:`join_uploads`); an empty draft is left for the next edit to decide (an example
    clip uses only the latest upload).

    Args:
        state: The session state; its ``draft`` is replaced when clips joined.

    Returns:
        True when the draft changed.
    """
    draft = current_draft(state)
    if _main_video(draft) is None:
        return False
    if not join_uploads(draft, clips_from_state(state)):
        return False
    state["draft"] = finalize_draft(draft)
    return True


def place_text(
    draft: dict[str, Any],
    text: str,
    *,
    kind: str = "title",
    at: str = "start",
    start_ms: int = 0,
    shown_ms: int = TITLE_MS,
    pos: str = "center",
) -> dict[str, Any]:
    """Put ``text`` on screen: a title (replaces ``trk_t1``) or a caption / text overlay
    (added to ``trk_t3``, replacing a text there at the same time and position).

    Args:
        draft: Changed in place.
        text: The words.
        kind: ``title`` or ``caption``.
        at: ``start``, ``end`` (the last ``shown_ms``, anchored to the end) or ``time``.
        start_ms: The start for ``at == "time"``; one past the video's end is moved back
            so the text is still seen.
        shown_ms: On-screen time (at most the video's length).
        pos: ``top``, ``center`` or ``bottom``.

    Returns:
        The segment placed.
    """
    end = video_end(draft) or int(draft.get("d") or 0) or shown_ms
    d = max(1, min(int(shown_ms), end))
    if at == ANCHOR_END:
        st = end - d
    elif at == "time":
        st = max(0, min(int(start_ms), end - min(d, 1000)))
        d = max(1, min(d, end - st))
    else:
        st = 0
    seg: dict[str, Any] = {"id": _sid(), "st": st, "d": d, "n": text, "txt": text, "kind": kind, "pos": pos}
    if at == ANCHOR_END:
        seg["anchor"] = ANCHOR_END
    if kind == "title":
        drop_tracks(draft, lambda t: t.get("id") == "trk_t1" or (t.get("tt") == 7 and is_kind_track("title")(t)))
        set_track(draft, {"id": "trk_t1", "tt": 7, "n": "Title", "sg": [seg]})
        return seg
    existing = next((t for t in draft.get("t") or [] if t.get("id") == "trk_t3"), None)
    kept = [
        s
        for s in (existing or {}).get("sg") or []
        if not (s.get("pos") == pos and int(s.get("st", 0)) < st + d and st < int(s.get("st", 0)) + int(s.get("d", 0)))
    ]
    kept.append(seg)
    kept.sort(key=lambda s: int(s.get("st", 0)))
    set_track(draft, {"id": "trk_t3", "tt": 7, "n": "Text", "sg": kept})
    return seg


def rank_track(video_segments: list[dict[str, Any]], labels: list[str]) -> Track:
    """The ranks on screen (``trk_t4``): one caption at the top per video segment, shown
    while that segment is on screen on its own (after its transition, until the next one).

    Args:
        video_segments: The placed video segments (from :func:`video_track`).
        labels: One text per segment, e.g. ``"#1 bikes"``.
    """
    segs = []
    for i, (vs, label) in enumerate(zip(video_segments, labels, strict=True)):
        st = int(vs["st"]) + int((vs.get("tr") or {}).get("d", 0))
        end = int(video_segments[i + 1]["st"]) if i + 1 < len(video_segments) else int(vs["st"]) + int(vs["d"])
        if end - st <= 0:
            st, end = int(vs["st"]), int(vs["st"]) + int(vs["d"])
        segs.append({"id": _sid(), "st": st, "d": end - st, "n": label, "txt": label, "kind": "caption", "pos": "top"})
    return {"id": "trk_t4", "tt": 7, "n": "Ranks", "sg": segs}
