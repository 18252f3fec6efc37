"""Streaming a platform-hosted file to the engine, shared by the adapters.

Platform file URLs can carry secrets (Telegram's contain the bot token), so errors name
the exception type and the HTTP status, never the URL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp

from bot.boundary import ChannelError

CHUNK = 256 * 1024


class Downloader:
    """A lazily created aiohttp session that streams files in 256 KiB chunks.

    Args:
        read_timeout_s: Longest silence while reading (s).
    """

    def __init__(self, read_timeout_s: float = 120.0) -> None:
        self.read_timeout_s = read_timeout_s
        self._http: aiohttp.ClientSession | None = None

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_read=self.read_timeout_s))
        return self._http

    async def stream(self, url: str, what: str = "file") -> AsyncIterator[bytes]:
        """Yield the bytes at ``url``.

        Raises:
            ChannelError: Non-200 answer or a transport failure (message without the URL).
        """
        try:
            async with self._session().get(url) as resp:
                if resp.status != 200:
                    raise ChannelError(f"{what} download answered HTTP {resp.status}")
                async for chunk in resp.content.iter_chunked(CHUNK):
                    yield chunk
        except aiohttp.ClientError as exc:
            raise ChannelError(f"{what} download failed: {type(exc).__name__}") from None

    async def close(self) -> None:
        """Close the session. Idempotent."""
        if self._http is not None:
            await self._http.close()
            self._http = None
