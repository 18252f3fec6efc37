"""The fake Discord attachment CDN.

Attachment URLs are ``{url}/attachments/{channel}/{id}/{filename}?ex=..&is=..&hm=..&``, the
proxy URL the same under ``/media``: signed (``hm``, an HMAC of path, expiry and issue time)
and valid 24 hours (``ex``), as Discord's are since 2024. A URL with a wrong signature or
past its expiry answers 404 "This content is no longer available."; downloads need no
Authorization. Users' attachments are registered with :meth:`DiscordCdn.add_attachment`;
the bot's uploads get URLs the same way.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web

from tests.fakes.discord.constants import ATTACHMENT_URL_TTL_S
from tests.fakes.discord.gateway import DiscordGateway
from tests.fakes.discord.model import StoredAttachment
from tests.fakes.discord.payloads import attachment_payload


class DiscordCdn(DiscordGateway):
    """Registered attachments, their signed URLs and the download route."""

    def add_attachment(
        self, data: bytes | Path, *, filename: str, content_type: str | None = "video/mp4"
    ) -> dict[str, Any]:
        """Register a user's attachment served by the fake CDN.

        Its URL names channel 0 until :meth:`message_create` re-signs it for the message's
        channel.

        Args:
            data: The bytes, or a file whose bytes are served (not copied).
            filename: File name.
            content_type: MIME type (``None`` to omit, as Discord does for unknown types).

        Returns:
            The attachment object (``id``, ``filename``, ``size``, ``url``, ``proxy_url``,
            ``content_type``).
        """
        if not self.url:
            raise RuntimeError("start the FakeDiscord before registering attachments (their URLs need its port)")
        attachment_id = self._new_id()
        if isinstance(data, Path):
            path = data.resolve()
            size = path.stat().st_size
        else:
            path = self._new_file_path("attachments", filename)
            path.write_bytes(data)
            size = len(data)
        self._attachments[attachment_id] = StoredAttachment(attachment_id, filename, content_type, path, size)
        url, proxy_url = self._cdn_urls(0, attachment_id, filename)
        return attachment_payload(
            attachment_id, filename, size=size, url=url, proxy_url=proxy_url, content_type=content_type
        )

    def add_voice_attachment(
        self,
        data: bytes | Path,
        *,
        filename: str = "voice-message.ogg",
        duration_secs: float = 2.5,
        waveform: str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ) -> dict[str, Any]:
        """Register a user's voice message recording (Discord's client sends Ogg Opus).

        Post it with ``message_create(..., flags=FLAG_IS_VOICE_MESSAGE)``: a voice message is a
        message of that flag with this one attachment and no content.

        Args:
            data: The bytes, or a file whose bytes are served.
            filename: File name (Discord's clients use ``voice-message.ogg``).
            duration_secs: Length in seconds.
            waveform: Base64 amplitude samples.

        Returns:
            The attachment object, with ``duration_secs`` and ``waveform``
            (``discord.Attachment.is_voice_message()`` is true).
        """
        attachment = self.add_attachment(data, filename=filename, content_type="audio/ogg")
        attachment["duration_secs"] = duration_secs
        attachment["waveform"] = waveform
        return attachment

    def _cdn(self, request: web.Request) -> web.StreamResponse:
        """``GET /attachments/...`` and ``GET /media/attachments/...``."""
        path = request.path
        parts = path.split("/")
        gone = web.Response(status=404, text="This content is no longer available.")
        try:
            attachment_id = int(parts[-2])
            expires = int(request.query.get("ex", ""), 16)
            issued = int(request.query.get("is", ""), 16)
        except (ValueError, IndexError):
            return gone
        canonical = path.removeprefix("/media")
        expected = self._cdn_signature(canonical, expires, issued)
        if not hmac.compare_digest(expected, request.query.get("hm", "")) or expires < time.time():
            return gone
        stored = self._attachments.get(attachment_id)
        if stored is None or not stored.path.is_file():
            return web.Response(status=404, text="404: Not Found")
        self._touch()
        content_type = stored.content_type or "application/octet-stream"
        return web.FileResponse(stored.path, headers={"Content-Type": content_type})

    def _cdn_signature(self, path: str, expires: int, issued: int) -> str:
        return hmac.new(self._cdn_secret, f"{path}|{expires:08x}|{issued:08x}".encode(), hashlib.sha256).hexdigest()

    def _cdn_urls(self, channel_id: int, attachment_id: int, filename: str) -> tuple[str, str]:
        """A fresh signed URL and proxy URL for an attachment."""
        issued = int(time.time())
        expires = issued + ATTACHMENT_URL_TTL_S
        path = f"/attachments/{channel_id}/{attachment_id}/{quote(filename)}"
        query = f"?ex={expires:08x}&is={issued:08x}&hm={self._cdn_signature(path, expires, issued)}&"
        return f"{self.url}{path}{query}", f"{self.url}/media{path}{query}"

    def _resign(self, attachment: dict[str, Any], channel_id: int) -> dict[str, Any]:
        """A copy of a registered attachment object with URLs for ``channel_id``."""
        attachment = dict(attachment)
        if int(attachment["id"]) in self._attachments:
            attachment["url"], attachment["proxy_url"] = self._cdn_urls(
                channel_id, int(attachment["id"]), attachment["filename"]
            )
        return attachment
