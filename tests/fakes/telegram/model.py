"""What the fake Telegram records and keeps: calls, the bot's messages, files, queued updates."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fakes.base import UploadedFile


@dataclass
class Call:
    """One Bot API request the bot made.

    Attributes:
        method: Method name as Telegram spells it (``sendMessage``), whatever case was used.
        params: Decoded parameters: JSON strings (``reply_markup``, ints, bools) parsed.
        files: Uploaded files by multipart part name.
        status: HTTP status the fake answered (200, or the error code).
        response: The JSON body the fake answered.
    """

    method: str
    params: dict[str, Any]
    files: dict[str, UploadedFile] = field(default_factory=dict)
    status: int = 200
    response: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """Whether the call succeeded."""
        return self.status == 200


@dataclass
class BotMessage:
    """A message the bot sent, with its current state.

    Attributes:
        text: Current text as the bot sent it, ``None`` for videos.
        caption: Caption, as sent.
        reply_markup: Current reply markup (parsed JSON), ``None`` if none.
        kind: ``"text"``, ``"video"`` or ``"photo"``.
        thread_id: ``message_thread_id`` it was sent to.
        edits: Text of every successful edit, in order.
        file: The uploaded file on disk (videos).
        params: Parameters of the sending call.
        message_id: Its id in the chat.
        chat_id: The chat.
        raw: The Telegram ``Message`` object as last answered (what callback queries carry).
        upload: The :class:`UploadedFile` of a video or photo.
        thumbnail: The thumbnail sent with a video (``attach://`` part), if any.
    """

    text: str | None
    caption: str | None = None
    reply_markup: dict[str, Any] | None = None
    kind: str = "text"
    thread_id: int | None = None
    edits: list[str] = field(default_factory=list)
    file: Path | None = None
    params: dict[str, Any] = field(default_factory=dict)
    message_id: int = 0
    chat_id: int = 0
    raw: dict[str, Any] = field(default_factory=dict)
    upload: UploadedFile | None = None
    thumbnail: UploadedFile | None = None


@dataclass
class StoredFile:
    """A file the fake can hand out by ``file_id`` (registered by a test, or uploaded by the bot)."""

    file_id: str
    file_unique_id: str
    path: Path
    size: int
    file_path: str
    file_name: str | None
    mime_type: str | None


@dataclass
class Queued:
    """An update waiting for ``getUpdates`` (or :meth:`FakeTelegram.push_webhook`)."""

    update: dict[str, Any]
    forced: bool = False
    """Redelivered: delivered once even if below the confirmed offset."""


@dataclass
class RawFault:
    """A failure armed by :meth:`FakeTelegram.fail_raw`: the next ``times`` calls of ``method``
    get ``body`` verbatim with HTTP ``status``."""

    method: str
    times: int
    status: int
    body: bytes
