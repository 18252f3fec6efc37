"""One progress message per run, edited in place and paced.

The message shows the stage (from the agent's tool activity, contract section 3), the
elapsed time and, at most once per heartbeat interval, "⏳ Still working...". Edits are at
least ``edit_interval_s`` apart and identical edits are skipped, which keeps the bot under
the platforms' edit limits (Telegram: about 20 edits per minute per chat). Channels that
cannot edit get a new message only for stage changes and heartbeats.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from bot.boundary import ChannelError, Reply, ReplyChannel, SentRef
from bot.settings import Settings
from bot.texts import fmt_elapsed, t

log = logging.getLogger(__name__)

_BACKGROUND: set[asyncio.Task[None]] = set()
"""Final edits made in the background (:meth:`ProgressMessage.finish_soon`), kept referenced."""


def stage_for_tool(name: str, lang: str = "en") -> str:
    """The progress stage for a tool name (contract section 3).

    ``generate_video``/``seedance`` -> generation (2-5 min); ``music``/``audio``/``voice`` ->
    music (1-2 min); ``edit``/``draft``/``multitrack`` -> an edit; ``analy``/``understand``
    -> analysis; anything else -> a generic "Working" (tool names never reach users).
    """
    low = name.lower()
    if "generate_video" in low or "seedance" in low:
        return t("stage_generate", lang)
    if any(k in low for k in ("music", "audio", "voice")):
        return t("stage_music", lang)
    if any(k in low for k in ("edit", "draft", "multitrack")):
        return t("stage_edit", lang)
    if "analy" in low or "understand" in low or "rank" in low:
        return t("stage_analysis", lang)
    return t("stage_other", lang)


def progress_bar(pct: float, width: int = 10) -> str:
    """A text progress bar: ``progress_bar(60)`` -> ``"▓▓▓▓▓▓░░░░"`` (``pct`` in 0-100, clamped)."""
    filled = round(max(0.0, min(100.0, pct)) / 100 * width)
    return "▓" * filled + "░" * (width - filled)


class ProgressMessage:
    """The progress message of one run or render.

    Args:
        channel: Where to post.
        lang: ``en`` or ``zh``.
        edit_interval_s: Minimum time between two edits (s).
        heartbeat_interval_s: Minimum time between two "Still working" notes (s; default 120).
        clock: Monotonic clock (tests may replace it).
    """

    def __init__(
        self,
        channel: ReplyChannel,
        lang: str = "en",
        *,
        edit_interval_s: float = 3.0,
        heartbeat_interval_s: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.channel = channel
        self.lang = lang
        self.edit_interval_s = edit_interval_s
        self.heartbeat_interval_s = heartbeat_interval_s
        self.clock = clock
        self.ref: SentRef | None = None
        self.stage_text = t("working", lang)
        self.still_note: str | None = None
        self._shown: str | None = None
        self._last_edit = 0.0
        self._last_still = 0.0
        self._started = 0.0
        self._ticker: asyncio.Task[None] | None = None
        self._posting: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    @property
    def elapsed_s(self) -> float:
        """Seconds since :meth:`start`."""
        return self.clock() - self._started

    def _render(self) -> str:
        lines = [self.stage_text]
        if self.still_note:
            lines.append(self.still_note)
        return "\n".join(lines)

    async def start(self, text: str | None = None, *, ticker: bool = True, wait: bool = True) -> None:
        """Post the message and start the heartbeat ticker.

        Args:
            text: The first stage (default: "Working...").
            ticker: Keep the elapsed time and "still working" notes up to date.
            wait: Return once the message is posted. ``False`` posts it in the background, so
                the work it reports on (an agent run, a session) starts at once however long
                the platform's rate limit holds the message; later updates wait for it.
        """
        self._started = self._last_still = self.clock()
        if text:
            self.stage_text = text
        if wait:
            await self._post(self._render())
        else:
            self._posting = asyncio.create_task(self._post(self._render()), name="progress-post")
        if ticker:
            self._ticker = asyncio.create_task(self._tick(), name="progress-ticker")

    async def _post(self, body: str) -> None:
        try:
            self.ref = await self.channel.send(Reply(body, final=False))
            self._shown = body
            self._last_edit = self.clock()
        except ChannelError as exc:
            log.warning("could not post a progress message: %s", exc)

    async def posted(self) -> SentRef | None:
        """The message's ref once it is posted (waits for a background post; ``None``: it could not be)."""
        await self._posted()
        return self.ref

    async def _posted(self) -> None:
        """Wait until a message posted in the background is there (it is posted even if the
        waiter is cancelled)."""
        if self._posting is not None:
            await asyncio.shield(self._posting)

    async def _tick(self) -> None:
        step = max(0.05, min(self.edit_interval_s, self.heartbeat_interval_s, 1.0))
        while True:
            await asyncio.sleep(step)
            now = self.clock()
            if now - self._last_still >= self.heartbeat_interval_s:
                self._last_still = now
                self.still_note = t("still_working", self.lang, elapsed=fmt_elapsed(self.elapsed_s))
                await self._push(new_message_ok=True)
            elif self._shown != self._render():
                await self._push()

    def adopt(self, ref: SentRef, text: str | None = None) -> None:
        """Continue an existing message (after a restart) instead of posting a new one."""
        self.ref = ref
        self._started = self._last_still = self.clock()
        self._shown = None
        if text:
            self.stage_text = text

    async def stage(self, text: str) -> None:
        """Show a new stage (paced; identical stages are skipped)."""
        if text == self.stage_text:
            return
        self.stage_text = text
        await self._push(new_message_ok=True)

    async def _push(self, *, force: bool = False, new_message_ok: bool = False) -> None:
        async with self._lock:
            await self._posted()
            body = self._render()
            if body == self._shown and not force:
                return
            if not force and self.clock() - self._last_edit < self.edit_interval_s:
                return  # the ticker flushes it once the interval has passed
            try:
                if self.ref is not None and self.channel.limits.can_edit:
                    try:
                        await self.channel.edit(self.ref, Reply(body, final=force))
                    except ChannelError as exc:
                        if not (new_message_ok or force):
                            raise
                        # the message cannot be edited (gone, or a ref from before a restart
                        # this channel cannot reach): carry on in a new one
                        log.info("progress message not editable (%s); posting a new one", exc)
                        self.ref = await self.channel.send(Reply(body, final=force))
                elif new_message_ok or force:
                    self.ref = await self.channel.send(Reply(body, final=force))
                else:
                    return
                self._shown = body
                self._last_edit = self.clock()
            except ChannelError as exc:
                log.warning("could not update a progress message: %s", exc)

    async def finish(self, text: str) -> None:
        """Stop the ticker and show the final line (e.g. "✅ Done in 12 s.")."""
        await self.stop()
        self.stage_text = text
        self.still_note = None
        await self._push(force=True)

    def finish_soon(self, text: str) -> None:
        """:meth:`finish` in the background (the caller goes on at once; a failure is logged)."""
        task = asyncio.create_task(self.finish(text), name="progress-finish")
        _BACKGROUND.add(task)
        task.add_done_callback(_BACKGROUND.discard)

    async def stop(self) -> None:
        """Stop the ticker without a final edit. Idempotent."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None


def progress_for(channel: ReplyChannel, lang: str, settings: Settings) -> ProgressMessage:
    """A progress message paced by the settings (``PROGRESS_EDIT_INTERVAL_S``, ``HEARTBEAT_INTERVAL_S``)."""
    return ProgressMessage(
        channel,
        lang,
        edit_interval_s=settings.progress_edit_interval_s,
        heartbeat_interval_s=settings.heartbeat_interval_s,
    )
