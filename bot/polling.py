"""Many things polled on their own cadence by a few tasks: a heap keyed on each one's next poll time.

A restart may find thousands of renders still running. Following each in a task of its own
(sleep, poll, sleep...) costs a task and its stack per render and lets them all wake at
once; :class:`PollScheduler` keeps them in one heap ordered by when each is due, one
dispatcher pops those that are due, and at most ``concurrency`` polls run at a time (each
in a short-lived task). A poll returns the delay until its item's next poll, or ``None``
when the item is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

Poll = Callable[[T], Awaitable[float | None]]
"""Polls one item once; returns seconds until its next poll, or ``None`` when it is done."""


class PollScheduler(Generic[T]):
    """Polls items when they are due, ``concurrency`` at a time.

    Args:
        poll: Polls one item (an exception is logged and drops the item: ``poll`` should
            handle its own errors).
        concurrency: Polls in flight at most.
        clock: Monotonic clock (s).
    """

    def __init__(self, poll: Poll[T], *, concurrency: int = 100, clock: Callable[[], float] = time.monotonic) -> None:
        self.poll = poll
        self.clock = clock
        self.concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency)
        self._heap: list[tuple[float, int, T]] = []
        self._order = itertools.count()
        self._wake = asyncio.Event()
        self._dispatcher: asyncio.Task[None] | None = None
        self._polling: set[asyncio.Task[None]] = set()
        self._held = 0

    def __len__(self) -> int:
        """Items followed (waiting or being polled)."""
        return len(self._heap) + len(self._polling)

    def add(self, item: T, *, delay_s: float = 0.0) -> None:
        """Poll ``item`` once ``delay_s`` seconds have passed (at once by default)."""
        heapq.heappush(self._heap, (self.clock() + delay_s, next(self._order), item))
        self._wake.set()
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.create_task(self._dispatch(), name="poll-dispatcher")

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Start no poll inside this block (items are still added): a restart adds thousands of
        items in pages, and polls started meanwhile would slow the reading of the next pages.
        Once it ends, items are polled in the order they are due."""
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1
            self._wake.set()

    async def _dispatch(self) -> None:
        while True:  # idle, it waits for the next add (aclose ends it)
            if not self._heap or self._held:
                self._wake.clear()
                await self._wake.wait()
                continue
            wait = self._heap[0][0] - self.clock()
            if wait > 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
                continue
            await self._slots.acquire()
            _, _, item = heapq.heappop(self._heap)
            task = asyncio.create_task(self._poll(item), name="poll")
            self._polling.add(task)
            task.add_done_callback(self._polling.discard)

    async def _poll(self, item: T) -> None:
        try:
            delay = await self.poll(item)
        except Exception:
            log.exception("polling failed; the item is dropped")
            delay = None
        finally:
            self._slots.release()
        if delay is not None:
            self.add(item, delay_s=delay)

    async def aclose(self) -> None:
        """Stop polling; items still followed are dropped. Idempotent."""
        self._heap.clear()
        tasks = [t for t in (self._dispatcher, *self._polling) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._dispatcher = None
        self._slots = asyncio.Semaphore(self.concurrency)  # a poll cancelled before it ran kept its slot
