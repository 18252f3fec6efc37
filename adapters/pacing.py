"""Edit pacing shared by the chat adapters.

Platforms limit how often a message may be edited (Telegram: about 20 edits per minute per
chat in groups, and about 30 requests per second in all; Discord: 5 edits per 5 s per
channel). :class:`EditPacer` keeps at most one edit per chat per interval, lets the newest
text of a message replace a queued one, never blocks the caller for progress edits, and
makes final edits wait until they are applied.

One loop paces every chat (a heap keyed on when each chat may be edited next), not a task
per chat: a restart that resumes 10,000 renders queues 10,000 progress edits without
10,000 tasks. Progress (non-final) edits also share a budget of ``progress_per_second`` in
all, so however many runs and renders are going on, they never take the whole rate limit
from real replies; when the budget is short a chat's edit waits and, meanwhile, a newer
text simply replaces it. Final edits (a result, an error) are not held by the budget and
go before a chat's progress edits. A chat keeps its lane only while it has edits to pace.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

ChatId = int | str
DoEdit = Callable[[], Awaitable[object]]


@dataclass
class _Pending:
    do_edit: DoEdit
    final: bool
    waiters: list[asyncio.Future[None]] = field(default_factory=list)


@dataclass
class _Lane:
    last: float = -math.inf
    pending: dict[int | str, _Pending] = field(default_factory=dict)
    busy: bool = False
    scheduled: bool = False
    waiting: bool = False
    """In the queue for the shared progress budget."""


class EditPacer:
    """Paces message edits per chat, and progress edits in all.

    Args:
        interval_for: Minimum seconds between two edits in a chat, by chat id (groups are
            stricter than private chats).
        clock: Monotonic clock.
        progress_per_second: Progress edits sent per second at most, all chats together
            (``None``: no shared budget).
    """

    def __init__(
        self,
        interval_for: Callable[[ChatId], float],
        clock: Callable[[], float] = time.monotonic,
        *,
        progress_per_second: float | None = None,
    ) -> None:
        self.interval_for = interval_for
        self.clock = clock
        self.progress_per_second = progress_per_second
        self._lanes: dict[ChatId, _Lane] = {}
        self._due: list[tuple[float, int, ChatId]] = []
        self._order = itertools.count()
        self._wake = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None
        self._editing: set[asyncio.Task[None]] = set()
        self._budget_queue: deque[ChatId] = deque()
        self._tokens = progress_per_second or 0.0
        self._refilled = clock()

    def __len__(self) -> int:
        """Chats with edits being paced."""
        return len(self._lanes)

    async def edit(self, chat_id: ChatId, message_id: int | str, do_edit: DoEdit, *, final: bool) -> None:
        """Queue an edit; a newer edit of the same message replaces a queued one.

        Non-final edits return at once; final edits wait until they are applied and raise
        what the edit raised.
        """
        lane = self._lanes.setdefault(chat_id, _Lane())
        replaced = lane.pending.pop(message_id, None)
        pending = _Pending(do_edit, final or bool(replaced and replaced.final), replaced.waiters if replaced else [])
        future: asyncio.Future[None] | None = None
        if final:
            future = asyncio.get_running_loop().create_future()
            pending.waiters.append(future)
        lane.pending[message_id] = pending
        self._schedule(chat_id, lane, max(self.clock(), lane.last + self.interval_for(chat_id)))
        if self._loop is None or self._loop.done():
            self._loop = asyncio.create_task(self._run(), name="edit-pacer")
        if future is not None:
            await future

    def _schedule(self, chat_id: ChatId, lane: _Lane, at: float) -> None:
        if lane.scheduled or lane.busy:
            return  # it is looked at again when its edit ends or its time comes
        lane.scheduled = True
        heapq.heappush(self._due, (at, next(self._order), chat_id))
        self._wake.set()

    def _take_token(self) -> bool:
        if self.progress_per_second is None:
            return True
        now = self.clock()
        self._tokens = min(self.progress_per_second, self._tokens + (now - self._refilled) * self.progress_per_second)
        self._refilled = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    async def _run(self) -> None:
        while True:
            now = self.clock()
            while self._due and self._due[0][0] <= now:  # lanes whose interval has passed
                _, _, chat_id = heapq.heappop(self._due)
                lane = self._lanes.get(chat_id)
                if lane is None:
                    continue
                lane.scheduled = False
                if not lane.pending:
                    if not lane.busy and not lane.waiting:
                        del self._lanes[chat_id]  # idle for a whole interval: an idle chat costs nothing
                    continue
                final = next((m for m, p in lane.pending.items() if p.final), None)
                if final is not None:  # a result or an error goes first, outside the budget
                    self._start(chat_id, lane, final)
                elif not lane.waiting:  # progress waits its turn for the shared budget
                    lane.waiting = True
                    self._budget_queue.append(chat_id)
            while self._budget_queue and self._take_token():
                chat_id = self._budget_queue.popleft()
                lane = self._lanes.get(chat_id)
                if lane is None:
                    continue
                lane.waiting = False
                if lane.busy or not lane.pending:
                    self._schedule(chat_id, lane, max(now, lane.last + self.interval_for(chat_id)))
                    continue
                self._start(chat_id, lane, next(iter(lane.pending)))
            waits = [self._due[0][0] - now] if self._due else []
            if self._budget_queue:
                assert self.progress_per_second is not None
                waits.append((1 - self._tokens) / self.progress_per_second)
            self._wake.clear()
            if not waits:
                await self._wake.wait()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), max(0.0, min(waits)))

    def _start(self, chat_id: ChatId, lane: _Lane, message_id: int | str) -> None:
        pending = lane.pending.pop(message_id)
        lane.busy = True
        task = asyncio.create_task(self._apply(chat_id, lane, message_id, pending), name=f"edit-{chat_id}")
        self._editing.add(task)
        task.add_done_callback(self._editing.discard)

    async def _apply(self, chat_id: ChatId, lane: _Lane, message_id: int | str, pending: _Pending) -> None:
        try:
            await pending.do_edit()
        except Exception as exc:  # noqa: BLE001 - handed to whoever waits
            log.warning("edit of message %s in chat %s failed: %s", message_id, chat_id, type(exc).__name__)
            for w in pending.waiters:
                if not w.done():
                    w.set_exception(exc)
        else:
            for w in pending.waiters:
                if not w.done():
                    w.set_result(None)
        finally:
            lane.last = self.clock()
            lane.busy = False
            # next edit, or (with none) the moment the lane may go
            self._schedule(chat_id, lane, lane.last + self.interval_for(chat_id))

    async def close(self) -> None:
        """Cancel queued edits."""
        tasks = [t for t in (self._loop, *self._editing) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for lane in self._lanes.values():
            for pending in lane.pending.values():
                for w in pending.waiters:
                    if not w.done():
                        w.cancel()
        self._lanes.clear()
        self._due.clear()
        self._budget_queue.clear()
        self._loop = None
