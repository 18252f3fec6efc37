"""The render calls of :class:`~bot.nemo.client.NemoClient` (contract section 5, endpoints 8-11).

:class:`RenderCalls` is mixed into the client, so these are ordinary ``NemoClient`` methods;
the work is done by the :class:`~bot.nemo.renders.Renders` of the client's identity (its
token, for the fallback download too).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bot.nemo.models import Attribution, RenderOutcome, RenderStatus
from bot.nemo.renders import DEFAULT_POLL, PollPolicy, ProgressCallback, Renders


class RenderCalls:
    """Submit, poll, cancel, export and download renders (endpoints 8-11, section 5)."""

    _renders: Renders  # set by the client: the render endpoints of its identity

    async def submit_render(
        self,
        session_id: str,
        draft: dict[str, Any],
        *,
        render_id: str | None = None,
        attribution: Attribution | None = None,
    ) -> str:
        """Submit a render once (endpoint 8, section 5). Costs no credits.

        Args:
            session_id: The session (sent as camelCase ``sessionId``).
            draft: The draft to render, as read from the state.
            render_id: The id to use (``render_<unique>``); a new one when ``None``.
            attribution: Attribution headers for this call.

        Returns:
            The render id.

        Raises:
            NemoPaymentRequired: HTTP 402. NemoError: others.
        """
        return await self._renders.submit(session_id, draft, render_id=render_id, attribution=attribution)

    async def render_status(self, render_id: str, *, attribution: Attribution | None = None) -> RenderStatus:
        """Poll a render once (endpoint 9); shapes A, B and C are read (section 5).

        Returns:
            The status, normalised to a :class:`~bot.nemo.models.RenderState`; its
            ``render_id`` is ``render_id`` when the answer carries none.

        Raises:
            NemoBadRequest: HTTP 404 for an unknown render. NemoError: others after the GET retries.
        """
        return await self._renders.status(render_id, attribution=attribution)

    async def cancel_render(self, render_id: str, *, attribution: Attribution | None = None) -> None:
        """Cancel a render (endpoint 10). Its status then reads ``cancelled``.

        Raises:
            NemoError: Any failure.
        """
        await self._renders.cancel(render_id, attribution=attribution)

    def fallback_download_url(self, render_id: str) -> str:
        """``/api/render/proxy/<id>/download`` (endpoint 11; needs the bearer token)."""
        return self._renders.fallback_url(render_id)

    async def export(
        self,
        session_id: str,
        draft: dict[str, Any],
        *,
        attribution: Attribution | None = None,
        on_submit: Callable[[str], Awaitable[None]] | None = None,
        on_progress: ProgressCallback | None = None,
        poll: PollPolicy = DEFAULT_POLL,
    ) -> RenderOutcome:
        """Render a draft: submit once, poll with back-off until it is done (section 5).

        A failed render is not submitted again here: the caller (the render tracker)
        decides that from :attr:`NemoRenderFailed.status <bot.nemo.errors.NemoRenderFailed.status>`.

        Args:
            session_id: The session.
            draft: The draft (must be ready: at least one track with segments).
            attribution: Attribution headers.
            on_submit: Awaited with the render id before it is submitted (so the caller
                can persist it first).
            on_progress: Awaited with every polled status.
            poll: Poll cadence and total limit.

        Returns:
            Where to download the MP4 (``attempts`` is 1).

        Raises:
            NemoRenderFailed: The render ended ``failed`` or ``cancelled``; ``.status`` is
                the final :class:`~bot.nemo.models.RenderStatus`, ``.message`` the
                backend's error text (or "the render was cancelled").
            NemoTimeoutError: Polling passed ``poll.timeout_s``.
            NemoError: Submitting or polling failed (the render may exist).
        """
        return await self._renders.export(
            session_id, draft, attribution=attribution, on_submit=on_submit, on_progress=on_progress, poll=poll
        )

    async def wait_render(
        self,
        render_id: str,
        *,
        attribution: Attribution | None = None,
        on_progress: ProgressCallback | None = None,
        poll: PollPolicy = DEFAULT_POLL,
    ) -> RenderStatus:
        """Poll one render until it is done (start at ``poll.initial_s``, back off, cap at ``poll.max_s``).

        Each poll is an idempotent GET retried by the retry policy.

        Returns:
            The terminal status (``completed``, ``failed`` or ``cancelled``).

        Raises:
            NemoTimeoutError: Not done within ``poll.timeout_s`` seconds.
            NemoError: A poll failed after its retries.
        """
        return await self._renders.wait(render_id, attribution=attribution, on_progress=on_progress, poll=poll)

    async def download(
        self,
        url: str,
        dest: Path,
        *,
        needs_auth: bool = False,
        max_bytes: int | None = None,
        attribution: Attribution | None = None,
    ) -> int | None:
        """Stream a rendered file to ``dest``, retrying through the retry policy.

        An output download is an idempotent GET: it is tried up to ``download_attempts``
        times (3 by default) on connection errors, timeouts, 5xx and bodies that broke off
        before ``Content-Length``, with the policy's back-off; after 429 once more; with
        ``needs_auth`` once more after an auth failure, with a fresh token. Each attempt
        starts over; a failed one leaves nothing on disk. The bearer token is sent only
        to the API's own fallback endpoint, never to an output URL on another host.

        Args:
            url: ``output.url`` or the fallback download URL.
            dest: Target file (written via a ``.part`` file, renamed when complete).
            needs_auth: Send the bearer token (fallback endpoint only).
            max_bytes: Stop and return ``None`` when the file is larger (bytes).
            attribution: Attribution headers (sent with ``needs_auth`` only).

        Returns:
            The size in bytes, or ``None`` when over ``max_bytes`` (nothing is left on disk).

        Raises:
            NemoConnectionError: Every attempt failed or broke off. NemoTimeoutError: Every
                attempt stalled. NemoError: API errors.
        """
        return await self._renders.download(
            url, dest, needs_auth=needs_auth, max_bytes=max_bytes, attribution=attribution
        )

    async def download_head(
        self, url: str, *, needs_auth: bool = False, max_bytes: int, attribution: Attribution | None = None
    ) -> bytes:
        """The start of a rendered file, for a poster frame of a video too large to send.

        One attempt (a poster is optional); the rules of :meth:`download` otherwise: the
        outbound rules, the bearer token only with ``needs_auth`` (the API's own endpoint).

        Args:
            url: ``output.url`` or the fallback download URL.
            needs_auth: Send the bearer token (fallback endpoint only).
            max_bytes: Most bytes read (bytes).
            attribution: Attribution headers (sent with ``needs_auth`` only).

        Returns:
            Up to ``max_bytes`` bytes from the start of the file.

        Raises:
            NemoFetchRefused: The URL broke the outbound rules. NemoError: The fetch failed.
        """
        return await self._renders.download_head(
            url, needs_auth=needs_auth, max_bytes=max_bytes, attribution=attribution
        )
