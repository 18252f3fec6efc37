"""Text-only intents: ``export`` (GUI-style answer), ``need_clip``, ``gui_step`` and the ``chat``
fallback.

None of them changes the draft.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from emulator.agent.context import AgentContext
from emulator.agent.intent import Intent
from emulator.agent.steps import Answer, Preview, Step
from emulator.agent.wording import say

__all__ = ["chat", "export", "gui_step", "need_clip"]


async def export(intent: Intent, ctx: AgentContext) -> AsyncIterator[Step]:
    """Answer an export request the way the web editor's agent does (contract section 6).

    The agent cannot export: with ``ctx.gui_phrasing`` it points at the Export button.

    Yields:
        The answer (nothing to export yet when the draft has no segment).
    """
    draft = ctx.state.get("draft") or {}
    if not any(t.get("sg") for t in draft.get("t") or []):
        yield Answer(
            say(
                intent,
                "There's nothing to export yet: upload a clip and tell me what to make.",
                "还没有可导出的内容：请先上传片段并告诉我要做什么。",
            )
        )
        return
    if ctx.gui_phrasing:
        yield Answer(
            say(
                intent,
                "Your video is ready! Click the Export button in the top right corner to download it.",
                "您的视频已准备好！点击右上角的导出按钮即可下载。",
            )
        )
    else:
        yield Answer(say(intent, "Your video is ready to export.", "您的视频已可以导出。"))


async def need_clip(intent: Intent, ctx: AgentContext) -> AsyncIterator[Step]:
    """Ask for a video clip (an edit request while none is uploaded).

    Yields:
        The answer.
    """
    yield Answer(
        say(
            intent,
            "I need a video clip for that. Please upload one (mp4, mov, avi, webm or mkv) and ask again.",
            "这需要一个视频片段。请先上传视频（mp4、mov、avi、webm 或 mkv）再试一次。",
        )
    )


async def gui_step(intent: Intent, ctx: AgentContext) -> AsyncIterator[Step]:
    """Answer a web-editor step handed back to the agent ("drag the clips on the timeline to
    reorder them"): the edit stays as it is, and the answer says how to ask for a change.

    Yields:
        The answer.
    """
    yield Answer(
        say(
            intent,
            "No problem: the timeline stays as it is. To change it, just tell me, "
            'for example "rank my clips by action" or "add title \'My Video\' at the end".',
            "没问题：时间线保持不变。如需修改，直接告诉我即可，例如“按动作强度给我的片段排名”或“在结尾添加标题「我的视频」”。",
        )
    )


async def chat(intent: Intent, ctx: AgentContext) -> AsyncIterator[Step]:
    """The fallback: greet and list what the agent can do.

    Yields:
        A preview, then the answer.
    """
    yield Preview(say(intent, "Hi!", "你好！"))
    yield Answer(
        say(
            intent,
            "Hi! I can rank your clips, add a leaderboard, make a highlight reel, add music or a title. "
            "What would you like?",
            "你好！我可以为片段排名、添加排行榜、制作高光集锦、添加音乐或标题。需要我做什么？",
        )
    )
