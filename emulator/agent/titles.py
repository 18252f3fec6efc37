"""Intent ``title``: a title over the first three seconds."""

from __future__ import annotations

from collections.abc import AsyncIterator

from emulator.agent.context import AgentContext, clips_from_state
from emulator.agent.drafts import (
    current_draft,
    drop_tracks,
    ensure_video,
    finalize_draft,
    is_kind_track,
    set_track,
    title_track,
    video_end,
)
from emulator.agent.intent import Intent
from emulator.agent.steps import Answer, Preview, Step
from emulator.agent.tools import edit
from emulator.agent.wording import say

__all__ = ["title"]


async def title(intent: Intent, ctx: AgentContext) -> AsyncIterator[Step]:
    """Replace the title track (``trk_t1``) with the message's title, shown 0-3 s.

    Args:
        intent: The ``title`` intent; ``title`` is the text (default "My Video" / "我的视频").
        ctx: The run's context.

    Yields:
        Preview, the ``edit_multitrack`` pair, the answer.
    """
    clips = clips_from_state(ctx.state, ctx.resolve)
    text = intent.title or say(intent, "My Video", "我的视频")
    yield Preview(say(intent, "Adding the title...", "正在添加标题……"))
    draft = current_draft(ctx.state)
    ensure_video(draft, clips)
    drop_tracks(draft, is_kind_track("title"))
    set_track(draft, title_track(text, video_end(draft)))
    finalize_draft(draft, title=text)
    async for step in edit(ctx, draft, {"operation": "add_title", "text": text}, "title added"):
        yield step
    yield Answer(
        say(intent, f'Added the title "{text}" for the first 3 seconds.', f"已添加标题「{text}」，显示前 3 秒。")
    )
