"""Intent ``highlight``: a reel of the most active 2-second moments with fades and generated music."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Any

from emulator.agent.context import AgentContext, Clip, clips_from_state
from emulator.agent.drafts import (
    TRANSITION,
    bgm_track,
    clip_seg,
    current_draft,
    drop_tracks,
    finalize_draft,
    set_track,
    video_end,
    video_track,
)
from emulator.agent.intent import Intent
from emulator.agent.steps import Answer, Preview, Step, Thought, ToolResult, tool_call
from emulator.agent.tools import analysis_delta, edit, generate_music, music_call
from emulator.agent.wording import say

__all__ = ["HIGHLIGHT_MAX_WINDOWS", "HIGHLIGHT_MIN_WINDOW_S", "HIGHLIGHT_WINDOW_S", "highlight"]

HIGHLIGHT_WINDOW_S = 2.0
HIGHLIGHT_MIN_WINDOW_S = 1.0
HIGHLIGHT_MAX_WINDOWS = 6

#: A scored window: (clip index, start ms, duration ms, motion score).
_Scored = tuple[int, int, int, float]


def _windows(duration_ms: int) -> list[tuple[int, int]]:
    """``(start_ms, duration_ms)`` windows of :data:`HIGHLIGHT_WINDOW_S`; a short tail is
    kept only when it is at least :data:`HIGHLIGHT_MIN_WINDOW_S` (or the only window)."""
    w = int(HIGHLIGHT_WINDOW_S * 1000)
    out: list[tuple[int, int]] = []
    start = 0
    while start < duration_ms:
        d = min(w, duration_ms - start)
        if d >= HIGHLIGHT_MIN_WINDOW_S * 1000 or not out:
            out.append((start, d))
        start += w
    return out


def _analysis_entries(clips: list[Clip], scored: list[_Scored]) -> list[dict[str, Any]]:
    """One ``video_analyses`` entry per clip, with its windows' scores."""
    entries = []
    for ci, c in enumerate(clips):
        mine = [(s, d, sc) for cj, s, d, sc in scored if cj == ci]
        whole = sum(d * sc for s, d, sc in mine) / max(1, c.duration_ms)
        entries.append(
            {
                "filename": c.filename,
                "hash": c.hash,
                "cdn_url": c.src,
                "duration": c.duration_ms / 1000,
                "motion_score": round(whole, 1),
                "segments": [{"start": s / 1000, "end": (s + d) / 1000, "score": sc} for s, d, sc in mine],
            }
        )
    return entries


def _choose(scored: list[_Scored]) -> list[int]:
    """Indexes of the windows to keep, in timeline order (clip, then start).

    Every clip's best window first, then the best of the rest, up to the budget (half the
    windows, at most :data:`HIGHLIGHT_MAX_WINDOWS`).
    """
    budget = max(1, min(HIGHLIGHT_MAX_WINDOWS, math.ceil(len(scored) / 2)))
    by_score = sorted(range(len(scored)), key=lambda i: (-scored[i][3], i))
    chosen: list[int] = []
    seen_clips: set[int] = set()
    for i in by_score:
        if scored[i][0] not in seen_clips and len(chosen) < budget:
            chosen.append(i)
            seen_clips.add(scored[i][0])
    for i in by_score:
        if len(chosen) >= budget:
            break
        if i not in chosen:
            chosen.append(i)
    chosen.sort(key=lambda i: (scored[i][0], scored[i][1]))
    return chosen


async def highlight(intent: Intent, ctx: AgentContext) -> AsyncIterator[Step]:
    """Replace the video track with the best moments and the BGM track with generated music.

    Args:
        intent: The ``highlight`` intent; ``style`` picks the music, ``title`` the draft title.
        ctx: The run's context.

    Yields:
        Thought, preview, the ``analyze_video``, ``generate_music`` and ``edit_multitrack``
        tool pairs, the answer (with a GUI hint when ``ctx.gui_phrasing``).
    """
    clips = clips_from_state(ctx.state, ctx.resolve)
    yield Thought("A highlight reel: find the most active moments, cut them together, add music.")
    yield Preview(say(intent, "Finding the best moments...", "正在寻找精彩瞬间……"))
    draft = current_draft(ctx.state)
    windows = [(ci, s, d) for ci, c in enumerate(clips) for s, d in _windows(c.duration_ms)]
    call = tool_call(
        "analyze_video", {"video_urls": [c.src for c in clips], "metric": "motion", "window_s": HIGHLIGHT_WINDOW_S}
    )
    yield call
    scores = await ctx.scores([(clips[ci].path, s, d) for ci, s, d in windows])
    scored = [(ci, s, d, sc) for (ci, s, d), sc in zip(windows, scores, strict=True)]
    delta = analysis_delta(ctx, _analysis_entries(clips, scored))
    yield ToolResult(call.call_id, call.name, {"status": "success", "windows": len(scored)}, delta)

    chosen = _choose(scored)
    segs = [clip_seg(clips[scored[i][0]], ss=scored[i][1], d=scored[i][2], sc=scored[i][3], tr=True) for i in chosen]
    drop_tracks(draft, lambda t: t.get("tt") == 0)
    set_track(draft, video_track(segs))
    reel_ms = video_end(draft)

    call = music_call(intent, reel_ms)
    yield call
    music, result = await generate_music(ctx, intent, reel_ms, call)
    yield result
    drop_tracks(draft, lambda t: t.get("tt") == 1)
    set_track(draft, bgm_track(music.name, music.url, reel_ms))
    finalize_draft(draft, title=intent.title)
    async for step in edit(
        ctx, draft, {"operation": "highlight_reel", "windows": len(segs), "transition": TRANSITION}, "highlight reel"
    ):
        yield step
    text = say(
        intent,
        f"Your highlight reel is ready: the {len(segs)} most action-packed moments "
        f"({reel_ms / 1000:.1f}s) with fade transitions and {music.name.lower()} music.",
        f"高光集锦已完成：{len(segs)} 个最精彩的片段（{reel_ms / 1000:.1f} 秒），带淡入淡出转场和{music.name}风格配乐。",
    )
    if ctx.gui_phrasing:
        text += " " + say(
            intent, "Drag the clips on the timeline to reorder them if you like.", "您可以在时间线上拖拽片段调整顺序。"
        )
    yield Answer(text)
