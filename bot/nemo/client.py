"""The NemoVideo API client: every endpoint of the contract on one lazy aiohttp session.

Methods are named after the API operations (design notes, "What crosses the boundaries").
Only :class:`~bot.nemo.errors.NemoError` subclasses leave this module.

Retry policy (design habit 3): idempotent GETs retry on 5xx and connection errors with
back-off; any call retries once after HTTP 429 (``Retry-After`` or 30 s) and once after an
auth failure with a fresh anonymous token; ``/run_sse`` is never retried once the stream
started, because re-sending a message duplicates the work and charges twice (section 3).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import aiohttp

from bot.nemo.errors import (
    NemoAuthError,
    NemoConnectionError,
    NemoError,
    NemoRateLimited,
    NemoRenderFailed,
    NemoServerError,
    NemoStreamDropped,
    NemoTimeoutError,
    error_for,
)
from bot.nemo.events import AgentEvent, Heartbeat, RunEnd
from bot.nemo.models import (
    AnonymousToken,
    Attribution,
    Credits,
    RenderOutcome,
    RenderStatus,
    SessionInfo,
    SessionState,
    UploadedFile,
    parse_render_status,
)
from bot.nemo.sse import SSEDecoder, SSEProtocolError, events_from_message

log = logging.getLogger(__name__)

UPLOAD_CHUNK = 256 * 1024


@dataclass(frozen=True, slots=True)
class StoredToken:
    """The anonymous identity kept by the store.

    Attributes:
        client_id: The ``X-Client-Id`` UUID, created once and kept (contract section 2).
        token: The bearer token, or ``None`` before the first call.
        user_id: ``anon_...`` user id, used for the registration link.
        expires_at: Token expiry (UTC), or ``None`` when unknown.
    """

    client_id: str
    token: str | None = None
    user_id: str | None = None
    expires_at: datetime | None = None


class TokenStore(Protocol):
    """Where the client keeps its anonymous identity (implemented by :mod:`store`)."""

    async def load_token(self) -> StoredToken | None: ...

    async def save_token(self, token: StoredToken) -> None: ...


class MemoryTokenStore:
    """A :class:`TokenStore` in memory, for tools and tests."""

    def __init__(self) -> None:
        self.value: StoredToken | None = None

    async def load_token(self) -> StoredToken | None:
        return self.value

    async def save_token(self, token: StoredToken) -> None:
        self.value = token


@dataclass(frozen=True, slots=True)
class UploadSource:
    """One file to upload, streamed (never read whole into memory).

    Attributes:
        filename: The name sent in the multipart part.
        path: A local file to stream from, or ``None`` when ``stream`` is given.
        stream: A factory returning a fresh async byte iterator, or ``None``.
        size: Size in bytes when known.
        content_type: MIME type (default ``application/octet-stream``).
    """

    filename: str
    path: Path | None = None
    stream: Callable[[], AsyncIterator[bytes]] | None = None
    size: int | None = None
    content_type: str = "application/octet-stream"


ProgressCallback = Callable[[RenderStatus], Awaitable[None]]


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
        get_retries: Extra attempts for idempotent GETs on 5xx / connection errors.
        backoff_s: First back-off between GET retries (s), doubled each time.
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
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.web_url = web_url.rstrip("/")
        self._token_store = token_store or MemoryTokenStore()
        self._fixed_token = fixed_token
        self._client_id = client_id
        self._identity: StoredToken | None = None
        self._auth_lock = asyncio.Lock()
        self.default_attribution = default_attribution or Attribution("video-leaderboard", "1.0.0", "console")
        self.http_timeout_s = http_timeout_s
        self.rate_limit_wait_s = rate_limit_wait_s
        self.get_retries = get_retries
        self.backoff_s = backoff_s
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    # ------------------------------------------------------------------ lifecycle

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            if self._closed:
                raise NemoConnectionError("client is closed")
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=30),
                raise_for_status=False,
            )
        return self._session

    async def close(self) -> None:
        """Close the HTTP session. Idempotent."""
        self._closed = True
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def __aenter__(self) -> NemoClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ auth

    @property
    def user_id(self) -> str | None:
        """The anonymous ``user_id`` (``anon_...``) once known, for registration links."""
        return self._identity.user_id if self._identity else None

    @property
    def is_anonymous(self) -> bool:
        """True when the client uses anonymous tokens (no ``NEMO_TOKEN``)."""
        return self._fixed_token is None

    async def _token(self) -> str:
        if self._fixed_token:
            return self._fixed_token
        async with self._auth_lock:
            if self._identity is None:
                self._identity = await self._token_store.load_token()
                if self._identity is None or (self._client_id and self._identity.client_id != self._client_id):
                    self._identity = StoredToken(client_id=self._client_id or str(uuid.uuid4()))
                    await self._token_store.save_token(self._identity)
            ident = self._identity
            fresh = ident.token and (
                ident.expires_at is None or ident.expires_at - timedelta(seconds=60) > datetime.now(UTC)
            )
            if fresh:
                return ident.token  # type: ignore[return-value]
            return await self._fetch_anonymous_token()

    async def _refresh_token(self, rejected: str) -> str:
        if self._fixed_token:
            raise NemoAuthError("NEMO_TOKEN was rejected by NemoVideo; set a valid token", status=401)
        async with self._auth_lock:
            if self._identity and self._identity.token and self._identity.token != rejected:
                return self._identity.token  # another task refreshed already
            return await self._fetch_anonymous_token()

    async def _fetch_anonymous_token(self) -> str:
        assert self._identity is not None
        body = await self._send_once(
            "POST",
            "/api/auth/anonymous-token",
            headers={"X-Client-Id": self._identity.client_id},
            attribution=self.default_attribution,
            token=None,
        )
        data = AnonymousToken.model_validate(_data_of(body))
        expires = data.expires_at
        if expires is not None and expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        self._identity = StoredToken(self._identity.client_id, data.token, data.user_id, expires)
        await self._token_store.save_token(self._identity)
        log.info("got an anonymous NemoVideo token for user %s", data.user_id)
        return data.token

    # ------------------------------------------------------------------ core request

    def _headers(self, attribution: Attribution | None, token: str | None) -> dict[str, str]:
        headers = (attribution or self.default_attribution).headers()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    async def _send_once(
        self,
        method: str,
        path: str,
        *,
        attribution: Attribution | None,
        token: str | None,
        json_body: Any = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """One HTTP exchange; returns the decoded body or raises a :class:`NemoError`."""
        all_headers = self._headers(attribution, token)
        if headers:
            all_headers.update(headers)
        url = path if path.startswith("http") else f"{self.api_url}{path}"
        try:
            async with self._http().request(
                method,
                url,
                json=json_body,
                data=data,
                headers=all_headers,
                timeout=aiohttp.ClientTimeout(total=self.http_timeout_s),
            ) as resp:
                body = await _read_body(resp)
                error = error_for(resp.status, body, resp.headers)
        except TimeoutError as exc:
            raise NemoTimeoutError(f"{method} {path} timed out after {self.http_timeout_s:.0f} s") from exc
        except aiohttp.ClientError as exc:
            raise NemoConnectionError(f"{method} {path} failed: {type(exc).__name__}") from exc
        if error is not None:
            raise error
        return body

    async def _call(
        self,
        method: str,
        path: str,
        *,
        attribution: Attribution | None = None,
        json_body: Any = None,
        body_factory: Callable[[], Any] | None = None,
        replayable: bool = True,
    ) -> Any:
        """A call with the retry policy of the module docstring."""
        idempotent = method == "GET"
        auth_retried = False
        rate_retried = False
        server_retries = 0
        while True:
            token = await self._token()
            try:
                return await self._send_once(
                    method,
                    path,
                    attribution=attribution,
                    token=token,
                    json_body=json_body,
                    data=body_factory() if body_factory else None,
                )
            except NemoAuthError:
                if auth_retried or not replayable:
                    raise
                auth_retried = True
                await self._refresh_token(token)
            except NemoRateLimited as exc:
                if rate_retried or not replayable:
                    raise
                rate_retried = True
                wait = exc.retry_after if exc.retry_after is not None else self.rate_limit_wait_s
                log.warning("NemoVideo rate limit on %s %s; retrying in %.1f s", method, path, wait)
                await asyncio.sleep(wait)
            except (NemoServerError, NemoConnectionError, NemoTimeoutError):
                if not idempotent or server_retries >= self.get_retries:
                    raise
                await asyncio.sleep(self.backoff_s * (2**server_retries))
                server_retries += 1

    # ------------------------------------------------------------------ endpoints

    async def create_session(self, language: str = "en", *, attribution: Attribution | None = None) -> SessionInfo:
        """Create a project session (endpoint 2).

        Args:
            language: The user's language (``en``, ``zh-CN``, ``ja``...).
            attribution: Attribution headers for this call.

        Returns:
            ``task_id`` and ``session_id``.

        Raises:
            NemoError: Any API or transport failure.
        """
        body = await self._call(
            "POST",
            "/api/tasks/me/with-session/nemo_agent",
            attribution=attribution,
            json_body={"task_name": "project", "language": language},
        )
        return SessionInfo.model_validate(_data_of(body))

    async def claim_link(self, task_id: str, session_id: str, *, attribution: Attribution | None = None) -> str:
        """The web-editor link of a project (endpoint 3, contract section 8).

        Returns:
            ``<web>/workspace/claim?ct=<claim_token>``. The bearer token is never in it.
        """
        body = await self._call(
            "POST",
            "/api/auth/claim-token",
            attribution=attribution,
            json_body={"task_id": task_id, "session_id": session_id},
        )
        claim = _data_of(body).get("claim_token")
        if not claim:
            raise NemoServerError("claim-token answer had no claim_token", body=body)
        return f"{self.web_url}/workspace/claim?ct={claim}"

    def registration_link(self) -> str:
        """``https://nemovideo.com/register?bind=<user_id>`` (contract section 7, code 2001)."""
        if self.user_id:
            return f"{self.web_url}/register?bind={self.user_id}"
        return f"{self.web_url}/register"

    async def credits(self, *, attribution: Attribution | None = None) -> Credits:
        """The credit balance (endpoint 6); both answer shapes of section 9 are read."""
        body = await self._call("GET", "/api/credits/balance/simple", attribution=attribution)
        return Credits.model_validate(_data_of(body))

    async def state(self, session_id: str, *, attribution: Attribution | None = None) -> SessionState:
        """The session's latest state (endpoint 7).

        Raises:
            NemoSessionNotFound: Code 1002.
        """
        body = await self._call("GET", f"/api/state/nemo_agent/me/{session_id}/latest", attribution=attribution)
        return SessionState.model_validate(_data_of(body))

    async def upload_files(
        self, session_id: str, files: Sequence[UploadSource], *, attribution: Attribution | None = None
    ) -> list[UploadedFile]:
        """Upload one or more files in one multipart call (endpoint 5, field ``files``).

        Bytes are streamed from the file or the async iterator in 256 KiB chunks; a whole
        file is never held in memory. The call is retried (after 429 or an auth failure)
        only when every source can be replayed: paths always, stream factories once.

        Args:
            session_id: The session to attach the files to.
            files: The sources; several go up together.
            attribution: Attribution headers for this call.

        Returns:
            One :class:`UploadedFile` per file (``duration`` in seconds).

        Raises:
            NemoUnsupportedFile: Code 4001. NemoFileTooLarge: Code 4002. NemoError: others.
        """
        if not files:
            return []
        opened: list[Any] = []

        def build() -> aiohttp.FormData:
            for handle in opened:
                handle.close()
            opened.clear()
            form = aiohttp.FormData(quote_fields=False)
            for src in files:
                if src.path is not None:
                    handle = open(src.path, "rb")  # noqa: SIM115 - closed in finally
                    opened.append(handle)
                    form.add_field("files", handle, filename=src.filename, content_type=src.content_type)
                elif src.stream is not None:
                    form.add_field(
                        "files", _chunked(src.stream()), filename=src.filename, content_type=src.content_type
                    )
                else:
                    raise ValueError(f"upload source {src.filename!r} has neither path nor stream")
            return form

        replayable = all(src.path is not None for src in files)
        try:
            body = await self._call(
                "POST",
                f"/api/upload-video/nemo_agent/me/{session_id}",
                attribution=attribution,
                body_factory=build,
                replayable=replayable,
            )
        finally:
            for handle in opened:
                handle.close()
        return [UploadedFile.model_validate(f) for f in _data_of(body).get("files", [])]

    async def upload_urls(
        self, session_id: str, urls: Sequence[str], *, attribution: Attribution | None = None
    ) -> list[UploadedFile]:
        """Upload files by public URL (endpoint 5, JSON mode). Only URLs holding no secret.

        Raises:
            NemoUnsupportedFile: Code 4001. NemoFileTooLarge: Code 4002. NemoError: others.
        """
        body = await self._call(
            "POST",
            f"/api/upload-video/nemo_agent/me/{session_id}",
            attribution=attribution,
            json_body={"urls": list(urls), "source_type": "url"},
        )
        return [UploadedFile.model_validate(f) for f in _data_of(body).get("files", [])]

    async def run(
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
        accepted); after that nothing is retried.

        Args:
            session_id: The session.
            text: The user's message.
            attribution: Attribution headers for this call.
            idle_timeout_s: Time with only heartbeats (or nothing) before giving up (s; 600).
            hard_timeout_s: Hard limit of the whole run (s; 900).

        Yields:
            Typed events; the last one is :class:`RunEnd` after a normal close.

        Raises:
            NemoSessionNotFound: HTTP 404 / code 1002. NemoOutOfCredits: code 2001.
            NemoStreamDropped: The stream broke after the message was accepted.
            NemoTimeoutError: The idle or hard limit passed.
        """
        payload = {
            "app_name": "nemo_agent",
            "user_id": "me",
            "session_id": session_id,
            "new_message": {"role": "user", "parts": [{"text": text}]},
        }
        retried_auth = retried_rate = False
        while True:
            token = await self._token()
            headers = self._headers(attribution, token)
            headers["Accept"] = "text/event-stream"
            try:
                resp = await self._http().post(
                    f"{self.api_url}/run_sse",
                    json=payload,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=idle_timeout_s),
                )
            except TimeoutError as exc:
                raise NemoTimeoutError("the agent did not answer in time") from exc
            except aiohttp.ClientError as exc:
                raise NemoConnectionError(f"POST /run_sse failed: {type(exc).__name__}") from exc
            ctype = resp.headers.get("Content-Type", "")
            if resp.status == 200 and ctype.startswith("text/event-stream"):
                break
            try:
                body = await _read_body(resp)
            except aiohttp.ClientError as exc:
                raise NemoConnectionError("POST /run_sse answer broke off") from exc
            finally:
                resp.release()
            error = error_for(resp.status, body, resp.headers) or NemoServerError(
                f"unexpected /run_sse answer ({resp.status}, {ctype or 'no content type'})",
                status=resp.status,
                body=body,
            )
            if isinstance(error, NemoAuthError) and not retried_auth:
                retried_auth = True
                await self._refresh_token(token)
                continue
            if isinstance(error, NemoRateLimited) and not retried_rate:
                retried_rate = True
                await asyncio.sleep(error.retry_after if error.retry_after is not None else self.rate_limit_wait_s)
                continue
            raise error

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
                if not chunk:
                    break
                try:
                    messages = decoder.feed(chunk)
                except SSEProtocolError as exc:
                    raise NemoStreamDropped(f"unreadable agent stream: {exc}") from exc
                for message in messages:
                    try:
                        events = events_from_message(message)
                    except SSEProtocolError as exc:
                        log.warning("skipping an unreadable agent event: %s", exc)
                        continue
                    for event in events:
                        now = time.monotonic()
                        if isinstance(event, Heartbeat):
                            if now - last_progress > idle_timeout_s:
                                raise NemoTimeoutError(f"only heartbeats from the agent for {idle_timeout_s:.0f} s")
                        else:
                            last_progress = now
                        yield event
            for message in decoder.flush():
                for event in events_from_message(message):
                    yield event
            yield RunEnd()
        finally:
            resp.close()

    async def submit_render(
        self,
        session_id: str,
        draft: dict[str, Any],
        *,
        render_id: str | None = None,
        attribution: Attribution | None = None,
    ) -> str:
        """Submit a render (endpoint 8, section 5). Costs no credits.

        Args:
            session_id: The session (sent as camelCase ``sessionId``).
            draft: The draft to render, as read from the state.
            render_id: The id to use (``render_<unique>``); a new one when ``None``.

        Returns:
            The render id.

        Raises:
            NemoPaymentRequired: HTTP 402. NemoError: others.
        """
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

    async def render_status(self, render_id: str, *, attribution: Attribution | None = None) -> RenderStatus:
        """Poll a render (endpoint 9); shapes A, B and C are read (section 5)."""
        body = await self._call("GET", f"/api/render/proxy/lambda/{render_id}", attribution=attribution)
        return parse_render_status(body)

    async def cancel_render(self, render_id: str, *, attribution: Attribution | None = None) -> None:
        """Cancel a render (endpoint 10)."""
        await self._call("POST", f"/api/render/proxy/lambda/{render_id}/cancel", attribution=attribution)

    def fallback_download_url(self, render_id: str) -> str:
        """``/api/render/proxy/<id>/download`` (endpoint 11; needs the bearer token)."""
        return f"{self.api_url}/api/render/proxy/{render_id}/download"

    async def export(
        self,
        session_id: str,
        draft: dict[str, Any],
        *,
        attribution: Attribution | None = None,
        on_submit: Callable[[str], Awaitable[None]] | None = None,
        on_progress: ProgressCallback | None = None,
        poll: PollPolicy = PollPolicy(),
    ) -> RenderOutcome:
        """Render a draft: submit, poll with back-off, retry once on ``failed`` (section 5).

        Args:
            session_id: The session.
            draft: The draft (must be ready: at least one track with segments).
            attribution: Attribution headers.
            on_submit: Awaited with each render id before it is submitted (so the caller
                can persist it first).
            on_progress: Awaited with every polled status.
            poll: Poll cadence and total limit per attempt.

        Returns:
            Where to download the MP4.

        Raises:
            NemoRenderFailed: Both attempts failed, or the render was cancelled.
            NemoTimeoutError: Polling passed ``poll.timeout_s``.
        """
        last_error = "render failed"
        for attempt in (1, 2):
            rid = new_render_id()
            if on_submit:
                await on_submit(rid)
            await self.submit_render(session_id, draft, render_id=rid, attribution=attribution)
            status = await self.wait_render(rid, attribution=attribution, on_progress=on_progress, poll=poll)
            if status.status == "completed":
                url = status.output_url
                return RenderOutcome(
                    render_id=rid,
                    download_url=url or self.fallback_download_url(rid),
                    needs_auth=url is None,
                    size=status.size,
                    duration_s=status.duration_s,
                    attempts=attempt,
                )
            if status.cancelled:
                raise NemoRenderFailed("the render was cancelled", body=status.error)
            last_error = status.error or "render failed"
            log.warning("render %s failed (attempt %d): %s", rid, attempt, last_error)
        raise NemoRenderFailed(last_error)

    async def wait_render(
        self,
        render_id: str,
        *,
        attribution: Attribution | None = None,
        on_progress: ProgressCallback | None = None,
        poll: PollPolicy = PollPolicy(),
    ) -> RenderStatus:
        """Poll one render until it is done (start fast, back off, cap).

        Returns:
            The terminal status (``completed``, ``failed`` or ``cancelled``).

        Raises:
            NemoTimeoutError: Not done within ``poll.timeout_s`` seconds.
        """
        deadline = time.monotonic() + poll.timeout_s
        delay = poll.initial_s
        while True:
            status = await self.render_status(render_id, attribution=attribution)
            if on_progress:
                await on_progress(status)
            if status.done:
                return status
            if time.monotonic() + delay > deadline:
                raise NemoTimeoutError(f"render {render_id} not done after {poll.timeout_s:.0f} s")
            await asyncio.sleep(delay)
            delay = min(poll.max_s, delay * poll.factor)

    async def download(
        self,
        url: str,
        dest: Path,
        *,
        needs_auth: bool = False,
        max_bytes: int | None = None,
        attribution: Attribution | None = None,
    ) -> int | None:
        """Stream a rendered file to ``dest``.

        The bearer token is sent only to the API's own fallback endpoint, never to an
        output URL on another host.

        Args:
            url: ``output.url`` or the fallback download URL.
            dest: Target file (written via a ``.part`` file, renamed when complete).
            needs_auth: Send the bearer token (fallback endpoint only).
            max_bytes: Stop and return ``None`` when the file is larger (bytes).

        Returns:
            The size in bytes, or ``None`` when over ``max_bytes`` (nothing is left on disk).

        Raises:
            NemoConnectionError: The download failed or broke off. NemoError: API errors.
        """
        headers: dict[str, str] = {}
        if needs_auth:
            headers = self._headers(attribution, await self._token())
        part = dest.with_name(dest.name + ".part")
        size = 0
        try:
            async with self._http().get(
                url, headers=headers, timeout=aiohttp.ClientTimeout(total=None, sock_read=self.http_timeout_s)
            ) as resp:
                if resp.status != 200:
                    body = await _read_body(resp)
                    raise error_for(resp.status, body, resp.headers) or NemoServerError(
                        f"download answered {resp.status}", status=resp.status
                    )
                length = resp.content_length
                if max_bytes is not None and length is not None and length > max_bytes:
                    return None
                with open(part, "wb") as out:
                    async for chunk in resp.content.iter_chunked(UPLOAD_CHUNK):
                        size += len(chunk)
                        if max_bytes is not None and size > max_bytes:
                            break
                        out.write(chunk)
                if length is not None and size < length:
                    raise NemoConnectionError(f"download broke off after {size} of {length} bytes")
        except BaseException as exc:
            with contextlib.suppress(FileNotFoundError):
                part.unlink()
            if isinstance(exc, asyncio.TimeoutError):
                raise NemoTimeoutError("the download stalled") from exc
            if isinstance(exc, aiohttp.ClientError):
                raise NemoConnectionError(f"download failed: {type(exc).__name__}") from exc
            raise
        if max_bytes is not None and size > max_bytes:
            with contextlib.suppress(FileNotFoundError):
                part.unlink()
            return None
        os.replace(part, dest)
        return size


def new_render_id() -> str:
    """A fresh ``render_<unique>`` id (contract section 5)."""
    return f"render_{uuid.uuid4().hex}"


def _data_of(body: Any) -> dict[str, Any]:
    if isinstance(body, dict):
        data = body.get("data")
        if isinstance(data, dict):
            return data
        return body
    return {}


async def _read_body(resp: aiohttp.ClientResponse) -> Any:
    raw = await resp.read()
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text[:2000]


async def _chunked(source: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    async for chunk in source:
        if chunk:
            yield chunk


__all__ = [
    "MemoryTokenStore",
    "NemoClient",
    "NemoError",
    "StoredToken",
    "TokenStore",
    "UploadSource",
    "new_render_id",
]
