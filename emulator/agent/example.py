"""Intent ``example``: a short example clip (the first clip's first 5 s with a title)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from emulator.agent.context import AgentContext, clips_from_state
from emulator.agent.drafts import clip_seg, empty_draft, finalize_draft, set_track, title_track, video_track
from emulator.agent.intent import Intent
from emulator.agent.steps import Answer, Preview, Step
from emulator.agent.tools import edit
from emulator.agent.wording import say

__all__ = ["EXAMPLE_MAX_MS", "example"]

EXAMPLE_MAX_MS = 5000


async def example(intent: Intent, ctx: AgentContext) -> AsyncIterator[Step]:
    """Start a new timeline: the first clip's first :data:`EXAMPLE_MAX_MS` ms and a title.

    Args:
        intent: The ``example`` intent; ``title`` is the title (default "Example Clip").
        ctx: The run's context.

    Yields:
        Preview, the ``edit_multitrack`` pair, the answer.
    """
    clips = clips_from_state(ctx.state, ctx.resolve)
    clip = clips[0]
    title = intent.title or "Example Clip"
    yield Preview(say(intent, "Making a short example clip...", "正在制作示例短片……"))
    draft = empty_draft(ctx.state.get("canvas_config"))
    d = min(EXAMPLE_MAX_MS, clip.duration_ms)
    set_track(draft, video_track([clip_seg(clip, d=d)]))
    set_track(draft, title_track(title, d))
    finalize_draft(draft, title=title)
    async for step in edit(
        ctx, draft, {"operation": "trim_and_title", "max_ms": EXAMPLE_MAX_MS, "title": title}, "example clip"
    ):
        yield step
    yield Answer(
        say(
            intent,
            f'Here\'s a {d / 1000:.1f}s example clip from {clip.filename} with the title "{title}".',
            f"已从 {clip.filename} 制作了 {d / 1000:.1f} 秒的示例短片，标题为「{title}」。",
        )
    )
