"""The NemoVideo API client: :class:`NemoClient`, the facade over every endpoint of the contract.

Methods are named after the API operations (design notes, "What crosses the boundaries"); only
:class:`~bot.nemo.errors.NemoError` subclasses leave it. The work is done by :mod:`.transport`
(session, headers, one exchange, error mapping), :mod:`.auth` (anonymous tokens, refresh after
an auth failure), :mod:`.retry` (the one retry policy: GETs retry 5xx/connection/timeout with
back-off; any call retries once after 429 and once after an auth failure; ``/run_sse`` never
once the stream started, section 3), :mod:`.uploads`, :mod:`.renders` and :mod:`.agent`.
Names other modules import from here (``UploadSource``, ``PollPolicy``, ``StoredToken``,
``MemoryTokenStore``...) are re-exported.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from bot.nemo.agent import run_agent
from bot.nemo.auth import MemoryTokenStore, StoredToken, TokenManager, TokenStore
from bot.nemo.errors import NemoError, NemoServerError
from bot.nemo.events import AgentEvent
from bot.nemo.models import Attribution, Credits, RenderOutcome, RenderStatus, SessionInfo, SessionState, UploadedFile
from bot.nemo.renders import DEFAULT_POLL, DOWNLOAD_ATTEMPTS, PollPolicy, ProgressCallback, Renders, new_render_id
from bot.nemo.retry import RetryPolicy
from bot.nemo.transport import Transport, data_of
from bot.nemo.uploads import Uploads, UploadSource


class NemoClient:
    """Async client of the NemoVideo API (contract sections 1-8).

    Args:
        api_url: API base, e.g. ``https://mega-api-prod.nemovideo.ai``.
        web_url: Web app base for claim links, e.g. ``https://nemovideo.com``.
        token_store: Where the anonymous identity lives (ignored with ``fixed_token``).
        fixed_token: ``NEMO_TOKEN``: use this bearer and never ask for anonymous tokens.
        client_id: ``NEMO_CLIENT_ID``: the anonymous client id to use.
        default_attribution: Headers used when a call passes none.
        http_timeout_s: Timeout of one non-streaming call (s).
        rate_limit_wait_s: Wait after HTTP 429 without ``Retry-After`` (s; contract: 30).
        get_retries: Extra attempts for idempotent GETs on 5xx / connection errors / timeouts.
        backoff_s: First back-off between GET retries (s), doubled each time.
        retry_policy: The whole retry policy; when given, ``rate_limit_wait_s``,
            ``get_retries`` and ``backoff_s`` are ignored.
        download_attempts: Attempts of one output download (:meth:`download`).
    """

    def __init__(
        self,
        api_url: str,
        web_url: str = "https://nemovideo.com",
        *,
        token_store: TokenStore | None = None,
        fixed_token: str | None = None,
        client_id: str | None = None,
        default_attribution: Attribution | None = None,
        http_timeout_s: float = 60.0,
        rate_limit_wait_s: float = 30.0,
        get_retries: int = 3,
        backoff_s: float = 0.5,
        retry_policy: RetryPolicy | None = None,
        download_attempts: int = DOWNLOAD_ATTEMPTS,
    ) -> None:
        self.web_url = web_url.rstrip("/")
        self.default_attribution = default_attribution or Attribution("video-leaderboard", "1.0.0", "console")
        self.retry_policy = retry_policy or RetryPolicy(
            transient_attempts=get_retries + 1, backoff_s=backoff_s, rate_limit_wait_s=rate_limit_wait_s
        )
        self._transport = Transport(api_url, self.default_attribution, http_timeout_s)
        self._tokens = TokenManager(
            self._transport,
            token_store or MemoryTokenStore(),
            self.retry_policy,
            fixed_token=fixed_token,
            client_id=client_id,
        )
        self._call = self._tokens.call
        self._uploads = Uploads(self._call)
        self._renders = Renders(self._call, self._transport, self._tokens, download_attempts=download_attempts)

    @property
    def api_url(self) -> str:
        """The API base, without a trailing slash."""
        return self._transport.api_url

    @property
    def http_timeout_s(self) -> float:
        """Timeout of one non-streaming call (s)."""
        return self._transport.http_timeout_s

    async def close(self) -> None:
        """Close the HTTP session. Idempotent; later calls raise ``NemoConnectionError``."""
        await self._transport.close()

    async def __aenter__(self) -> NemoClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def user_id(self) -> str | None:
        """The anonymous ``user_id`` (``anon_...``) once known, for registration links."""
        return self._tokens.user_id

    @property
    def is_anonymous(self) -> bool:
        """True when the client uses anonymous tokens (no ``NEMO_TOKEN``)."""
        return self._tokens.is_anonymous

    async def _token(self) -> str:
        """The current bearer token (for tools and tests; never log it)."""
        return await self._tokens.token()

    async def create_session(self, language: str = "en", *, attribution: Attribution | None = None) -> SessionInfo:
        """Create a project session (endpoint 2). A POST: retried only after 429 or an auth failure.

        Args:
            language: The user's language (``en``, ``zh-CN``, ``ja``...).
            attribution: Attribution headers for this call.

        Returns:
            ``task_id`` and ``session_id`` (and ``user_id`` when the backend sends it).

        Raises:
            NemoError: Any API or transport failure.
        """
        body = await self._call(
            "POST",
            "/api/tasks/me/with-session/nemo_agent",
            attribution=attribution,
            json_body={"task_name": "project", "language": language},
        )
        return SessionInfo.model_validate(data_of(body))

    async def claim_link(self, task_id: str, session_id: str, *, attribution: Attribution | None = None) -> str:
        """The web-editor link of a project (endpoint 3, contract section 8).

        Returns:
            ``<web>/workspace/claim?ct=<claim_token>``. The bearer token is never in it.

        Raises:
            NemoServerError: The answer had no ``claim_token``. NemoError: other failures.
        """
        body = await self._call(
            "POST",
            "/api/auth/claim-token",
            attribution=attribution,
            json_body={"task_id": task_id, "session_id": session_id},
        )
        claim = data_of(body).get("claim_token")
        if not claim:
            raise NemoServerError("claim-token answer had no claim_token", body=body)
        return f"{self.web_url}/workspace/claim?ct={claim}"

    def registration_link(self) -> str:
        """``https://nemovideo.com/register?bind=<user_id>`` (contract section 7, code 2001)."""
        if self.user_id:
            return f"{self.web_url}/register?bind={self.user_id}"
        return f"{self.web_url}/register"

    async def credits(self, *, attribution: Attribution | None = None) -> Credits:
        """The credit balance (endpoint 6); both answer shapes of section 9 are read.

        Raises:
            NemoError: Any failure left after the GET retries.
        """
        body = await self._call("GET", "/api/credits/balance/simple", attribution=attribution)
        return Credits.model_validate(data_of(body))

    async def state(self, session_id: str, *, attribution: Attribution | None = None) -> SessionState:
        """The session's latest state (endpoint 7, section 4).

        Raises:
            NemoSessionNotFound: Code 1002. NemoError: other failures after the GET retries.
        """
        body = await self._call("GET", f"/api/state/nemo_agent/me/{session_id}/latest", attribution=attribution)
        return SessionState.model_validate(data_of(body))

    async def upload_files(
        self, session_id: str, files: Sequence[UploadSource], *, attribution: Attribution | None = None
    ) -> list[UploadedFile]:
        """Upload one or more files in one multipart call (endpoint 5, field ``files``).

        Bytes are streamed from the file or the async iterator in 256 KiB chunks; a whole
        file is never held in memory. The call is retried (after 429 or an auth failure)
        only when every source can be replayed: paths always, stream factories never; 5xx
        is not retried (the bytes may have been accepted).

        Args:
            session_id: The session to attach the files to.
            files: The sources; several go up together.
            attribution: Attribution headers for this call.

        Returns:
            One :class:`UploadedFile` per file (``duration`` in seconds).

        Raises:
            NemoUnsupportedFile: Code 4001. NemoFileTooLarge: Code 4002 (over 500 MB,
            section 8). ValueError: A source has neither path nor stream. NemoError: others.
        """
        return await self._uploads.files(session_id, files, attribution=attribution)

    async def upload_urls(
        self, session_id: str, urls: Sequence[str], *, attribution: Attribution | None = None
    ) -> list[UploadedFile]:
        """Upload files by public URL (endpoint 5, JSON mode). Only URLs holding no secret (section 8).

        Raises:
            NemoUnsupportedFile: Code 4001. NemoFileTooLarge: Code 4002. NemoError: others.
        """
        return await self._uploads.urls(session_id, urls, attribution=attribution)

    def run(
        self,
        session_id: str,
        text: str,
        *,
        attribution: Attribution | None = None,
        idle_timeout_s: float = 600.0,
        hard_timeout_s: float = 900.0,
    ) -> AsyncIterator[AgentEvent]:
        """Send one message to the agent and yield its events (endpoint 4, section 3).

        The message is sent exactly once. Before the stream starts, a 401/1001 is retried
        once with a fresh token and a 429 once after the wait (the message was not
        accepted); 5xx and connection errors are not retried, and after the stream started
        nothing is.

        Args:
            session_id: The session.
            text: The user's message.
            attribution: Attribution headers for this call.
            idle_timeout_s: Time with only heartbeats (or nothing) before giving up (s; 600).
            hard_timeout_s: Hard limit of the whole run (s; 900).

        Yields:
            Typed events; the last one is :class:`~bot.nemo.events.RunEnd` after a normal close.

        Raises:
            NemoSessionNotFound: HTTP 404 / code 1002. NemoOutOfCredits: code 2001.
            NemoStreamDropped: The stream broke after the message was accepted.
            NemoTimeoutError: The idle or hard limit passed.
        """
        return run_agent(
            self._transport,
            self._tokens,
            session_id,
            text,
            attribution=attribution,
            idle_timeout_s=idle_timeout_s,
            hard_timeout_s=hard_timeout_s,
        )

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


__all__ = ["MemoryTokenStore", "NemoClient", "NemoError", "PollPolicy", "ProgressCallback", "RenderOutcome"]
__all__ += ["RenderStatus", "RetryPolicy", "StoredToken", "TokenStore", "UploadSource", "new_render_id"]
