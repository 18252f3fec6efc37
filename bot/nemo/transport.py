"""One HTTP exchange with NemoVideo: the lazy aiohttp session, headers, bodies, error mapping.

Nothing here retries (that is :mod:`bot.nemo.retry`) or knows about tokens beyond putting
one in a header (that is :mod:`bot.nemo.auth`). Every answer goes through
:func:`bot.nemo.errors.error_for`; aiohttp exceptions become
:class:`~bot.nemo.errors.NemoConnectionError` / :class:`~bot.nemo.errors.NemoTimeoutError`
``from`` the original (design habit 1), so aiohttp types never leave :mod:`bot.nemo`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Protocol

import aiohttp

from bot.nemo.errors import NemoConnectionError, NemoFetchRefused, NemoServerError, NemoTimeoutError, error_for
from bot.nemo.models import Attribution
from bot.outbound import FetchPolicy, FetchRefused, guarded_session, open_checked, refused_by_resolver

CHUNK = 256 * 1024
"""Read and upload chunk size (bytes)."""
WRITE_BUFFER = 1024 * 1024
"""Bytes gathered before a download is written to disk (in a worker thread)."""


class CallApi(Protocol):
    """An authorised, retried API call: ``NemoClient._call`` (see :mod:`bot.nemo.retry`)."""

    async def __call__(
        self,
        method: str,
        path: str,
        *,
        attribution: Attribution | None = None,
        json_body: Any = None,
        body_factory: Callable[[], Any] | None = None,
        replayable: bool = True,
    ) -> Any: ...


class Transport:
    """The HTTP side of the client: one lazy session, one exchange per method call.

    Args:
        api_url: API base without a trailing slash (contract section 1).
        default_attribution: Attribution headers used when a call passes none.
        http_timeout_s: Total timeout of one non-streaming exchange (s); also the longest
            silence tolerated while downloading (s).
        fetch_policy: The rules of output downloads (:mod:`bot.outbound`); by default only
            the API's own host is trusted, everything else must be public https.
        max_connections: Connections open to NemoVideo at once (every agent run holds one
            SSE stream for its whole length; aiohttp's default of 100 would cap runs at 100).
    """

    def __init__(
        self,
        api_url: str,
        default_attribution: Attribution,
        http_timeout_s: float,
        fetch_policy: FetchPolicy | None = None,
        max_connections: int = 1000,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.max_connections = max_connections
        self.default_attribution = default_attribution
        self.http_timeout_s = http_timeout_s
        self.fetch_policy = fetch_policy or FetchPolicy.for_urls([self.api_url])
        self._session: aiohttp.ClientSession | None = None
        self._downloads: aiohttp.ClientSession | None = None
        self._closed = False

    def http(self) -> aiohttp.ClientSession:
        """The session, created on first use (design habit 4).

        Raises:
            NemoConnectionError: After :meth:`close`.
        """
        if self._session is None or self._session.closed:
            if self._closed:
                raise NemoConnectionError("client is closed")
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.max_connections),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=30),
                raise_for_status=False,
            )
        return self._session

    def download_http(self) -> aiohttp.ClientSession:
        """The session of output downloads, which connects to public addresses only (unless trusted).

        Raises:
            NemoConnectionError: After :meth:`close`.
        """
        if self._downloads is None or self._downloads.closed:
            if self._closed:
                raise NemoConnectionError("client is closed")
            self._downloads = guarded_session(self.fetch_policy, raise_for_status=False)
        return self._downloads

    async def close(self) -> None:
        """Close the sessions. Idempotent; later calls raise :class:`NemoConnectionError`."""
        self._closed = True
        for session in (self._session, self._downloads):
            if session is not None and not session.closed:
                await session.close()
        self._session = self._downloads = None

    def url(self, path: str) -> str:
        """``path`` joined to the API base (absolute URLs are kept)."""
        return path if path.startswith(("http://", "https://")) else f"{self.api_url}{path}"

    def headers(self, attribution: Attribution | None, token: str | None) -> dict[str, str]:
        """The three attribution headers plus ``Authorization: Bearer`` when ``token`` is given (section 1)."""
        headers = (attribution or self.default_attribution).headers()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    async def send(
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
        """One HTTP exchange (no retry).

        Args:
            method: ``GET`` or ``POST``.
            path: Path under the API base, or an absolute URL.
            attribution: Attribution headers (the default when ``None``).
            token: The bearer token, or ``None`` (anonymous-token call).
            json_body: A JSON body.
            data: A form or raw body (multipart uploads).
            headers: Extra headers (e.g. ``X-Client-Id``).

        Returns:
            The decoded body: a dict/list for JSON, text (at most 2000 chars) otherwise,
            ``None`` when empty.

        Raises:
            NemoError: The subclass :func:`~bot.nemo.errors.error_for` chose;
                NemoTimeoutError after ``http_timeout_s``; NemoConnectionError for
                transport failures.
        """
        all_headers = self.headers(attribution, token)
        if headers:
            all_headers.update(headers)
        try:
            async with self.http().request(
                method,
                self.url(path),
                json=json_body,
                data=data,
                headers=all_headers,
                timeout=aiohttp.ClientTimeout(total=self.http_timeout_s),
            ) as resp:
                body = await read_body(resp)
                error = error_for(resp.status, body, resp.headers)
        except TimeoutError as exc:
            raise NemoTimeoutError(f"{method} {path} timed out after {self.http_timeout_s:.0f} s") from exc
        except aiohttp.ClientError as exc:
            raise NemoConnectionError(f"{method} {path} failed: {type(exc).__name__}") from exc
        if error is not None:
            raise error
        return body

    async def open_stream(
        self, path: str, json_body: Any, *, attribution: Attribution | None, token: str, idle_timeout_s: float
    ) -> aiohttp.ClientResponse:
        """POST once and return the open ``text/event-stream`` response (contract section 3).

        The caller reads and must close the response. Any other answer is read, released
        and raised as an error.

        Args:
            path: ``/run_sse``.
            json_body: The run request.
            attribution: Attribution headers.
            token: The bearer token.
            idle_timeout_s: Longest silence between two reads (s).

        Raises:
            NemoError: ``error_for``'s error, or NemoServerError for a 2xx that is not an
                event stream; NemoTimeoutError / NemoConnectionError for transport failures.
        """
        headers = self.headers(attribution, token)
        headers["Accept"] = "text/event-stream"
        try:
            resp = await self.http().post(
                self.url(path),
                json=json_body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=idle_timeout_s),
            )
        except TimeoutError as exc:
            raise NemoTimeoutError("the agent did not answer in time") from exc
        except aiohttp.ClientError as exc:
            raise NemoConnectionError(f"POST {path} failed: {type(exc).__name__}") from exc
        ctype = resp.headers.get("Content-Type", "")
        if resp.status == 200 and ctype.startswith("text/event-stream"):
            return resp
        try:
            body = await read_body(resp)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise NemoConnectionError(f"POST {path} answer broke off") from exc
        finally:
            resp.release()
        raise error_for(resp.status, body, resp.headers) or NemoServerError(
            f"unexpected {path} answer ({resp.status}, {ctype or 'no content type'})", status=resp.status, body=body
        )

    async def fetch_to_file(
        self, url: str, dest: Path, *, headers: dict[str, str], max_bytes: int | None = None
    ) -> int | None:
        """One streamed GET into ``dest`` via ``dest.part`` (no retry), by the outbound rules.

        Every URL (redirects too) must pass :attr:`fetch_policy`: https, public addresses,
        unless the host is trusted; the whole download, redirects included, must end within
        the policy's ``timeout_s``. Headers go to the first URL only, never to a redirect.

        Args:
            url: Absolute URL.
            dest: Target file; replaced only when the whole body arrived.
            headers: Request headers (the bearer only for the API's own endpoint).
            max_bytes: Stop and return ``None`` when the body is larger (bytes).

        Returns:
            The size in bytes, or ``None`` when over ``max_bytes`` (nothing is left on disk).

        Raises:
            NemoFetchRefused: A URL broke the outbound rules (nothing is left on disk).
            NemoConnectionError: The connection failed or the body broke off (fewer bytes
                than ``Content-Length``). NemoTimeoutError: ``http_timeout_s`` without data,
                or the policy's total timeout passed.
            NemoError: An error answer (``error_for``; NemoServerError for other non-200s).
        """
        part = dest.with_name(dest.name + ".part")
        size = 0
        out: IO[bytes] | None = None
        try:
            async with open_checked(
                self.download_http(), url, self.fetch_policy, headers=headers, sock_read_s=self.http_timeout_s
            ) as resp:
                if resp.status != 200:
                    body = await read_body(resp)
                    raise error_for(resp.status, body, resp.headers) or NemoServerError(
                        f"download answered {resp.status}", status=resp.status
                    )
                length = resp.content_length
                if max_bytes is not None and length is not None and length > max_bytes:
                    return None
                out = await asyncio.to_thread(open, part, "wb")
                buffer = bytearray()
                async for chunk in resp.content.iter_chunked(CHUNK):
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        break
                    buffer += chunk
                    if len(buffer) >= WRITE_BUFFER:
                        await asyncio.to_thread(out.write, bytes(buffer))
                        buffer.clear()
                if buffer:
                    await asyncio.to_thread(out.write, bytes(buffer))
                await asyncio.to_thread(out.close)
                if length is not None and size < length:
                    raise NemoConnectionError(f"download broke off after {size} of {length} bytes")
        except BaseException as exc:
            if out is not None:
                out.close()
            with contextlib.suppress(FileNotFoundError):
                part.unlink()
            _raise_download_error(exc)
            raise
        if max_bytes is not None and size > max_bytes:
            with contextlib.suppress(FileNotFoundError):
                part.unlink()
            return None
        os.replace(part, dest)
        return size

    async def fetch_head(self, url: str, *, headers: dict[str, str], max_bytes: int) -> bytes:
        """The first ``max_bytes`` of a file (no retry), by the outbound rules of :meth:`fetch_to_file`.

        Asks for ``Range: bytes=0-<max_bytes - 1>``; a server that ignores it and answers
        200 with the whole file is read only up to ``max_bytes``, then the connection is
        dropped. Used for a poster frame of a video too large to send (an MP4 written with
        ``+faststart`` has its index first).

        Args:
            url: Absolute URL.
            headers: Request headers (the bearer only for the API's own endpoint).
            max_bytes: Most bytes read.

        Returns:
            Up to ``max_bytes`` bytes from the start of the body.

        Raises:
            NemoFetchRefused, NemoConnectionError, NemoTimeoutError, NemoError: As
                :meth:`fetch_to_file`.
        """
        data = bytearray()
        try:
            async with open_checked(
                self.download_http(),
                url,
                self.fetch_policy,
                headers={**headers, "Range": f"bytes=0-{max_bytes - 1}"},
                sock_read_s=self.http_timeout_s,
            ) as resp:
                if resp.status not in (200, 206):
                    body = await read_body(resp)
                    raise error_for(resp.status, body, resp.headers) or NemoServerError(
                        f"download answered {resp.status}", status=resp.status
                    )
                async for chunk in resp.content.iter_chunked(CHUNK):
                    data += chunk
                    if len(data) >= max_bytes:
                        resp.close()  # the rest is not wanted: drop the connection
                        break
        except BaseException as exc:
            _raise_download_error(exc)
            raise
        return bytes(data[:max_bytes])


def _raise_download_error(exc: BaseException) -> None:
    """Raise the client's error for an exception out of a download (returns for other exceptions)."""
    if isinstance(exc, FetchRefused) or refused_by_resolver(exc):
        raise NemoFetchRefused(f"download refused: {exc}") from None
    if isinstance(exc, TimeoutError):
        raise NemoTimeoutError("the download stalled or took too long") from exc
    if isinstance(exc, aiohttp.ClientError):
        raise NemoConnectionError(f"download failed: {type(exc).__name__}") from exc


async def read_body(resp: aiohttp.ClientResponse) -> Any:
    """The decoded body: JSON when it parses, else text cut to 2000 chars; ``None`` when empty."""
    raw = await resp.read()
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text[:2000]


def data_of(body: Any) -> dict[str, Any]:
    """``body["data"]`` of an envelope (section 1), the body itself when bare, ``{}`` otherwise."""
    if isinstance(body, dict):
        data = body.get("data")
        if isinstance(data, dict):
            return data
        return body
    return {}
