"""Renders (endpoints 8-11, contract section 5): submit, poll, cancel, wait, export, download.

The client submits a render once and never resubmits a failed one: whether to (section 5
step 4) is decided by the render tracker (:mod:`bot.renders`), from the
:class:`~bot.nemo.errors.NemoRenderFailed` it gets. Polls and output downloads are
idempotent GETs and are retried by :mod:`bot.nemo.retry`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.nemo.auth import TokenManager
from bot.nemo.errors import NemoRenderFailed, NemoTimeoutError
from bot.nemo.models import Attribution, RenderOutcome, RenderState, RenderStatus, parse_render_status
from bot.nemo.retry import retry_call
from bot.nemo.transport import CallApi, Transport

log = logging.getLogger(__name__)

ProgressCallback = Callable[[RenderStatus], Awaitable[None]]
"""Awaited with every polled :class:`RenderStatus`."""

DOWNLOAD_ATTEMPTS = 3
"""Attempts of one output download on connection errors, timeouts, 5xx and broken-off bodies."""


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """How a render is polled (contract section 5: the CLI backs off from 2 s by x1.5 up to 15 s).

    Attributes:
        initial_s: First delay between polls (s).
        max_s: Longest delay between polls (s).
        factor: Back-off factor applied after each poll.
        timeout_s: Total polling time allowed for one render (s).
    """

    initial_s: float = 2.0
    max_s: float = 15.0
    factor: float = 1.5
    timeout_s: float = 1800.0


DEFAULT_POLL = PollPolicy()
"""The contract's cadence: 2 s, x1.5, up to 15 s; 30 minutes in all."""


def new_render_id() -> str:
    """A fresh ``render_<unique>`` id (contract section 5)."""
    return f"render_{uuid.uuid4().hex}"


class Renders:
    """The render endpoints on top of the client's call, transport and tokens.

    Args:
        call: ``NemoClient._call`` (authorised and retried).
        transport: For downloads and URLs.
        tokens: The bearer for the fallback download endpoint, and the retry policy.
        download_attempts: Attempts of one output download.
    """

    def __init__(
        self,
        call: CallApi,
        transport: Transport,
        tokens: TokenManager,
        *,
        download_attempts: int = DOWNLOAD_ATTEMPTS,
    ) -> None:
        self._call = call
        self._transport = transport
        self._tokens = tokens
        self.download_attempts = download_attempts

    def fallback_url(self, render_id: str) -> str:
        """``<api>/api/render/proxy/<id>/download`` (endpoint 11)."""
        return f"{self._transport.api_url}/api/render/proxy/{render_id}/download"

    async def submit(
        self, session_id: str, draft: dict[str, Any], *, render_id: str | None, attribution: Attribution | None
    ) -> str:
        """``POST /api/render/proxy/lambda`` once (a POST: only 429/auth are retried)."""
        rid = render_id or new_render_id()
        await self._call(
            "POST",
            "/api/render/proxy/lambda",
            attribution=attribution,
            json_body={
                "id": rid,
                "sessionId": session_id,
                "draft": draft,
                "output": {"format": "mp4", "quality": "high"},
            },
        )
        return rid

    async def status(self, render_id: str, *, attribution: Attribution | None) -> RenderStatus:
        """``GET /api/render/proxy/lambda/<id>``, parsed once (shapes A, B, C)."""
        body = await self._call("GET", f"/api/render/proxy/lambda/{render_id}", attribution=attribution)
        return parse_render_status(body, render_id=render_id)

    async def cancel(self, render_id: str, *, attribution: Attribution | None) -> None:
        """``POST /api/render/proxy/lambda/<id>/cancel``."""
        await self._call("POST", f"/api/render/proxy/lambda/{render_id}/cancel", attribution=attribution)

    async def wait(
        self,
        render_id: str,
        *,
        attribution: Attribution | None,
        on_progress: ProgressCallback | None,
        poll: PollPolicy,
    ) -> RenderStatus:
        """Poll until a terminal state (start fast, back off by ``poll.factor``, cap at ``poll.max_s``).

        Raises:
            NemoTimeoutError: Not done within ``poll.timeout_s``.
        """
        deadline = time.monotonic() + poll.timeout_s
        delay = poll.initial_s
        while True:
            status = await self.status(render_id, attribution=attribution)
            if on_progress:
                await on_progress(status)
            if status.done:
                return status
            if time.monotonic() + delay > deadline:
                raise NemoTimeoutError(f"render {render_id} not done after {poll.timeout_s:.0f} s")
            await asyncio.sleep(delay)
            delay = min(poll.max_s, delay * poll.factor)

    async def export(
        self,
        session_id: str,
        draft: dict[str, Any],
        *,
        attribution: Attribution | None,
        on_submit: Callable[[str], Awaitable[None]] | None,
        on_progress: ProgressCallback | None,
        poll: PollPolicy,
    ) -> RenderOutcome:
        """Submit once, wait, and return the outcome or raise (never resubmits)."""
        rid = new_render_id()
        if on_submit:
            await on_submit(rid)
        await self.submit(session_id, draft, render_id=rid, attribution=attribution)
        status = await self.wait(rid, attribution=attribution, on_progress=on_progress, poll=poll)
        if status.status is RenderState.COMPLETED:
            return RenderOutcome.from_status(status, self.fallback_url(rid), render_id=rid)
        if status.cancelled:
            raise NemoRenderFailed("the render was cancelled", status=status, body=status.error)
        log.warning("render %s failed: %s", rid, status.error)
        raise NemoRenderFailed(status.error or "render failed", status=status, body=status.error)

    async def download(
        self,
        url: str,
        dest: Path,
        *,
        needs_auth: bool,
        max_bytes: int | None,
        attribution: Attribution | None,
    ) -> int | None:
        """Stream ``url`` to ``dest`` with up to :attr:`download_attempts` attempts."""
        what = "download of the render output"

        async def once(token: str | None) -> int | None:
            headers = self._transport.headers(attribution, token) if token else {}
            return await self._transport.fetch_to_file(url, dest, headers=headers, max_bytes=max_bytes)

        if needs_auth:
            return await self._tokens.authorized(
                once, idempotent=True, transient_attempts=self.download_attempts, what=what
            )
        return await retry_call(
            lambda: once(None),
            self._tokens.policy,
            idempotent=True,
            transient_attempts=self.download_attempts,
            what=what,
        )

    async def download_head(
        self, url: str, *, needs_auth: bool, max_bytes: int, attribution: Attribution | None
    ) -> bytes:
        """The first ``max_bytes`` of ``url`` (one attempt, one token refresh with ``needs_auth``)."""

        async def once(token: str | None) -> bytes:
            headers = self._transport.headers(attribution, token) if token else {}
            return await self._transport.fetch_head(url, headers=headers, max_bytes=max_bytes)

        if needs_auth:
            return await self._tokens.authorized(
                once, idempotent=True, transient_attempts=1, what="the start of the render output"
            )
        return await once(None)
