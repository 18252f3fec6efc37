"""Edit pacing shared by the chat adapters.

Platforms limit how often a message may be edited (Telegram: about 20 edits per minute per
chat; Discord: 5 edits per 5 s per channel). :class:`EditPacer` keeps at most one edit per
chat per interval, lets the newest text of a message replace a queued one, never blocks the
caller for progress edits, and makes final edits wait until they are applied. A chat's lane
lives only while it has edits to pace.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class _Lane:
    last: float = -math.inf
    pending: dict[int | str, tuple[Callable[[], Awaitable[object]], list[asyncio.Future[None]]]] = field(
        default_factory=dict
    )
    task: asyncio.Task[None] | None = None


class EditPacer:
    """Paces message edits per chat.

    Args:
        interval_for: Minimum seconds between two edits in a chat, by chat id (groups are
            stricter than private chats).
        clock: Monotonic clock.
    """

    def __init__(self, interval_for: Callable[[int | str], float], clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_for = interval_for
        self.clock = clock
        self._lanes: dict[int | str, _Lane] = {}

    def __len__(self) -> int:
        """Chats with edits being paced."""
        return len(self._lanes)

    async def edit(
        self, chat_id: int | str, message_id: int | str, do_edit: Callable[[], Awaitable[object]], *, final: bool
    ) -> None:
        """Queue an edit; a newer edit of the same message replaces a queued one.

        Non-final edits return at once; final edits wait until they are applied and raise
        what the edit raised.
        """
        lane = self._lanes.setdefault(chat_id, _Lane())
        _, waiters = lane.pending.pop(message_id, (None, []))
        future: asyncio.Future[None] | None = None
        if final:
            future = asyncio.get_running_loop().create_future()
            waiters = [*waiters, future]
        lane.pending[message_id] = (do_edit, waiters)
        if lane.task is None or lane.task.done():
            lane.task = asyncio.create_task(self._drain(chat_id, lane), name=f"tg-edits-{chat_id}")
        if future is not None:
            await future

    async def _drain(self, chat_id: int | str, lane: _Lane) -> None:
        while lane.pending:
            wait = lane.last + self.interval_for(chat_id) - self.clock()
            if wait > 0:
                await asyncio.sleep(wait)
            message_id = next(iter(lane.pending))
            do_edit, waiters = lane.pending.pop(message_id)
            try:
                await do_edit()
            except Exception as exc:  # noqa: BLE001 - handed to whoever waits
                log.warning("edit of message %s in chat %s failed: %s", message_id, chat_id, type(exc).__name__)
                for w in waiters:
                    if not w.done():
                        w.set_exception(exc)
            else:
                for w in waiters:
                    if not w.done():
                        w.set_result(None)
            lane.last = self.clock()
            if not lane.pending:
                # keep the lane only as long as it paces anything: then an idle chat costs nothing
                await asyncio.sleep(self.interval_for(chat_id))
        if self._lanes.get(chat_id) is lane:
            del self._lanes[chat_id]

    async def close(self) -> None:
        """Cancel queued edits."""
        for lane in self._lanes.values():
            if lane.task is not None:
                lane.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await lane.task
            for _, waiters in lane.pending.values():
                for w in waiters:
                    if not w.done():
                        w.cancel()
        self._lanes.clear()
