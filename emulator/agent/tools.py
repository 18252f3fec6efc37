"""The agent's tools, shared by the intent handlers.

Each tool is a :class:`~emulator.agent.steps.ToolCall` the handler yields first, then work
(in worker threads), then the matching :class:`~emulator.agent.steps.ToolResult` whose
``state_delta`` carries the session state keys the tool replaced::

    call = tool_call("analyze_video", args)
    yield call
    scores, result = await score_clips(ctx, clips, call)
    yield result
"""

from __future__ import annotations

import asyncio
import math
import secrets
from collections.abc import AsyncIterator
from typing import Any, NamedTuple

from emulator import media
from emulator.agent.context import AgentContext, Clip
from emulator.agent.intent import Intent
from emulator.agent.steps import Step, ToolCall, ToolResult, tool_call

__all__ = [
    "LEADERBOARD_MAX_PARTS",
    "STYLE_BPM",
    "STYLE_FALLBACK",
    "STYLE_NAMES",
    "Music",
    "analysis_delta",
    "beat_ms",
    "canvas_config",
    "edit",
    "generate_music",
    "music_call",
    "playable_style",
    "score_clips",
    "score_parts",
]

#: A single clip is split into up to this many equal parts ("plays") to rank.
LEADERBOARD_MAX_PARTS = 5
#: Music style -> display name.
STYLE_NAMES = {
    "lofi": "Lo-fi",
    "epic": "Epic",
    "chill": "Chill",
    "tense": "Tense",
    "retro": "Retro",
    "atmospheric": "Atmospheric",
}
#: Tempo (BPM) per style, used when :data:`emulator.media.MUSIC_STYLES` does not say.
STYLE_BPM = {"lofi": 78.0, "epic": 128.0, "chill": 92.0, "tense": 108.0, "retro": 150.0, "atmospheric": 64.0}
#: The style generated instead when :data:`emulator.media.MUSIC_STYLES` lacks a mood.
STYLE_FALLBACK = {"tense": "epic", "retro": "epic", "atmospheric": "chill"}


class Music(NamedTuple):
    """A music file the agent can put on the BGM track."""

    url: str
    name: str


def playable_style(style: str) -> str:
    """The style :func:`emulator.media.make_music` will really play for ``style``: the style
    itself when :data:`emulator.media.MUSIC_STYLES` has it, else its nearest mood
    (:data:`STYLE_FALLBACK`), else ``lofi``."""
    if style in media.MUSIC_STYLES:
        return style
    fallback = STYLE_FALLBACK.get(style, "lofi")
    return fallback if fallback in media.MUSIC_STYLES else "lofi"


def beat_ms(style: str) -> float:
    """The beat period (ms) of the music generated for ``style`` (its tempo in
    :data:`emulator.media.MUSIC_STYLES`, else :data:`STYLE_BPM`)."""
    played = playable_style(style)
    bpm = getattr(media.MUSIC_STYLES.get(played), "bpm", None) or STYLE_BPM.get(played, 100.0)
    return 60_000.0 / float(bpm)


def canvas_config(draft: dict[str, Any]) -> dict[str, Any]:
    """The ``canvas_config`` state entry matching the draft's canvas (``m.width`` x ``m.height``)."""
    m = draft.get("m") or {}
    w, h = int(m.get("width") or 1920), int(m.get("height") or 1080)
    g = math.gcd(w, h) or 1
    return {"width": w, "height": h, "aspect_ratio": f"{w // g}:{h // g}"}


async def edit(ctx: AgentContext, draft: dict[str, Any], args: dict[str, Any], summary: str) -> AsyncIterator[Step]:
    """The ``edit_multitrack`` tool pair that replaces the session's draft.

    Args:
        ctx: The run's context.
        draft: The finished draft (``state_delta`` ``{"draft": draft}``).
        args: The call's arguments (the operation).
        summary: A short description for the tool's answer.

    Yields:
        The :class:`ToolCall`, then the :class:`ToolResult` (track count, duration in ms);
        when the draft's canvas differs from ``canvas_config``, the delta carries the new
        ``canvas_config`` too.
    """
    call = tool_call("edit_multitrack", args)
    yield call
    await asyncio.sleep(0)
    delta: dict[str, Any] = {"draft": draft}
    canvas = canvas_config(draft)
    old = ctx.state.get("canvas_config") or {}
    if (old.get("width"), old.get("height")) != (canvas["width"], canvas["height"]):
        delta["canvas_config"] = canvas
        ctx.state["canvas_config"] = canvas
    yield ToolResult(
        call.call_id,
        call.name,
        {"status": "success", "summary": summary, "tracks": len(draft["t"]), "duration_ms": draft["d"]},
        delta,
    )


