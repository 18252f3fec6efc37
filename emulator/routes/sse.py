"""The wire side of an agent run (contract section 3): ADK events as SSE frames, heartbeats,
and waiting with heartbeats flowing."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import string
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

from emulator.state import EmulatorState

log = logging.getLogger(__name__)

__all__ = ["RunStream", "locked", "model_text", "with_heartbeats"]

_T = TypeVar("_T")
_ID_ALPHABET = string.ascii_letters + string.digits
_AUTHOR = "nemo_agent"
_HEARTBEATS = {"json": b'data: {"type":"heartbeat"}\n\n', "empty": b"data:\n\n", "comment": b": keep-alive\n\n"}


def _event_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


def _no_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _no_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_no_nulls(v) for v in value if v is not None]
    return value


def _sse(payload: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(_no_nulls(payload), ensure_ascii=False, separators=(',', ':'))}\n\n".encode()


def model_text(text: str, *, thought: bool = False) -> dict[str, Any]:
    """An ADK ``content`` with one model text part (``"thought": true`` for reasoning)."""
    part: dict[str, Any] = {"text": text}
    if thought:
        part["thought"] = True
    return {"parts": [part], "role": "model"}


class RunStream:
    """The wire side of one agent run: a queue of SSE frames, detached if the client leaves.

    Items on :attr:`queue` are ``(kind, frame)`` with kind ``"event"`` or ``"heartbeat"``;
    ``None`` ends the stream.

    Args:
        invocation_id: The run's ADK ``invocationId`` (``e-<uuid>``).
    """

    def __init__(self, invocation_id: str) -> None:
        self.invocation_id = invocation_id
        self.queue: asyncio.Queue[tuple[str, bytes] | None] = asyncio.Queue()
        self.detached = False

    def event(
        self,
        *,
        content: dict[str, Any] | None = None,
        partial: bool = False,
        delta: dict[str, Any] | None = None,
        **extra: Any,
    ) -> None:
        """Queue one ADK event (``author`` ``nemo_agent``, a fresh ``id``, ``actions.stateDelta``).

        Args:
            content: The event's ``content``.
            partial: Mark it ``"partial": true``.
            delta: The state keys the event changed.
            **extra: More top-level keys (``errorCode``...).
        """
        ev: dict[str, Any] = {}
        if content is not None:
            ev["content"] = content
        if partial:
            ev["partial"] = True
        ev.update(extra)
        ev.update(
            {
                "invocationId": self.invocation_id,
                "author": _AUTHOR,
                "actions": {"stateDelta": delta or {}, "artifactDelta": {}},
                "id": _event_id(),
                "timestamp": round(time.time(), 3),
            }
        )
        self.put("event", _sse(ev))

    def raw(self, payload: dict[str, Any]) -> None:
        """Queue a non-ADK payload as an event frame (the ``{"error": ...}`` failure)."""
        self.put("event", _sse(payload))

    def heartbeat(self, style: str) -> None:
        """Queue a heartbeat in the configured ``style`` (``json``, ``empty`` or ``comment``)."""
        self.put("heartbeat", _HEARTBEATS[style])

    def put(self, kind: str, frame: bytes) -> None:
        """Queue a frame, unless the client is gone."""
        if not self.detached:
            self.queue.put_nowait((kind, frame))

    def close(self) -> None:
        """End the stream."""
        self.queue.put_nowait(None)


async def _wind_down(task: asyncio.Future[Any]) -> None:
    """Wait for a cancelled task to finish. Its outcome no longer matters (it is logged at
    debug level); a cancellation of the caller propagates."""
    await asyncio.wait({task})
    if not task.cancelled() and task.exception() is not None:
        log.debug("abandoned step ended with %r", task.exception())


async def with_heartbeats(st: EmulatorState, stream: RunStream, aw: Awaitable[_T]) -> _T:
    """Await ``aw``, sending a heartbeat every ``heartbeat_interval_s`` while it runs.

    If the wait is interrupted (the run is cancelled), ``aw`` is cancelled and waited for.
    """
    task = asyncio.ensure_future(aw)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=st.config.heartbeat_interval_s)
            if done:
                return task.result()
            stream.heartbeat(st.config.heartbeat_style)
    finally:
        if not task.done():
            task.cancel()
            await _wind_down(task)


@contextlib.asynccontextmanager
async def locked(st: EmulatorState, stream: RunStream, lock: asyncio.Lock) -> AsyncIterator[None]:
    """Hold the session's run lock; heartbeats flow while an earlier run still holds it."""
    acquire = asyncio.ensure_future(lock.acquire())
    try:
        while not acquire.done():
            done, _ = await asyncio.wait({acquire}, timeout=st.config.heartbeat_interval_s)
            if not done:
                stream.heartbeat(st.config.heartbeat_style)
    except BaseException:  # cancelled while waiting: release the lock if we got it after all
        if acquire.done() and not acquire.cancelled() and acquire.exception() is None:
            lock.release()
        else:
            acquire.cancel()
        raise
    try:
        yield
    finally:
        lock.release()
