"""Intents ``leaderboard`` and ``rank``: score the clips by on-screen action and show the ranking.

Several clips are scored whole; a single clip is split into up to five "plays" that are
scored and ranked instead. ``leaderboard`` keeps the timeline and adds the panel; ``rank``
reorders the clips by score (best first, or as a countdown) with transitions, shows each
clip's rank while it plays (``trk_t4``) and adds the panel.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from emulator.agent.context import AgentContext, clips_from_state
from emulator.agent.drafts import (
    TRANSITION,
    clip_seg,
    current_draft,
    drop_tracks,
    finalize_draft,
    is_kind_track,
    leaderboard_track,
    rank_track,
    set_track,
    video_end,
    video_track,
    working_draft,
)
from emulator.agent.intent import Intent
from emulator.agent.steps import Answer, Preview, Step, Thought, tool_call
from emulator.agent.titles import draft_title, extras
from emulator.agent.tools import LEADERBOARD_MAX_PARTS, edit, score_clips, score_parts
from emulator.agent.wording import GUI_EXPORT_EN, GUI_EXPORT_ZH, fmt_rows, say

__all__ = ["leaderboard", "rank"]


def _rank_rows(items: list[tuple[str, float]]) -> list[dict[str, Any]]:
    """Rows ranked by score (descending; ties keep input order), rank 1 first."""
    order = sorted(range(len(items)), key=lambda i: (-items[i][1], i))
    return [{"rank": r, "name": items[i][0], "score": round(items[i][1], 1)} for r, i in enumerate(order, start=1)]


def _play_rows(scored: list[tuple[int, int, float]]) -> list[dict[str, Any]]:
    """Rows for one clip's parts, named ``Play 1``, ``Play 2``... in clip order."""
    return _rank_rows([(f"Play {i}", sc) for i, (_, _, sc) in enumerate(scored, 1)])


def _board_name(intent: Intent) -> str:
    """The leaderboard's header: the quoted words, unless they are a separate title or text
    ("rank these clips and add title 'Top Plays'"), else "Top performers" / "最佳表现"."""
    if intent.title and intent.text is None:
        return intent.title
    return say(intent, "Top performers", "最佳表现")


def _stem(name: str) -> str:
    return name.rsplit(".", 1)[0] if "." in name[1:] else name


async def leaderboard(intent: Intent, ctx: AgentContext) -> AsyncIterator[Step]:
    """Add a leaderboard overlay (``trk_t2``) ranking the clips, or one clip's plays.

    Keeps the timeline (adds the clips back to back when there is no video).

    Args:
        intent: The ``leaderboard`` intent; ``title`` names the board (default "Top performers").
        ctx: The run's context.

    Yields:
        Thought, preview, the ``analyze_video`` and ``edit_multitrack`` tool pairs, the answer
        (with the GUI export hint when ``ctx.gui_phrasing``).
    """
    title = _board_name(intent)
    yield Thought("The user wants a ranked leaderboard. I'll score the footage by on-screen action first.")
    yield Preview(say(intent, "Adding the leaderboard...", "正在添加排行榜……"))
    clips = clips_from_state(ctx.state, ctx.resolve)
    draft, _ = working_draft(ctx.state, clips)
    if len(clips) > 1:
        call = tool_call("analyze_video", {"video_urls": [c.src for c in clips], "metric": "motion"})
        yield call
        scores, result = await score_clips(ctx, clips, call)
        yield result
        rows = _rank_rows([(c.filename, s) for c, s in zip(clips, scores, strict=True)])
    else:
        call = tool_call(
            "analyze_video", {"video_urls": [clips[0].src], "metric": "motion", "split": LEADERBOARD_MAX_PARTS}
        )
        yield call
        scored, result = await score_parts(ctx, clips[0], call)
        yield result
        rows = _play_rows(scored)
    drop_tracks(draft, is_kind_track("leaderboard"))
    set_track(draft, leaderboard_track(title, rows, video_end(draft)))
    more = extras(draft, intent)
    finalize_draft(draft, title=draft_title(intent, title))
    async for step in edit(
        ctx, draft, {"operation": "add_leaderboard", "title": title, "rows": rows}, "leaderboard added"
    ):
        yield step
    text = say(
        intent,
        f'Added the "{title}" leaderboard, ranked by on-screen action: {fmt_rows(rows)}.',
        f"已添加排行榜「{title}」，按画面动作强度排名：{fmt_rows(rows)}。",
    ) + more.sentence(intent)
    if ctx.gui_phrasing:
        text += " " + say(intent, GUI_EXPORT_EN, GUI_EXPORT_ZH)
    yield Answer(text)


