"""Intents ``music``, ``remove_music`` and ``no_music``: the background music track."""

from __future__ import annotations

from collections.abc import AsyncIterator

from emulator.agent.context import AgentContext, clips_from_state
from emulator.agent.drafts import (
    BGM_VOLUME,
    bgm_track,
    drop_tracks,
    finalize_draft,
    set_track,
    video_end,
    working_draft,
)
from emulator.agent.intent import Intent
from emulator.agent.steps import Answer, Preview, Step
from emulator.agent.titles import draft_title, extras
from emulator.agent.tools import STYLE_NAMES, Music, edit, generate_music, music_call, playable_style
from emulator.agent.wording import say

__all__ = ["music", "no_music", "remove_music"]


def _uploaded_music(ctx: AgentContext) -> Music | None:
    """The last uploaded audio file (``video_infos`` with ``file_type`` ``audio``), if any."""
    uploaded = [
        i
        for i in ctx.state.get("video_infos") or []
        if isinstance(i, dict) and i.get("file_type") == "audio" and i.get("cdn_url")
    ]
    if not uploaded:
        return None
    audio = uploaded[-1]
    return Music(audio["cdn_url"], str(audio.get("filename") or "Music"))


def _substitute(intent: Intent) -> str:
    """A note when the asked mood is not among the generated styles (its nearest is used)."""
    played = playable_style(intent.style)
    if not intent.style_named or played == intent.style:
        return ""
    asked = STYLE_NAMES.get(intent.style, intent.style)
    return say(
        intent,
        f" ({asked} music is not available yet, so I used the closest style.)",
        f"（暂无{asked}风格，已使用最接近的风格。）",
    )


async def music(intent: Intent, ctx: AgentContext) -> AsyncIterator[Step]:
    """Put music under the whole video (BGM track ``trk_b1``, 35% volume, fades).

    The last uploaded audio file is used unless the message names a style; otherwise music
    is generated.

    Args:
        intent: The ``music`` intent; ``style`` / ``style_named`` pick the music.
        ctx: The run's context.

    Yields:
        Preview, the ``generate_music`` pair (when generating), the ``edit_multitrack`` pair,
        the answer (with a GUI hint when ``ctx.gui_phrasing``).
    """
    clips = clips_from_state(ctx.state, ctx.resolve)
    yield Preview(say(intent, "Adding background music...", "正在添加背景音乐……"))
    draft, _ = working_draft(ctx.state, clips)
    end = video_end(draft)
    chosen = None if intent.style_named else _uploaded_music(ctx)
    if chosen is None:
        call = music_call(intent, end)
        yield call
        chosen, result = await generate_music(ctx, intent, end, call)
        yield result
    url, name = chosen
    drop_tracks(draft, lambda t: t.get("tt") == 1)
    set_track(draft, bgm_track(name, url, end))
    more = extras(draft, intent)
    finalize_draft(draft, title=draft_title(intent))
    async for step in edit(ctx, draft, {"operation": "add_bgm", "volume": BGM_VOLUME, "src": url}, "music added"):
        yield step
    text = (
        say(
            intent,
            f"Added {name} background music over the whole video ({end / 1000:.1f}s) at 35% volume with fades.",
            f"已为整个视频（{end / 1000:.1f} 秒）添加{name}背景音乐，音量 35%，带淡入淡出。",
        )
        + _substitute(intent)
        + more.sentence(intent)
    )
    if ctx.gui_phrasing:
        text += " " + say(intent, "Open the Audio panel to adjust the volume.", "您可以打开音频面板调整音量。")
    yield Answer(text)


async def remove_music(intent: Intent, ctx: AgentContext) -> AsyncIterator[Step]:
    """Drop the BGM track.

    Yields:
        Preview, the ``edit_multitrack`` pair, the answer.
    """
    yield Preview(say(intent, "Removing the music...", "正在移除音乐……"))
    draft, _ = working_draft(ctx.state, clips_from_state(ctx.state, ctx.resolve))
    drop_tracks(draft, lambda t: t.get("tt") == 1)
    finalize_draft(draft)
    async for step in edit(ctx, draft, {"operation": "remove_bgm"}, "music removed"):
        yield step
    yield Answer(say(intent, "Removed the background music.", "已移除背景音乐。"))


async def no_music(intent: Intent, ctx: AgentContext) -> AsyncIterator[Step]:
    """Answer that there is no music to remove (``remove_music`` on a draft without BGM).

    Yields:
        The answer.
    """
    yield Answer(say(intent, "There's no background music to remove.", "当前没有背景音乐可以移除。"))
