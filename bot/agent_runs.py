"""Agent runs: send one request to the NemoVideo agent and answer from its SSE stream.

A run (contract section 3) posts one progress message that is edited as tools run, then
answers with the agent's text after GUI translation (section 6). A run that says nothing
is answered from the draft's diff. A run is never re-sent: a dropped stream is followed by
reading the state until it changes, and a run cut off by a restart is reported afterwards
from a marker kept in the conversation (``data["run"]``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot import metrics
from bot.access import AccessPolicy, RunSlots
from bot.boundary import Button
from bot.conversations import Conversations
from bot.errors import AgentFailed, AgentTimedOut
from bot.gui import translate
from bot.nemo import timeline
from bot.nemo.errors import NemoError, NemoSessionNotFound, NemoStreamDropped, NemoTimeoutError
from bot.nemo.events import AgentError, TextAnswer, ToolCall
from bot.progress import ProgressMessage, progress_for, stage_for_tool
from bot.scheduler import ConversationScheduler
from bot.settings import Settings
from bot.texts import fmt_elapsed, t
from bot.turn import Turn, say

log = logging.getLogger(__name__)

ANSWER_BUTTONS = (Button.EXPORT, Button.STATUS, Button.CREDITS, Button.NEW)
"""The quick actions under an agent's answer."""

_TEMPORARY_ISSUE = "i encountered a temporary issue"

FOLLOW_UP = "I can't use the editor's interface from this chat. Please do these steps for me yourself: {steps}"
"""The one follow-up request when an answer asks the user to drag or click something the bot
has no action for (sent to the agent, never shown; the skills' GUI rule, contract section 6)."""

ExportHook = Callable[[Turn], Awaitable[None]]
"""Runs the export workflow for a turn (the engine's ``/export``)."""


def credits_line(credits: Any, lang: str) -> str:
    """``💳 Credits: 88 available, 0 frozen, 88 total.`` from a :class:`~bot.nemo.models.Credits`."""
    return t(
        "credits",
        lang,
        available=_num(credits.available),
        frozen=_num(credits.frozen),
        total=_num(credits.total_or_sum),
    )


def bullets(lines: list[str]) -> str:
    """Lines as a bulleted list."""
    return "\n".join(f"• {line}" for line in lines)