async def rank(intent: Intent, ctx: AgentContext) -> AsyncIterator[Step]:
    """Reorder the timeline by score (best first, or as a countdown) with fades, each clip's
    rank on screen while it plays, and a leaderboard.

    All uploaded clips take part (a single clip is split into up to five plays). Other
    tracks (music, title, text) are kept; the canvas and a title or text the message asks
    for are applied (:func:`emulator.agent.titles.extras`).

    Args:
        intent: The ``rank`` intent; ``countdown`` puts the best last, ``criterion`` names
            the score (``engagement`` is estimated from on-screen action too), ``title``
            names the leaderboard (default "Top performers").
        ctx: The run's context.

    Yields:
        Thought, preview, the ``rank_clips`` and ``edit_multitrack`` tool pairs, the answer.
    """
    clips = clips_from_state(ctx.state, ctx.resolve)
    order_name = "countdown" if intent.countdown else "best_first"
    yield Thought("Ranking the clips by action: score each one, then reorder the timeline.")
    yield Preview(say(intent, "Ranking your clips...", "正在为片段排名……"))
    draft = current_draft(ctx.state)
    args = {"criterion": intent.criterion, "order": order_name, "video_urls": [c.src for c in clips]}
    if len(clips) > 1:
        call = tool_call("rank_clips", args)
        yield call
        scores, result = await score_clips(ctx, clips, call)
        yield result
        rows = _rank_rows([(c.filename, s) for c, s in zip(clips, scores, strict=True)])
        ranked = sorted(range(len(clips)), key=lambda i: (-scores[i], i))
        segs = [clip_seg(clips[i], sc=scores[i], tr=True) for i in ranked]
        labels = [f"#{r} {_stem(clips[i].filename)}" for r, i in enumerate(ranked, 1)]
    else:
        call = tool_call("rank_clips", {**args, "split": LEADERBOARD_MAX_PARTS})
        yield call
        scored, result = await score_parts(ctx, clips[0], call)
        yield result
        rows = _play_rows(scored)
        ranked = sorted(range(len(scored)), key=lambda i: (-scored[i][2], i))
        segs = [clip_seg(clips[0], ss=scored[i][0], d=scored[i][1], sc=scored[i][2], tr=True) for i in ranked]
        labels = [f"#{r} Play {i + 1}" for r, i in enumerate(ranked, 1)]
    if intent.countdown:
        segs.reverse()
        labels.reverse()
    drop_tracks(draft, lambda t: t.get("tt") == 0)
    video = video_track(segs)
    set_track(draft, video)
    set_track(draft, rank_track(video["sg"], labels))
    drop_tracks(draft, is_kind_track("leaderboard"))
    title = _board_name(intent)
    set_track(draft, leaderboard_track(title, rows, video_end(draft)))
    draft["m"] = {**(draft.get("m") or {}), "uploads": len(clips)}
    more = extras(draft, intent)
    finalize_draft(draft, title=draft_title(intent, title))
    async for step in edit(
        ctx, draft, {"operation": "reorder_clips", "order": order_name, "transition": TRANSITION}, "clips ranked"
    ):
        yield step
    if intent.countdown:
        how_en, how_zh = "as a countdown (the best comes last)", "倒数顺序（最佳放在最后）"
    else:
        how_en, how_zh = "best first", "最佳在前"
    if intent.criterion == "engagement":
        by_en, by_zh = "by engagement score (estimated from on-screen action)", "按互动分数（根据画面动作强度估算）"
    else:
        by_en, by_zh = "by action", "按动作强度"
    yield Answer(
        say(
            intent,
            f"Ranked your clips {by_en}, {how_en}, with fade transitions, each clip's rank on screen "
            f"and a leaderboard: {fmt_rows(rows)}.",
            f"已{by_zh}为片段排名，{how_zh}，并添加了淡入淡出转场、每个片段的名次和排行榜：{fmt_rows(rows)}。",
        )
        + more.sentence(intent)
    )
