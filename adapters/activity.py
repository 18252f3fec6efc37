"""Activity indicators ("typing...", "sending video...") for many chats, within a budget.

A chat action tells the user the bot is working on something that takes long: an agent
run, an upload, a render. Each costs a platform request, and requests share the bot's rate
limit with real replies (Telegram: about 30 per second in all; an action shows for about
5 s, a Discord typing indicator for about 10 s). So :class:`ActivityIndicators` keeps one
loop for all chats instead of a task per chat, shows an indicator only once work has taken
``after_s``, repeats it at most every ``every_s`` per chat, and sends at most ``per_second``
in all: with more busy chats than that budget covers, each gets its turn less often and
replies keep the rest of the rate limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from bot.intents import IntentKind

log = logging.getLogger(__name__)

SLOW_INTENTS = frozenset({IntentKind.AGENT, IntentKind.UPLOAD, IntentKind.EXPORT, IntentKind.EDITOR})
"""What can take long enough to show "typing..." / "sending video...": agent runs, uploads, exports."""

Send = Callable[[Hashable, str], Awaitable[object]]
"""Sends one indicator: the chat's target and the action (``typing``, ``upload_video``)."""


@dataclass
class _Busy:
    action: str
    since: float
    works: set[asyncio.Future[Any]] = field(default_factory=set)
    last_sent: float = -math.inf


class ActivityIndicators:
    """One loop showing activity in every chat with long work under way.

    Args:
        send: Sends one indicator (errors are logged at DEBUG and dropped).
        after_s: Work that ends sooner shows nothing (s).
        every_s: How often a chat's indicator is repeated while its work goes on (s).
        per_second: Indicators sent per second at most, all chats together.
        tick_s: How often the loop looks for due chats (s).
        clock: Monotonic clock.
    """

    def __init__(
        self,
        send: Send,
        *,
        after_s: float = 1.0,
        every_s: float = 4.5,
        per_second: float = 5.0,
        tick_s: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.send = send
        self.after_s = after_s
        self.every_s = every_s
        self.per_second = per_second
        self.tick_s = tick_s
        self.clock = clock
        self._busy: dict[Hashable, _Busy] = {}
        self._loop: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[object]] = set()
        self.sent = 0
        """Indicators sent so far (for tests and benchmarks)."""

    def __len__(self) -> int:
        """Chats with work being shown."""
        return len(self._busy)

    def track(self, target: Hashable, action: str, work: asyncio.Future[Any]) -> None:
        """Show ``action`` in ``target`` while ``work`` runs (nothing once it is done)."""
        if work.done():
            return
        busy = self._busy.get(target)
        if busy is None:
            busy = self._busy[target] = _Busy(action, self.clock())
        busy.action = action
        busy.works.add(work)
        work.add_done_callback(lambda done: self._done(target, done))
        if self._loop is None or self._loop.done():
            self._loop = asyncio.create_task(self._run(), name="activity-indicators")

    def _done(self, target: Hashable, work: asyncio.Future[Any]) -> None:
        busy = self._busy.get(target)
        if busy is None:
            return
        busy.works.discard(work)
        if not busy.works:
            del self._busy[target]

    async def _run(self) -> None:
        tokens = max(self.per_second, 1.0)
        last = self.clock()
        while self._busy:
            await asyncio.sleep(self.tick_s)
            now = self.clock()
            tokens = min(max(self.per_second, 1.0), tokens + (now - last) * self.per_second)
            last = now
            if tokens < 1:
                continue
            due = [
                (busy.last_sent, target)
                for target, busy in self._busy.items()
                if now - busy.since >= self.after_s and now - busy.last_sent >= self.every_s
            ]
            if not due:
                continue
            due.sort(key=lambda pair: pair[0])  # the longest without an indicator first
            for _, target in due[: int(tokens)]:
                busy = self._busy[target]
                busy.last_sent = now
                tokens -= 1
                task = asyncio.create_task(self._send(target, busy.action))
                self._sending.add(task)
                task.add_done_callback(self._sending.discard)

    async def _send(self, target: Hashable, action: str) -> object:
        try:
            await self.send(target, action)
            self.sent += 1
        except Exception as exc:  # noqa: BLE001 - an indicator is never worth an error
            log.debug("chat action failed: %s", type(exc).__name__)
        return None

    async def close(self) -> None:
        """Stop the loop and forget every chat. Idempotent."""
        self._busy.clear()
        tasks = [t for t in (self._loop, *self._sending) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._loop = None
