"""Intent ``example``: a short example clip (the latest clip's first 5 s with a title)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from emulator.agent.context import AgentContext, clips_from_state
from emulator.agent.drafts import clip_seg, current_draft, empty_draft, finalize_draft, set_track, video_track
from emulator.agent.intent import Intent, TextRequest
from emulator.agent.steps import Answer, Preview, Step
from emulator.agent.titles import Extras, extras, put_text
from emulator.agent.tools import edit
from emulator.agent.wording import say, when_en, when_zh

__all__ = ["EXAMPLE_MAX_MS", "example"]

EXAMPLE_MAX_MS = 5000


async def example(intent: Intent, ctx: AgentContext) -> AsyncIterator[Step]:
    """Start a new timeline: the latest clip's first :data:`EXAMPLE_MAX_MS` ms and a title.

    The canvas of the current draft is kept, unless the message asks for another one
    ("make a 1:1 square example clip").

    Args:
        intent: The ``example`` intent; ``text`` / ``title`` give the title (default: the
            current title, else "Example Clip" / "示例短片") and its time (default the first 3 s).
        ctx: The run's context.

    Yields:
        Preview, the ``edit_multitrack`` pair, the answer.
    """
    clips = clips_from_state(ctx.state, ctx.resolve)
    clip = clips[-1]
    req = intent.text if intent.text is not None and intent.text.kind == "title" else None
    current = current_draft(ctx.state)
    kept = next(
        (s.get("txt") for t in current.get("t") or [] if t.get("id") == "trk_t1" for s in t.get("sg") or []), None
    )
    title = (req.text if req else None) or intent.title or kept or say(intent, "Example Clip", "示例短片")
    yield Preview(say(intent, "Making a short example clip...", "正在制作示例短片……"))
    old_m = current.get("m") or {}
    canvas = {
        "width": old_m.get("width") or (ctx.state.get("canvas_config") or {}).get("width"),
        "height": old_m.get("height") or (ctx.state.get("canvas_config") or {}).get("height"),
    }
    draft = empty_draft(canvas)
    d = min(EXAMPLE_MAX_MS, clip.duration_ms)
    set_track(draft, video_track([clip_seg(clip, d=d)]))
    draft["m"]["uploads"] = len(clips)
    placed = req or TextRequest(title)
    seg = put_text(
        draft, TextRequest(title, "title", placed.at, placed.start_ms, placed.duration_ms, placed.pos), title
    )
    more = extras(draft, intent, with_text=req is None)
    finalize_draft(draft, title=title)
    async for step in edit(
        ctx,
        draft,
        {"operation": "trim_and_title", "max_ms": EXAMPLE_MAX_MS, "title": title, "source": clip.src},
        "example clip",
    ):
        yield step
    m = draft["m"]
    size_en = f" on a {m['width']}x{m['height']} canvas" if intent.aspect else ""
    size_zh = f"，画布 {m['width']}x{m['height']}" if intent.aspect else ""
    yield Answer(
        say(
            intent,
            f'Here\'s a {d / 1000:.1f}s example clip from {clip.filename}{size_en} with the title "{title}" '
            f"{when_en(seg)}.",
            f"已从 {clip.filename} 制作了 {d / 1000:.1f} 秒的示例短片{size_zh}，标题为「{title}」（{when_zh(seg)}）。",
        )
        + _rest(more, intent)
    )


def _rest(more: Extras, intent: Intent) -> str:
    """The extras beyond the canvas (already in the answer)."""
    if intent.aspect and more.en:
        more.en.pop(0)
        more.zh.pop(0)
    return more.sentence(intent)