class AgentRuns:
    """Runs agent requests for the engine.

    Args:
        conversations: Sessions and the run marker.
        scheduler: Tells a ``/cancel`` from a shutdown.
        access: The daily run quota.
        slots: The global cap on runs in flight.
        settings: Timeouts and progress pacing.
    """

    def __init__(
        self,
        conversations: Conversations,
        scheduler: ConversationScheduler,
        access: AccessPolicy,
        slots: RunSlots,
        settings: Settings,
    ) -> None:
        self.conversations = conversations
        self.scheduler = scheduler
        self.access = access
        self.slots = slots
        self.settings = settings
        self.on_export: ExportHook | None = None
        """Set by the engine: what "press Export" in an answer runs."""

    def progress(self, turn: Turn) -> ProgressMessage:
        """A paced progress message for ``turn``'s channel."""
        return progress_for(turn.channel, turn.lang, self.settings)

    async def run(self, turn: Turn, text: str) -> None:
        """Send ``text`` to the agent and answer.

        Raises:
            AgentTimedOut: Only heartbeats for ``SSE_IDLE_TIMEOUT_S``.
            AgentFailed: The run ended with an error and no answer.
            NemoSessionNotFound: The session expired (the engine replaces it).
            NemoError: Other backend failures.
        """
        limit = self.settings.max_prompt_chars
        if len(text) > limit:
            await say(turn.channel, t("too_long", turn.lang, n=len(text), limit=limit))
            return
        if turn.person is not None:
            refusal = await self.access.charge(turn.msg, turn.person, "runs")
            if refusal is not None:
                await say(turn.channel, refusal.text or "")
                return

        async def told_to_wait(place: int) -> None:
            await say(turn.channel, t("run_waiting", turn.lang, place=place))

        async with self.slots.hold(told_to_wait):
            metrics.RUNS_IN_FLIGHT.inc()
            try:
                with metrics.RUN_SECONDS.time():
                    export = await self._run(turn, text)
            finally:
                metrics.RUNS_IN_FLIGHT.dec()
        if export and self.on_export is not None:  # after the run's slot is free: a render takes minutes
            await self.on_export(turn)

    async def _run(self, turn: Turn, text: str, *, follow_up: bool = False) -> bool:
        """One run; True when its answer asked for the export."""
        await self.conversations.ensure_session(turn)
        sid = turn.conv.session_id
        assert sid is not None
        before = (await turn.client.state(sid, attribution=turn.attribution)).draft
        progress = self.progress(turn)
        await progress.start(wait=False)  # the run starts now; the message follows as the rate limit allows
        marker = {"text": text[:300], "before": before, "ref": progress.ref.id if progress.ref else None}
        await self.conversations.update_data(turn, run=marker)
        self.scheduler.mark_durable(turn.conv.key)  # a restart now reports this run; never re-sends it
        keep_marker = False
        noted = asyncio.create_task(self._note_progress_ref(turn, marker, progress), name="run-marker-ref")
        try:
            return await self._stream(turn, text, before, progress, follow_up=follow_up)
        except asyncio.CancelledError:
            # a shutdown keeps the marker: the next process reports the cut-off run
            keep_marker = not self.scheduler.cancelled_by_user(turn.conv.key)
            raise
        finally:
            if not keep_marker:
                noted.cancel()
                await asyncio.shield(self.conversations.update_data(turn, run=None))
            elif marker["ref"] is None and progress.ref is not None:  # posted, not yet in the marker
                await asyncio.shield(self.conversations.update_data(turn, run=marker | {"ref": progress.ref.id}))

    async def _note_progress_ref(self, turn: Turn, marker: dict[str, Any], progress: ProgressMessage) -> None:
        """Add the progress message to the run's marker once it is posted (a restart then marks
        that message as interrupted)."""
        if marker["ref"] is not None:
            return
        ref = await progress.posted()
        if ref is not None:
            await self.conversations.update_data(turn, run=marker | {"ref": ref.id})

    async def _stream(
        self, turn: Turn, text: str, before: dict[str, Any], progress: ProgressMessage, *, follow_up: bool
    ) -> bool:
        sid = turn.conv.session_id
        assert sid is not None
        answers: list[str] = []
        error: AgentError | None = None
        try:
            async for event in turn.client.run(
                sid,
                text,
                attribution=turn.attribution,
                idle_timeout_s=self.settings.sse_idle_timeout_s,
                hard_timeout_s=self.settings.sse_hard_timeout_s,
            ):
                if isinstance(event, ToolCall):
                    await progress.stage(stage_for_tool(event.name, turn.lang))
                elif isinstance(event, TextAnswer):
                    if answers and _TEMPORARY_ISSUE in event.text.lower():
                        continue  # trailing noise after real answers (contract section 3)
                    answers.append(event.text)
                elif isinstance(event, AgentError):
                    error = event
        except NemoStreamDropped:
            await progress.stage(t("stream_dropped_wait", turn.lang))
            await self._after_drop(turn, progress, before)
            return False
        except NemoTimeoutError as exc:
            await progress.finish(t("failed_in", turn.lang, elapsed=fmt_elapsed(progress.elapsed_s)))
            raise AgentTimedOut() from exc
        except NemoSessionNotFound:
            await progress.finish(t("failed_in", turn.lang, elapsed=fmt_elapsed(progress.elapsed_s)))
            raise
        except asyncio.CancelledError:
            if self.scheduler.cancelled_by_user(turn.conv.key):
                await asyncio.shield(progress.finish(t("run_cancelled", turn.lang)))
            else:  # a shutdown: no edit now (it would hold the exit); the next process reports the run
                await progress.stop()
            raise
        except BaseException:
            await progress.stop()
            raise
        elapsed = fmt_elapsed(progress.elapsed_s)
        if error is not None and not answers:
            log.warning("agent run failed in %s: %s %s", turn.conv.key, error.code, error.message[:200])
            await progress.finish(t("failed_in", turn.lang, elapsed=elapsed))
            raise AgentFailed(error.code)
        await progress.finish(t("done_in", turn.lang, elapsed=elapsed))
        return await self._answer(turn, answers, before, follow_up=follow_up)

    async def _answer(self, turn: Turn, answers: list[str], before: dict[str, Any], *, follow_up: bool) -> bool:
        """Answer with the agent's text after GUI translation, and do what its GUI steps asked.

        "Press Export" runs the export; a step the bot has no action for (drag, another
        button) is asked of the agent in one follow-up run, never more (``follow_up``: this
        is that run, so its own steps only get a hint).

        Returns:
            True when the export should run (the caller runs it once the run's slot is free).
        """
        sid = turn.conv.session_id
        assert sid is not None
        actions: set[str] = set()
        parts: list[str] = []
        requests: list[str] = []
        for raw in answers:
            tr = translate(raw)
            actions |= tr.actions
            requests += tr.requests
            if tr.text:
                parts.append(tr.text)
        export = "export" in actions and self.on_export is not None
        after: dict[str, Any] | None = None
        if (not parts and not export and not requests) or "timeline" in actions:
            after = (await turn.client.state(sid, attribution=turn.attribution)).draft
        if not parts and not export and not requests:
            changes = timeline.diff(before, after)
            parts.append(
                t("silent_changes", turn.lang, changes=bullets(changes)) if changes else t("silent_nothing", turn.lang)
            )
        if "timeline" in actions and after is not None:
            parts.append(timeline.summarize(after))
        if "credits" in actions:
            parts.append(credits_line(await turn.client.credits(attribution=turn.attribution), turn.lang))
        if (requests and follow_up) or "offer_edit" in actions:
            parts.append(t("hint_edit", turn.lang))
        if "offer_export" in actions or ("export" in actions and not export):
            parts.append(t("hint_export", turn.lang))
        if parts:
            await say(turn.channel, "\n\n".join(parts), buttons=() if export or requests else ANSWER_BUTTONS)
        if requests and not follow_up:
            log.info("answer in %s asked for %d GUI step(s); asking the agent to do them", turn.conv.key, len(requests))
            export |= await self._run(turn, FOLLOW_UP.format(steps=" ".join(requests)), follow_up=True)
        return export

    async def _after_drop(self, turn: Turn, progress: ProgressMessage, before: dict[str, Any]) -> None:
        """A dropped stream: never re-send; read the state until it changes (contract section 3)."""
        sid = turn.conv.session_id
        assert sid is not None
        s = self.settings
        last: dict[str, Any] | None = None
        unchanged = 0
        await asyncio.sleep(s.drop_first_check_s)
        while True:
            try:
                draft = (await turn.client.state(sid, attribution=turn.attribution)).draft
            except NemoError as exc:
                log.warning("state read after a dropped stream failed: %r", exc)
                draft = last if last is not None else before
            changes = timeline.diff(before, draft)
            if changes:
                await progress.finish(t("done_in", turn.lang, elapsed=fmt_elapsed(progress.elapsed_s)))
                text = t("stream_dropped_changed", turn.lang, changes=bullets(changes))
                await say(turn.channel, text, buttons=ANSWER_BUTTONS)
                return
            unchanged = unchanged + 1 if draft == last or last is None else 1
            last = draft
            if unchanged >= s.drop_max_unchanged_reads:
                await progress.finish(t("failed_in", turn.lang, elapsed=fmt_elapsed(progress.elapsed_s)))
                await say(turn.channel, t("stream_dropped_nothing", turn.lang))
                return
            await asyncio.sleep(s.drop_check_every_s)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"
