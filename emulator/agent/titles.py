"""Intents ``title`` and ``text``: the user's own words on screen, at the time they ask for;
and :func:`extras`, which every edit uses to apply the canvas and the text a message also asks
for ("rank these clips and add title 'Top Plays'", "make a 1:1 square example clip")."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from emulator.agent.context import AgentContext, clips_from_state
from emulator.agent.drafts import finalize_draft, place_text, set_canvas, working_draft
from emulator.agent.intent import ASPECTS, Intent, TextRequest
from emulator.agent.steps import Answer, Preview, Step
from emulator.agent.tools import edit
from emulator.agent.wording import say, when_en, when_zh

__all__ = ["Extras", "draft_title", "extras", "put_text", "text", "title"]


class Extras:
    """What :func:`extras` did, as answer fragments (English and Chinese)."""

    def __init__(self) -> None:
        self.en: list[str] = []
        self.zh: list[str] = []

    def add(self, en: str, zh: str) -> None:
        self.en.append(en)
        self.zh.append(zh)

    def sentence(self, intent: Intent) -> str:
        """`` Also: ...`` for the answer, or ``""``."""
        if not self.en:
            return ""
        return say(intent, " Also " + "; ".join(self.en) + ".", "另外，" + "；".join(self.zh) + "。")


def put_text(draft: dict[str, Any], req: TextRequest, words: str) -> dict[str, Any]:
    """Place a :class:`TextRequest` with ``words`` (:func:`emulator.agent.drafts.place_text`)."""
    return place_text(draft, words, kind=req.kind, at=req.at, start_ms=req.start_ms, shown_ms=req.shown_ms, pos=req.pos)


def draft_title(intent: Intent, default: str | None = None) -> str | None:
    """The draft's new ``m.title``: the title the message asks for, else ``default``."""
    req = intent.text
    return req.text if req is not None and req.kind == "title" and req.text else default


def extras(draft: dict[str, Any], intent: Intent, *, with_text: bool = True) -> Extras:
    """Apply what the message asks for besides its main edit: the canvas (``9:16`` ...) and,
    with ``with_text``, a title or text overlay with the user's words.

    Args:
        draft: Changed in place (call :func:`emulator.agent.drafts.finalize_draft` after).
        intent: The intent (``aspect``, ``text``).
        with_text: Also place ``intent.text`` (off when the main edit used it already).

    Returns:
        The answer fragments.
    """
    done = Extras()
    if intent.aspect:
        w, h = ASPECTS[intent.aspect]
        set_canvas(draft, w, h)
        done.add(f"set the canvas to {intent.aspect} ({w}x{h})", f"画布已改为 {intent.aspect}（{w}x{h}）")
    req = intent.text
    if with_text and req is not None and req.text:
        seg = put_text(draft, req, req.text)
        what_en = "the title" if req.kind == "title" else "the text"
        what_zh = "标题" if req.kind == "title" else "文字"
        done.add(f'added {what_en} "{req.text}" {when_en(seg)}', f"添加了{what_zh}「{req.text}」（{when_zh(seg)}）")
    return done


async def title(intent: Intent, ctx: AgentContext) -> AsyncIterator[Step]:
    """Replace the title track (``trk_t1``) with the message's title, at the asked time
    (default: the first 3 s).

    Args:
        intent: The ``title`` intent; ``text.text`` (or ``title``) is the text (default
            "My Video" / "我的视频").
        ctx: The run's context.

    Yields:
        Preview, the ``edit_multitrack`` pair, the answer.
    """
    clips = clips_from_state(ctx.state, ctx.resolve)
    req = intent.text or TextRequest(intent.title)
    words = req.text or intent.title or say(intent, "My Video", "我的视频")
    yield Preview(say(intent, "Adding the title...", "正在添加标题……"))
    draft, _ = working_draft(ctx.state, clips)
    seg = put_text(draft, TextRequest(words, "title", req.at, req.start_ms, req.duration_ms, req.pos), words)
    more = extras(draft, intent, with_text=False)
    finalize_draft(draft, title=words)
    async for step in edit(ctx, draft, {"operation": "add_title", "text": words, "start_ms": seg["st"]}, "title added"):
        yield step
    seg = next(s for t in draft["t"] if t.get("id") == "trk_t1" for s in t["sg"])
    yield Answer(
        say(
            intent,
            f'Added the title "{words}" {when_en(seg)}.',
            f"已添加标题「{words}」，{when_zh(seg)}。",
        )
        + more.sentence(intent)
    )


async def text(intent: Intent, ctx: AgentContext) -> AsyncIterator[Step]:
    """Add a text overlay or caption (``trk_t3``) with the user's words at the asked time
    (default: the first 3 s; "at the end": the last 2 s).

    Args:
        intent: The ``text`` intent (``text`` holds the words and time; without words the
            text is "Text" / "文字").
        ctx: The run's context.

    Yields:
        Preview, the ``edit_multitrack`` pair, the answer.
    """
    clips = clips_from_state(ctx.state, ctx.resolve)
    req = intent.text or TextRequest(intent.title, kind="caption")
    words = req.text or intent.title or say(intent, "Text", "文字")
    yield Preview(say(intent, "Adding the text...", "正在添加文字……"))
    draft, _ = working_draft(ctx.state, clips)
    placed = put_text(draft, TextRequest(words, "caption", req.at, req.start_ms, req.duration_ms, req.pos), words)
    more = extras(draft, intent, with_text=False)
    finalize_draft(draft)
    async for step in edit(
        ctx, draft, {"operation": "add_text", "text": words, "start_ms": placed["st"], "pos": req.pos}, "text added"
    ):
        yield step
    seg = next(s for t in draft["t"] if t.get("id") == "trk_t3" for s in t["sg"] if s["id"] == placed["id"])
    yield Answer(
        say(
            intent,
            f'Added the text "{words}" {when_en(seg)}.',
            f"已添加文字「{words}」，{when_zh(seg)}。",
        )
        + more.sentence(intent)
    )
