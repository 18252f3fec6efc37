"""Per-conversation scheduling: one piece of work at a time, the rest queued in order.

Messages that need the session (agent requests, uploads, exports, ``/new``) and resumed
work run one at a time per conversation, in tasks the scheduler owns: whoever hands a
message in (a platform handler) gets control back at once (:meth:`ConversationScheduler.start`). A message that arrives meanwhile is queued (and
the queue is persisted through a callback, so it survives a restart); work resumed after a
restart waits its turn the same way. ``/cancel`` stops the current piece and drops the
queue. A conversation with nothing running or queued keeps no state here.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.boundary import IncomingMessage, ReplyChannel

log = logging.getLogger(__name__)

Work = Callable[[], Coroutine[Any, Any, None]]
"""A factory of the coroutine to run (created only when its turn comes)."""


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """A chat message waiting for its conversation's current work to end."""

    msg: IncomingMessage
    channel: ReplyChannel
    work: Work


@dataclass(frozen=True, slots=True)
class QueuedWork:
    """Resumed work waiting for its turn (not persisted: it is found again after a restart)."""

    label: str
    work: Work


@dataclass
class _Slot:
    queue: deque[QueuedMessage | QueuedWork] = field(default_factory=deque)
    current: asyncio.Task[None] | None = None
    cancelled: bool = False
    message: IncomingMessage | None = None
    """The chat message the current work handles (``None`` for resumed work)."""
    durable: bool = False
    """The current work has left a record a restart finds (a run marker, a render job)."""


class Submitted(enum.Enum):
    """What :meth:`ConversationScheduler.submit` did with a message."""

    RAN = "ran"
    QUEUED = "queued"
    FULL = "full"


class WorkQueue(Protocol):
    """Where a conversation's messages wait and run, one at a time, in order: this process's
    :class:`ConversationScheduler`, or the job queue several instances share on PostgreSQL
    (:class:`bot.shared_work.SharedWork`). The engine hands messages to either the same way."""

    async def start(
        self, key: str, msg: IncomingMessage, channel: ReplyChannel, work: Work
    ) -> tuple[Submitted, asyncio.Task[None] | None]:
        """Take ``msg`` and return at once: ``(RAN, task)`` when it runs here now, ``(RAN, None)``
        when it will run as soon as anything can run it, ``(QUEUED, None)`` behind others,
        ``(FULL, None)`` refused (too many waiting)."""
        ...

    async def cancel(self, key: str) -> int | None:
        """``/cancel``: stop ``key``'s running work and drop its waiting messages.

        Returns:
            How many waiting messages were dropped, or ``None`` when nothing was running.
        """
        ...


