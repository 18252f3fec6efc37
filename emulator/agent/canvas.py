"""Intent ``aspect``: change the canvas (9:16 1080x1920, 1:1 1080x1080, 16:9 1920x1080) and
keep the rest of the edit; later edits keep the canvas (it lives in the draft's ``m`` and in
``canvas_config``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from emulator.agent.context import AgentContext, clips_from_state
from emulator.agent.drafts import finalize_draft, working_draft
from emulator.agent.intent import ASPECTS, Intent
from emulator.agent.steps import Answer, Preview, Step
from emulator.agent.titles import extras
from emulator.agent.tools import edit
from emulator.agent.wording import say

__all__ = ["aspect"]

_NAMES_EN = {"9:16": "vertical 9:16", "1:1": "square 1:1", "16:9": "landscape 16:9"}
_NAMES_ZH = {"9:16": "9:16 竖屏", "1:1": "1:1 方形", "16:9": "16:9 横屏"}


async def aspect(intent: Intent, ctx: AgentContext) -> AsyncIterator[Step]:
    """Set the draft's canvas (``m.width`` / ``m.height``) and ``canvas_config``.

    Uploaded clips join the timeline first (so "make it 9:16 vertical" right after an
    upload gives a vertical video of the clips); without clips only the canvas changes.

    Args:
        intent: The ``aspect`` intent (``aspect`` is ``9:16``, ``1:1`` or ``16:9``).
        ctx: The run's context.

    Yields:
        Preview, the ``edit_multitrack`` pair, the answer.
    """
    ratio = intent.aspect or "16:9"
    w, h = ASPECTS[ratio]
    clips = clips_from_state(ctx.state, ctx.resolve)
    yield Preview(say(intent, "Changing the canvas...", "正在调整画布……"))
    draft, _ = working_draft(ctx.state, clips)
    more = extras(draft, intent)
    more.en.pop(0)  # the canvas itself is the answer
    more.zh.pop(0)
    finalize_draft(draft)
    async for step in edit(
        ctx, draft, {"operation": "set_canvas", "aspect_ratio": ratio, "width": w, "height": h}, "canvas changed"
    ):
        yield step
    kept_en = " The clips, overlays and music are kept and fitted to the new frame." if draft["t"] else ""
    kept_zh = "片段、叠加层和音乐都已保留并适配新画面。" if draft["t"] else ""
    yield Answer(
        say(
            intent,
            f"Switched the video to {_NAMES_EN[ratio]} ({w}x{h}).{kept_en}",
            f"已将视频改为 {_NAMES_ZH[ratio]}（{w}x{h}）。{kept_zh}",
        )
        + more.sentence(intent)
    )