def analysis_delta(ctx: AgentContext, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """Merge analysis entries into ``ctx.state["video_analyses"]`` (one per clip hash).

    Returns:
        The state delta ``{"video_analyses": merged}``.
    """
    existing = [a for a in ctx.state.get("video_analyses") or [] if isinstance(a, dict)]
    hashes = {e["hash"] for e in entries}
    merged = [a for a in existing if a.get("hash") not in hashes] + entries
    ctx.state["video_analyses"] = merged
    return {"video_analyses": merged}


async def score_clips(ctx: AgentContext, clips: list[Clip], call: ToolCall) -> tuple[list[float], ToolResult]:
    """Score whole clips for ``call`` (``analyze_video`` or ``rank_clips``).

    Returns:
        The motion scores (0-100, one per clip) and the call's :class:`ToolResult`.

    Raises:
        emulator.media.MediaError: a clip cannot be decoded.
    """
    scores = await ctx.scores([(c.path, 0, None) for c in clips])
    entries = [
        {"filename": c.filename, "hash": c.hash, "cdn_url": c.src, "duration": c.duration_ms / 1000, "motion_score": s}
        for c, s in zip(clips, scores, strict=True)
    ]
    result = ToolResult(
        call.call_id,
        call.name,
        {
            "status": "success",
            "scores": [{"filename": c.filename, "score": s} for c, s in zip(clips, scores, strict=True)],
        },
        analysis_delta(ctx, entries),
    )
    return scores, result


def _parts(duration_ms: int, max_parts: int = LEADERBOARD_MAX_PARTS) -> list[tuple[int, int]]:
    """Split a clip into up to ``max_parts`` equal parts of at least one second."""
    n = max(1, min(max_parts, duration_ms // 1000))
    size = duration_ms // n
    return [(i * size, size if i < n - 1 else duration_ms - i * size) for i in range(n)]


async def score_parts(ctx: AgentContext, clip: Clip, call: ToolCall) -> tuple[list[tuple[int, int, float]], ToolResult]:
    """Score one clip's parts (up to :data:`LEADERBOARD_MAX_PARTS` "plays") for ``call``.

    Returns:
        ``(start_ms, duration_ms, score)`` per part, and the call's :class:`ToolResult`.

    Raises:
        emulator.media.MediaError: the clip cannot be decoded.
    """
    parts = _parts(clip.duration_ms)
    scores = await ctx.scores([(clip.path, s, d) for s, d in parts])
    scored = [(s, d, sc) for (s, d), sc in zip(parts, scores, strict=True)]
    whole = sum(d * sc for _, d, sc in scored) / max(1, clip.duration_ms)
    entry = {
        "filename": clip.filename,
        "hash": clip.hash,
        "cdn_url": clip.src,
        "duration": clip.duration_ms / 1000,
        "motion_score": round(whole, 1),
        "segments": [{"start": s / 1000, "end": (s + d) / 1000, "score": sc} for s, d, sc in scored],
    }
    result = ToolResult(
        call.call_id,
        call.name,
        {"status": "success", "parts": [{"name": f"Play {i}", "score": sc} for i, (_, _, sc) in enumerate(scored, 1)]},
        analysis_delta(ctx, [entry]),
    )
    return scored, result


def _music_seconds(duration_ms: int) -> float:
    return max(1.0, duration_ms / 1000)


def music_call(intent: Intent, duration_ms: int) -> ToolCall:
    """The ``generate_music`` call for ``duration_ms`` of music in the intent's style."""
    return tool_call(
        "generate_music", {"style": playable_style(intent.style), "duration": round(_music_seconds(duration_ms), 3)}
    )


async def generate_music(
    ctx: AgentContext, intent: Intent, duration_ms: int, call: ToolCall
) -> tuple[Music, ToolResult]:
    """Generate the music ``call`` asked for (:func:`emulator.media.make_music`, in a worker thread).

    The file is added to ``ctx.state["generated_media"]``.

    Args:
        ctx: The run's context (``new_media`` allocates the file).
        intent: Its ``style`` picks the music.
        duration_ms: Length of the music (at least one second).
        call: From :func:`music_call`.

    Returns:
        The music (URL, display name) and the call's :class:`ToolResult`.

    Raises:
        emulator.media.MediaError: ffmpeg fails.
    """
    style = playable_style(intent.style)
    name = STYLE_NAMES.get(style, style.title())
    seconds = _music_seconds(duration_ms)
    url, path = ctx.new_media(f"{style}.m4a")
    await ctx.to_thread(media.make_music, path, seconds, style=style)
    entry = {
        "id": f"gen_{secrets.token_hex(4)}",
        "type": "music",
        "name": name,
        "style": style,
        "url": url,
        "duration": round(seconds, 3),
    }
    generated = [*(ctx.state.get("generated_media") or []), entry]
    ctx.state["generated_media"] = generated
    result = ToolResult(
        call.call_id,
        call.name,
        {"status": "success", "url": url, "duration": round(seconds, 3)},
        {"generated_media": generated},
    )
    return Music(url, name), result
