"""Replies before progress: a rate limiter that lets answers overtake progress updates.

Telegram allows a bot about 30 messages per second in all
(https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this), and PTB's
:class:`~telegram.ext.AIORateLimiter` serves requests in the order they come. When a thousand
agent runs start at once, their progress messages ("Working on it...", setup notes, progress
edits, chat actions) would queue ahead of a ``/help`` from someone else for a minute or more.
:class:`PriorityRateLimiter` keeps PTB's limiter and its retries, and holds progress requests
back while any answer is waiting: at most :data:`PROGRESS_IN_FLIGHT` progress requests are
inside the limiter at a time, and none enters while an answer waits. Code marks its requests
as progress with :func:`progress_requests` (a context variable, so it follows the task).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from telegram.ext import AIORateLimiter

PROGRESS_IN_FLIGHT = 1
"""Progress requests inside PTB's limiter at once: an answer waits behind at most this many."""

_PROGRESS: contextvars.ContextVar[bool] = contextvars.ContextVar("nemobot_progress_request", default=False)


@contextlib.contextmanager
def progress_requests() -> Iterator[None]:
    """Bot API requests made inside this block (by this task) are progress, not answers."""
    token = _PROGRESS.set(True)
    try:
        yield
    finally:
        _PROGRESS.reset(token)


class PriorityRateLimiter(AIORateLimiter):
    """PTB's ``AIORateLimiter`` (same arguments), with answers served before progress requests."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._answers_waiting = 0
        self._no_answer_waiting = asyncio.Event()
        self._no_answer_waiting.set()
        self._progress_gate = asyncio.Semaphore(PROGRESS_IN_FLIGHT)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        """Answers go straight to PTB's limiter; progress requests wait until no answer is waiting."""
        if _PROGRESS.get():
            async with self._progress_gate:
                while not self._no_answer_waiting.is_set():
                    await self._no_answer_waiting.wait()
                return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
        self._answers_waiting += 1
        self._no_answer_waiting.clear()
        try:
            return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
        finally:
            self._answers_waiting -= 1
            if not self._answers_waiting:
                self._no_answer_waiting.set()
