"""Streaming a platform-hosted file to the engine, shared by the adapters.

Platform file URLs can carry secrets (Telegram's contain the bot token), so errors name
the exception type and the HTTP status, never the URL. Every URL, redirects included,
must pass the adapter's :class:`~bot.outbound.FetchPolicy` (its platform's hosts, https,
public addresses), and a download ends within the policy's total timeout.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp

from bot.boundary import ChannelError
from bot.outbound import FetchPolicy, FetchRefused, guarded_session, open_checked, refused_by_resolver

CHUNK = 256 * 1024

DISCORD_CDN_HOSTS = frozenset({"cdn.discordapp.com", "media.discordapp.net"})
"""Where Discord serves attachments (the only hosts the Discord fallback download may reach)."""
TELEGRAM_FILE_HOSTS = frozenset({"api.telegram.org"})
"""Where the cloud Bot API serves files (``/file/bot<token>/<path>``)."""


class Downloader:
    """A lazily created aiohttp session that streams files in 256 KiB chunks.

    Args:
        policy: Where downloads may go and their total timeout (default: public https
            hosts only, 600 s).
        read_timeout_s: Longest silence while reading (s).
    """

    def __init__(self, policy: FetchPolicy | None = None, read_timeout_s: float = 120.0) -> None:
        self.policy = policy or FetchPolicy()
        self.read_timeout_s = read_timeout_s
        self._http: aiohttp.ClientSession | None = None

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = guarded_session(self.policy, timeout=aiohttp.ClientTimeout(total=None))
        return self._http

    async def stream(self, url: str, what: str = "file") -> AsyncIterator[bytes]:
        """Yield the bytes at ``url``.

        Raises:
            ChannelError: The URL breaks the policy, a non-200 answer, a transport failure
                or the total timeout (message without the URL).
        """
        try:
            async with open_checked(self._session(), url, self.policy, sock_read_s=self.read_timeout_s) as resp:
                if resp.status != 200:
                    raise ChannelError(f"{what} download answered HTTP {resp.status}")
                async for chunk in resp.content.iter_chunked(CHUNK):
                    yield chunk
        except FetchRefused as exc:
            raise ChannelError(f"{what} download refused: {exc.reason}") from None
        except aiohttp.ClientError as exc:
            if refused_by_resolver(exc):
                raise ChannelError(f"{what} download refused: private") from None
            raise ChannelError(f"{what} download failed: {type(exc).__name__}") from None
        except TimeoutError:
            raise ChannelError(f"{what} download took too long") from None

    async def close(self) -> None:
        """Close the session. Idempotent."""
        if self._http is not None:
            await self._http.close()
            self._http = None