class ConversationScheduler:
    """Runs each conversation's work in order (the in-process :class:`WorkQueue`).

    Args:
        on_queue_change: Awaited with the conversation key and the queued messages after
            every change of that conversation's queue (to persist it).
        max_queued: Messages a conversation may have waiting; more are refused.
    """

    def __init__(
        self, on_queue_change: Callable[[str, list[IncomingMessage]], Awaitable[None]], *, max_queued: int = 3
    ) -> None:
        self.max_queued = max_queued
        self._slots: dict[str, _Slot] = {}
        self._background: dict[asyncio.Task[None], str] = {}
        self._on_queue_change = on_queue_change

    def is_busy(self, key: str) -> bool:
        """True while work of conversation ``key`` runs."""
        return key in self._slots

    def queued(self) -> int:
        """Messages waiting behind their conversation's current work, in all conversations."""
        return sum(isinstance(item, QueuedMessage) for slot in self._slots.values() for item in slot.queue)

    def active(self) -> list[str]:
        """Keys of the conversations with work running."""
        return list(self._slots)

    def cancelled_by_user(self, key: str) -> bool:
        """True when the current work of ``key`` is being stopped by ``/cancel`` (not a shutdown)."""
        slot = self._slots.get(key)
        return bool(slot and slot.cancelled)

    async def submit(self, key: str, msg: IncomingMessage, channel: ReplyChannel, work: Work) -> Submitted:
        """Run ``work`` for ``msg`` now, or queue it behind the current work, and wait for it.

        Returns:
            ``RAN`` after ``work`` and everything queued behind it ran (it started at once);
            ``QUEUED`` at once when it waits its turn; ``FULL`` at once when the conversation
            already has ``max_queued`` messages waiting (nothing is kept).
        """
        outcome, task = await self.start(key, msg, channel, work)
        if task is not None:
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                if not task.done():  # the caller was cancelled: its work is stopped with it
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                raise
        return outcome

    async def start(
        self, key: str, msg: IncomingMessage, channel: ReplyChannel, work: Work
    ) -> tuple[Submitted, asyncio.Task[None] | None]:
        """Take ``msg``: start ``work`` in a task of the scheduler's own, or queue it. Returns at once.

        Returns:
            ``(RAN, task)`` when it started (``task`` ends once it and everything queued behind it
            ran); ``(QUEUED, None)`` when it waits its turn; ``(FULL, None)`` when the conversation
            already has ``max_queued`` messages waiting (nothing is kept).
        """
        slot = self._slots.get(key)
        if slot is not None:
            if sum(isinstance(item, QueuedMessage) for item in slot.queue) >= self.max_queued:
                return Submitted.FULL, None
            slot.queue.append(QueuedMessage(msg, channel, work))
            await self._queue_changed(key, slot)
            return Submitted.QUEUED, None
        slot = self._slots[key] = _Slot()
        return Submitted.RAN, self._spawn(key, slot, work, f"conversation-{key}", msg)

    def submit_background(self, key: str, label: str, work: Work) -> None:
        """Run ``work`` in a task of its own, in order after what ``key`` already has."""
        slot = self._slots.get(key)
        if slot is not None:
            slot.queue.append(QueuedWork(label, work))
            return
        slot = self._slots[key] = _Slot()
        self._spawn(key, slot, work, f"resume-{label}")

    def _spawn(
        self, key: str, slot: _Slot, first: Work, name: str, msg: IncomingMessage | None = None
    ) -> asyncio.Task[None]:
        task = asyncio.create_task(self._drain(key, slot, first, msg), name=name)
        self._background[task] = key
        task.add_done_callback(self._forget)
        return task

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._background.pop(task, None)

    async def _drain(self, key: str, slot: _Slot, first: Work, msg: IncomingMessage | None) -> None:
        try:
            await self._run(key, slot, first, msg)
            while slot.queue:
                item = slot.queue.popleft()
                if isinstance(item, QueuedMessage):
                    await self._queue_changed(key, slot)
                    await self._run(key, slot, item.work, item.msg)
                else:
                    await self._run(key, slot, item.work, None)
        finally:
            self._slots.pop(key, None)

    def mark_durable(self, key: str) -> None:
        """The current work of ``key`` has left a record a restart finds by itself (an agent run's
        marker, a submitted render's job): a shutdown from now on does not hand its message to
        the next process again (see :meth:`aclose`)."""
        slot = self._slots.get(key)
        if slot is not None:
            slot.durable = True

    async def _run(self, key: str, slot: _Slot, work: Work, msg: IncomingMessage | None) -> None:
        """Run one piece as a task ``/cancel`` can stop; an outer cancellation still propagates."""
        slot.cancelled = False
        slot.message, slot.durable = msg, False
        current = slot.current = asyncio.create_task(work(), name=f"work-{key}")
        try:
            await asyncio.shield(current)
        except asyncio.CancelledError:
            if current.cancelled() and slot.cancelled:
                return  # stopped by /cancel: the user has been told
            current.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await current
            raise
        finally:
            slot.current = None

    async def cancel(self, key: str) -> int | None:
        """``/cancel``: stop the current work of ``key`` and drop its queued messages.

        Returns:
            How many queued messages were dropped, or ``None`` when nothing was running.
        """
        slot = self._slots.get(key)
        current = slot.current if slot else None
        if slot is None or current is None or current.done():
            return None
        dropped = [item for item in slot.queue if isinstance(item, QueuedMessage)]
        slot.queue = deque(item for item in slot.queue if isinstance(item, QueuedWork))
        await self._queue_changed(key, slot)
        slot.cancelled = True
        current.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await current
        return len(dropped)

    async def _queue_changed(self, key: str, slot: _Slot) -> None:
        await self._on_queue_change(key, [item.msg for item in slot.queue if isinstance(item, QueuedMessage)])

    async def wait_idle(self) -> None:
        """Wait until every conversation's work (messages, resumed jobs) has finished."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    async def aclose(self, prefix: str = "") -> None:
        """Cancel the running work of conversations whose key starts with ``prefix`` (all by
        default), and background work waiting for them. Queued messages stay persisted and
        cut-off runs keep their markers: the next process picks them up. A message whose work
        had not yet left such a record (:meth:`mark_durable`) is persisted at the head of its
        conversation's queue, so it is handled again, not lost. Idempotent."""
        handed_on = []
        for key, slot in list(self._slots.items()):
            if key.startswith(prefix) and slot.message is not None and not slot.durable:
                queued = [item.msg for item in slot.queue if isinstance(item, QueuedMessage)]
                handed_on.append(self._on_queue_change(key, [slot.message, *queued]))
                slot.message = None
        await asyncio.gather(*handed_on)  # written together: a shutdown during a burst stays short
        tasks = [task for task, key in self._background.items() if key.startswith(prefix)]
        for key, slot in self._slots.items():
            if key.startswith(prefix) and slot.current is not None and not slot.current.done():
                tasks.append(slot.current)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
