"""Intent ``highlight``: a reel of the most active moments, cut on the music's beat, with fades
and generated music.

The reel lasts about a quarter of all the uploaded footage (:data:`HIGHLIGHT_SHARE`), at least
:data:`HIGHLIGHT_MIN_MS` and at most :data:`HIGHLIGHT_MAX_MS` (never more than the footage).
Its cuts fall on the beat of the music generated for it: every segment starts on a multiple
of the beat period of the style's tempo (:func:`emulator.agent.tools.beat_ms`), and the reel
ends on one, so the music (which starts on a beat at 0) and the picture change together.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
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
from emulator.agent.titles import draft_title, extras
from emulator.agent.tools import analysis_delta, beat_ms, edit, generate_music, music_call, playable_style
from emulator.agent.wording import say

__all__ = [
    "HIGHLIGHT_MAX_MS",
    "HIGHLIGHT_MIN_MS",
    "HIGHLIGHT_SHARE",
    "ReelPlan",
    "Window",
    "highlight",
    "plan_reel",
]

#: Share of the total footage a reel lasts.
HIGHLIGHT_SHARE = 0.25
#: Shortest reel (ms), unless the footage is shorter.
HIGHLIGHT_MIN_MS = 3000
#: Longest reel (ms).
HIGHLIGHT_MAX_MS = 60_000
#: Aimed-at length of one cut (s): short reels cut faster.
_CUT_S_SHORT, _CUT_S_LONG = 2.0, 3.5
#: Reels up to this long (ms) use the short cuts.
_SHORT_REEL_MS = 15_000


@dataclass(frozen=True)
class ReelPlan:
    """How a reel is cut for a given footage length and tempo.

    Attributes:
        beat: The beat period, ms.
        beats: The reel's length in beats.
        cut_beats: Beats per cut (the length of a scored window).
        overlap: Transition length, ms (shorter than a beat).
    """

    beat: float
    beats: int
    cut_beats: int
    overlap: int

    @property
    def length_ms(self) -> int:
        return round(self.beats * self.beat)


@dataclass(frozen=True)
class Window:
    """A candidate moment: ``beats`` beats (plus the transition tail) from ``start`` ms of clip ``clip``."""

    clip: int
    start: int
    beats: int


def plan_reel(total_ms: int, beat: float) -> ReelPlan:
    """The reel's length and cut size for ``total_ms`` of footage at a beat of ``beat`` ms.

    About :data:`HIGHLIGHT_SHARE` of the footage, at least :data:`HIGHLIGHT_MIN_MS` (when the
    footage allows) and at most :data:`HIGHLIGHT_MAX_MS`, in whole beats; cuts last an even
    number of beats near 2 s (reels up to 15 s) or 3.5 s.
    """
    overlap = max(1, min(int(TRANSITION["d"]), int(beat * 0.8)))
    want = min(max(total_ms * HIGHLIGHT_SHARE, HIGHLIGHT_MIN_MS), HIGHLIGHT_MAX_MS, max(beat, total_ms - overlap))
    beats = max(1, round(want / beat))
    if beats * beat < min(HIGHLIGHT_MIN_MS, total_ms - overlap):
        beats += 1
    while beats > 1 and beats * beat > min(HIGHLIGHT_MAX_MS, total_ms):
        beats -= 1
    cut_s = _CUT_S_SHORT if beats * beat <= _SHORT_REEL_MS else _CUT_S_LONG
    cut_beats = max(2, 2 * round(cut_s * 1000 / beat / 2))
    return ReelPlan(beat=beat, beats=beats, cut_beats=min(cut_beats, max(1, beats)), overlap=overlap)


def _windows(clips: list[Clip], plan: ReelPlan) -> list[Window]:
    """Candidate windows on each clip's own grid of ``cut_beats`` beats; a clip's last window
    may be shorter (at least one beat plus the transition tail)."""
    out: list[Window] = []
    step = plan.cut_beats * plan.beat
    for ci, c in enumerate(clips):
        k = 0
        while True:
            start = round(k * step)
            room = math.floor((c.duration_ms - start - plan.overlap) / plan.beat)
            if room < 1:
                break
            out.append(Window(ci, start, min(plan.cut_beats, room)))
            k += 1
    return out


def _window_ms(w: Window, plan: ReelPlan) -> int:
    return math.ceil(w.beats * plan.beat) + plan.overlap


def _choose(windows: list[Window], scores: list[float], budget: int) -> list[tuple[Window, int, float]]:
    """The windows to keep as ``(window, beats used, score)`` in timeline order (clip, start).

    Every clip's best window first (best clips first), then the best of the rest, until the
    reel's beats are used; the last one taken may be cut short to fit.
    """
    by_score = sorted(range(len(windows)), key=lambda i: (-scores[i], i))
    firsts: list[int] = []
    seen: set[int] = set()
    for i in by_score:
        if windows[i].clip not in seen:
            firsts.append(i)
            seen.add(windows[i].clip)
    order = firsts + [i for i in by_score if i not in firsts]
    chosen: list[tuple[Window, int, float]] = []
    left = budget
    for i in order:
        if left <= 0:
            break
        used = min(windows[i].beats, left)
        chosen.append((windows[i], used, scores[i]))
        left -= used
    chosen.sort(key=lambda x: (x[0].clip, x[0].start))
    return chosen


def _cut(clips: list[Clip], chosen: list[tuple[Window, int, float]], plan: ReelPlan) -> list[dict[str, Any]]:
    """Video segments whose starts fall on beats: segment ``i`` starts at beat ``B_i`` (the
    beats before it), lasts until beat ``B_i+1`` plus the transition into the next one."""
    segs: list[dict[str, Any]] = []
    beat_at = 0
    for n, (w, used, score) in enumerate(chosen):
        st = round(beat_at * plan.beat)
        beat_at += used
        end = round(beat_at * plan.beat)
        last = n == len(chosen) - 1
        d = end - st + (0 if last else plan.overlap)
        clip = clips[w.clip]
        ss = max(0, min(w.start, clip.duration_ms - d))
        seg = clip_seg(clip, ss=ss, d=d, sc=score)
        if n:
            seg["tr"] = {**TRANSITION, "d": plan.overlap}
        segs.append(seg)
    return segs


def _analysis_entries(
    clips: list[Clip], windows: list[Window], scores: list[float], plan: ReelPlan
) -> list[dict[str, Any]]:
    """One ``video_analyses`` entry per clip, with its windows' scores."""
    entries = []
    for ci, c in enumerate(clips):
        mine = [(w, sc) for w, sc in zip(windows, scores, strict=True) if w.clip == ci]
        spans = [(w.start, min(c.duration_ms - w.start, _window_ms(w, plan)), sc) for w, sc in mine]
        whole = sum(d * sc for _, d, sc in spans) / max(1, sum(d for _, d, _ in spans))
        entries.append(
            {
                "filename": c.filename,
                "hash": c.hash,
                "cdn_url": c.src,
                "duration": c.duration_ms / 1000,
                "motion_score": round(whole, 1),
                "segments": [{"start": s / 1000, "end": (s + d) / 1000, "score": sc} for s, d, sc in spans],
            }
        )
    return entries


