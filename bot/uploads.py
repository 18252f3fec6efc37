"""Uploads: check a message's attachments, then send them to the session together.

Files are checked before anything is sent (type by extension, empty, over the size cap;
contract section 8). Attachments with a secret-free public URL go up by URL (endpoint 6);
when NemoVideo cannot fetch them and the adapter can stream the bytes, they are streamed
instead (endpoint 5), as are local files and platform streams.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from bot.boundary import Attachment, ChannelError
from bot.conversations import Conversations
from bot.errors import AttachmentsUnreadable, FilesRejected, LinkUnreachable
from bot.nemo.client import UploadSource
from bot.nemo.errors import (
    NemoBadRequest,
    NemoConnectionError,
    NemoError,
    NemoFileTooLarge,
    NemoServerError,
    NemoSessionNotFound,
    NemoUnsupportedFile,
)
from bot.nemo.models import UploadedFile
from bot.outbound import MAX_LINKS, FetchRefused, check_link
from bot.settings import Settings
from bot.texts import ACCEPTED_FORMATS, FORMATS_LINE, fmt_size, t
from bot.turn import Turn, say

log = logging.getLogger(__name__)

ACCEPTED_EXTENSIONS = frozenset(ext for group in ACCEPTED_FORMATS.values() for ext in group)
"""File extensions NemoVideo accepts (contract section 8)."""


def check_attachment(att: Attachment, lang: str, max_bytes: int) -> str | None:
    """Why ``att`` cannot be uploaded, as the user's sentence, or ``None`` when it can.

    Args:
        att: The attachment.
        lang: ``en`` or ``zh``.
        max_bytes: The upload cap in bytes (``MAX_UPLOAD_MB``).
    """
    if att.path is not None and not att.path.is_file():
        return t("no_such_file", lang, name=att.filename)
    ext = Path(att.filename).suffix.lower().lstrip(".")
    if ext not in ACCEPTED_EXTENSIONS:
        return t("unsupported_files", lang, names=att.filename, formats=FORMATS_LINE)
    if att.size == 0:
        return t("empty_file", lang, name=att.filename)
    if att.size is not None and att.size > max_bytes:
        return t("too_large_file", lang, name=att.filename, size=fmt_size(att.size), limit=fmt_size(max_bytes))
    return None


def describe_asset(info: dict[str, Any]) -> str:
    """``clip.mp4 (5.3 s, 1280x720)`` from an uploaded file's or a ``video_infos`` entry's fields."""
    name = str(info.get("filename") or info.get("name") or "file")
    bits: list[str] = []
    duration = info.get("duration")
    if isinstance(duration, int | float) and duration:
        bits.append(f"{duration:.1f} s")
    if info.get("width") and info.get("height"):
        bits.append(f"{info['width']}x{info['height']}")
    return f"{name} ({', '.join(bits)})" if bits else name


class Uploads:
    """Sends a message's attachments to its conversation's session.

    Args:
        conversations: Session creation and replacement.
        settings: ``max_upload_mb``.
    """

    def __init__(self, conversations: Conversations, settings: Settings) -> None:
        self.conversations = conversations
        self.settings = settings

    async def upload(self, turn: Turn, *, follow_up: bool = False) -> bool:
        """Check and upload the message's attachments together; tell the user what was added.

        Args:
            turn: The message.
            follow_up: A request for the agent follows (do not suggest one).

        Returns:
            True when at least one file went up.

        Raises:
            AttachmentsUnreadable: The platform would not give the bytes.
            LinkUnreachable: NemoVideo could not fetch pasted links (its reason is only logged).
            FilesRejected: NemoVideo refused the files.
            NemoError: Other backend failures.
        """
        good: list[Attachment] = []
        for att in await self._allowed(turn):
            problem = check_attachment(att, turn.lang, self.settings.max_upload_bytes)
            if problem:
                await say(turn.channel, problem)
            else:
                good.append(att)
        if not good:
            return False
        await self.conversations.ensure_session(turn)
        names = ", ".join(a.filename for a in good)
        try:
            try:
                files = await self._send(turn, good)
            except NemoSessionNotFound:
                await self.conversations.replace_lost_session(turn)
                files = await self._send(turn, good)
        except NemoUnsupportedFile as exc:
            raise FilesRejected(names) from exc
        except (NemoConnectionError, ChannelError) as exc:
            if not _caused_by(exc, ChannelError):
                raise
            log.warning("could not read an attachment from the chat in %s: %s", turn.conv.key, exc)
            raise AttachmentsUnreadable(names) from exc
        described = ", ".join(describe_asset(f.model_dump()) for f in files) or names
        text = t("uploaded", turn.lang, files=described)
        if not follow_up:
            text += "\n" + t("upload_next", turn.lang, example=turn.example)
        await say(turn.channel, text)
        return True

    async def _allowed(self, turn: Turn) -> list[Attachment]:
        """The message's attachments minus pasted links the outbound rules refuse (each told).

        More than :data:`~bot.outbound.MAX_LINKS` pasted links: none of them is taken.
        """
        atts = list(turn.msg.attachments)
        links = [a for a in atts if a.pasted]
        if len(links) > MAX_LINKS:
            await say(turn.channel, t("too_many_links", turn.lang, count=len(links), max=MAX_LINKS))
            return [a for a in atts if not a.pasted]
        kept: list[Attachment] = []
        for att in atts:
            if att.pasted and att.public_url:
                try:
                    await check_link(att.public_url, trusted_hosts=self.settings.allowed_hosts)
                except FetchRefused as exc:
                    log.info("pasted link refused in %s: %s", turn.conv.key, exc)
                    await say(turn.channel, t("link_refused", turn.lang, name=att.filename))
                    continue
            kept.append(att)
        return kept

    async def _send(self, turn: Turn, atts: list[Attachment]) -> list[UploadedFile]:
        sid = turn.conv.session_id
        assert sid is not None
        by_url = [a for a in atts if a.public_url and not a.path]
        streamed = [a for a in atts if a not in by_url]
        results: list[UploadedFile] = []
        if by_url:
            try:
                results += await turn.client.upload_urls(
                    sid, [a.public_url for a in by_url if a.public_url], attribution=turn.attribution
                )
            except (NemoUnsupportedFile, NemoFileTooLarge, NemoSessionNotFound):
                raise
            except NemoError as exc:
                if not all(a.open for a in by_url):
                    # the backend's fetch error is only logged: it says what its network reaches
                    log.warning("URL upload failed in %s: %r", turn.conv.key, exc)
                    if isinstance(exc, NemoBadRequest | NemoServerError):
                        raise LinkUnreachable(", ".join(a.filename for a in by_url)) from exc
                    raise
                log.info("URL upload failed (%r); streaming the bytes instead", exc)
                streamed += by_url
        if streamed:
            sources = [
                UploadSource(
                    filename=a.filename,
                    path=a.path,
                    stream=None if a.path else a.open,
                    size=a.size,
                    content_type=a.content_type or "application/octet-stream",
                )
                for a in streamed
            ]
            results += await turn.client.upload_files(sid, sources, attribution=turn.attribution)
        return results


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """True when ``exc`` or anything in its cause/context chain is a ``kind``."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
