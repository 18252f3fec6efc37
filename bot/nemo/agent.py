"""The agent run (endpoint 4, ``POST /run_sse``, contract section 3).

The message is sent exactly once. Only the first POST goes through the retry policy, as a
non-idempotent call: a 401/1001 is retried once with a fresh token and a 429 once after the
wait (the message was not accepted then); 5xx and transport errors are raised. Once the
stream has started nothing is retried: a broken stream is
:class:`~bot.nemo.errors.NemoStreamDropped`, and the caller reads the state instead of
re-sending (section 3, "After a dropped stream").
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterator

import aiohttp

from bot.nemo.auth import TokenManager
from bot.nemo.errors import NemoConnectionError, NemoStreamDropped, NemoTimeoutError
from bot.nemo.events import AgentEvent, Heartbeat, RunEnd
from bot.nemo.models import Attribution
from bot.nemo.sse import SSEDecoder, SSEMessage, SSEProtocolError, events_from_message
from bot.nemo.transport import Transport

log = logging.getLogger(__name__)


def run_request(session_id: str, text: str) -> dict[str, object]:
    """The ``/run_sse`` body (snake_case, ``user_id`` literally ``me``; section 3)."""
    return {
        "app_name": "nemo_agent",
        "user_id": "me",
        "session_id": session_id,
        "new_message": {"role": "user", "parts": [{"text": text}]},
    }


async def run_agent(
    transport: Transport,
    tokens: TokenManager,
    session_id: str,
    text: str,
    *,
    attribution: Attribution | None,
    idle_timeout_s: float,
    hard_timeout_s: float,
) -> AsyncIterator[AgentEvent]:
    """Send one message and yield its events (see :meth:`bot.nemo.client.NemoClient.run`).

    Raises:
        NemoSessionNotFound: HTTP 404 / code 1002. NemoOutOfCredits: code 2001.
        NemoStreamDropped: The stream broke after the message was accepted, or the POST
            was sent and no answer came (it may have been accepted: never re-send it).
        NemoConnectionError: The connection could not be made (nothing was sent).
        NemoTimeoutError: ``idle_timeout_s`` with only heartbeats (or nothing), or
            ``hard_timeout_s`` in all (s).
    """
    payload = run_request(session_id, text)

    async def open_stream(token: str) -> aiohttp.ClientResponse:
        return await transport.open_stream(
            "/run_sse", payload, attribution=attribution, token=token, idle_timeout_s=idle_timeout_s
        )

    try:
        resp = await tokens.authorized(open_stream, idempotent=False, what="POST /run_sse")
    except (NemoConnectionError, NemoTimeoutError) as exc:
        if isinstance(exc.__cause__, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
            raise  # never connected: the message was not sent
        # the request went out and no answer came: the backend may have accepted the message
        raise NemoStreamDropped("POST /run_sse got no answer; the message may have been accepted") from exc
    decoder = SSEDecoder()
    started = time.monotonic()
    last_progress = started
    try:
        while True:
            if time.monotonic() - started > hard_timeout_s:
                raise NemoTimeoutError(f"the agent run passed the {hard_timeout_s:.0f} s limit")
            try:
                chunk = await resp.content.readany()
            except TimeoutError as exc:
                raise NemoTimeoutError(f"no answer from the agent for {idle_timeout_s:.0f} s") from exc
            except aiohttp.ClientError as exc:
                raise NemoStreamDropped("the agent stream broke off") from exc
            try:
                messages = decoder.feed(chunk) if chunk else decoder.flush()
            except SSEProtocolError as exc:
                raise NemoStreamDropped(f"unreadable agent stream: {exc}") from exc
            for event in _readable_events(messages):
                now = time.monotonic()
                if isinstance(event, Heartbeat):
                    if now - last_progress > idle_timeout_s:
                        raise NemoTimeoutError(f"only heartbeats from the agent for {idle_timeout_s:.0f} s")
                else:
                    last_progress = now
                yield event
            if not chunk:
                break
        yield RunEnd()
    finally:
        resp.close()


def _readable_events(messages: list[SSEMessage]) -> Iterator[AgentEvent]:
    """The events of ``messages``; an unreadable event is logged and skipped."""
    for message in messages:
        try:
            events = events_from_message(message)
        except SSEProtocolError as exc:
            log.warning("skipping an unreadable agent event: %s", exc)
            continue
        yield from events