def _whole_clips(clips: list[Clip]) -> list[dict[str, Any]]:
    """Footage too short for a beat: the clips as they are, with fades."""
    return [clip_seg(c, tr=i > 0) for i, c in enumerate(clips)]


async def highlight(intent: Intent, ctx: AgentContext) -> AsyncIterator[Step]:
    """Replace the video track with the best moments, cut on the beat, and the BGM track with
    generated music in the asked mood.

    Args:
        intent: The ``highlight`` intent; ``style`` picks the music (and so the tempo),
            ``title`` the draft title; ``aspect`` and ``text`` are applied too.
        ctx: The run's context.

    Yields:
        Thought, preview, the ``analyze_video``, ``generate_music`` and ``edit_multitrack``
        tool pairs, the answer (with a GUI hint when ``ctx.gui_phrasing``).
    """
    clips = clips_from_state(ctx.state, ctx.resolve)
    yield Thought("A highlight reel: find the most active moments, cut them together on the beat, add music.")
    yield Preview(say(intent, "Finding the best moments...", "正在寻找精彩瞬间……"))
    draft = current_draft(ctx.state)
    beat = beat_ms(intent.style)
    plan = plan_reel(sum(c.duration_ms for c in clips), beat)
    windows = _windows(clips, plan)
    call = tool_call(
        "analyze_video",
        {
            "video_urls": [c.src for c in clips],
            "metric": "motion",
            "window_s": round(plan.cut_beats * beat / 1000, 3),
            "bpm": round(60_000 / beat, 2),
        },
    )
    yield call
    scores = await ctx.scores([(clips[w.clip].path, w.start, _window_ms(w, plan)) for w in windows])
    delta = analysis_delta(ctx, _analysis_entries(clips, windows, scores, plan))
    yield ToolResult(call.call_id, call.name, {"status": "success", "windows": len(windows)}, delta)

    segs = _cut(clips, _choose(windows, scores, plan.beats), plan) if windows else _whole_clips(clips)
    drop_tracks(draft, lambda t: t.get("tt") == 0 or t.get("id") == "trk_t4")
    set_track(draft, video_track(segs))
    draft["m"] = {**(draft.get("m") or {}), "uploads": len(clips)}
    reel_ms = video_end(draft)

    call = music_call(intent, reel_ms)
    yield call
    music, result = await generate_music(ctx, intent, reel_ms, call)
    yield result
    drop_tracks(draft, lambda t: t.get("tt") == 1)
    set_track(draft, bgm_track(music.name, music.url, reel_ms))
    more = extras(draft, intent)
    finalize_draft(draft, title=draft_title(intent, intent.title))
    bpm = round(60_000 / beat)
    async for step in edit(
        ctx,
        draft,
        {
            "operation": "highlight_reel",
            "windows": len(segs),
            "transition": {**TRANSITION, "d": plan.overlap},
            "bpm": bpm,
            "style": playable_style(intent.style),
        },
        "highlight reel",
    ):
        yield step
    total_s = sum(c.duration_ms for c in clips) / 1000
    text = say(
        intent,
        f"Your highlight reel is ready: the {len(segs)} most action-packed moments "
        f"({reel_ms / 1000:.1f}s from {total_s:.1f}s of footage), cut on the beat of "
        f"{music.name.lower()} music ({bpm} BPM) with fade transitions.",
        f"高光集锦已完成：从 {total_s:.1f} 秒素材中选出 {len(segs)} 个最精彩的片段（{reel_ms / 1000:.1f} 秒），"
        f"按{music.name}风格配乐的节拍（{bpm} BPM）剪辑，带淡入淡出转场。",
    ) + more.sentence(intent)
    if ctx.gui_phrasing:
        text += " " + say(
            intent, "Drag the clips on the timeline to reorder them if you like.", "您可以在时间线上拖拽片段调整顺序。"
        )
    yield Answer(text)
