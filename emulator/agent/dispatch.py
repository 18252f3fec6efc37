"""Carrying out an intent: the table from intent kind to handler, and :func:`run`."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable

from emulator import media
from emulator.agent import canvas, example, highlight, leaderboard, music, replies, titles
from emulator.agent.context import AgentContext
from emulator.agent.intent import Intent
from emulator.agent.steps import Answer, Step
from emulator.agent.wording import say

__all__ = ["HANDLERS", "Handler", "run"]

#: An intent handler: yields the run's steps.
Handler = Callable[[Intent, AgentContext], AsyncIterator[Step]]

#: Intent kind -> handler; unknown kinds get :func:`emulator.agent.replies.chat`.
HANDLERS: dict[str, Handler] = {
    "leaderboard": leaderboard.leaderboard,
    "rank": leaderboard.rank,
    "highlight": highlight.highlight,
    "example": example.example,
    "music": music.music,
    "title": titles.title,
    "text": titles.text,
    "aspect": canvas.aspect,
    "remove_music": music.remove_music,
    "export": replies.export,
    "need_clip": replies.need_clip,
    "gui_step": replies.gui_step,
    "no_music": music.no_music,
    "chat": replies.chat,
}


async def run(intent: Intent, ctx: AgentContext) -> AsyncGenerator[Step, None]:
    """Carry out an intent, yielding the run's steps.

    Blocking media work (motion scores, music) runs in worker threads between two steps.
    On a media failure the run ends with an :class:`Answer` explaining it and no state change.

    Args:
        intent: From :func:`emulator.agent.intent.decide`.
        ctx: The session's :class:`AgentContext`.

    Yields:
        :class:`~emulator.agent.steps.Thought` / :class:`~emulator.agent.steps.Preview`
        first, then :class:`~emulator.agent.steps.ToolCall` /
        :class:`~emulator.agent.steps.ToolResult` pairs, then one :class:`Answer`.
    """
    handler = HANDLERS.get(intent.kind, replies.chat)
    try:
        async for step in handler(intent, ctx):
            yield step
    except media.MediaError as e:
        yield Answer(say(intent, f"Sorry, I couldn't process your media: {e}", f"抱歉，无法处理您的素材：{e}"))
