"""Telegram Bot API limits and error answers, as the fake enforces them.

The limits are Telegram's published ones (https://core.telegram.org/bots/api and
https://core.telegram.org/bots/faq; ``/work/shared/design.md``, "Platform facts"):
messages 4096 characters and captions 1024, ``getFile`` downloads up to 20 MB, uploads up to
50 MB, and through a local Bot API server (https://github.com/tdlib/telegram-bot-api) no
download limit and uploads up to 2000 MB. Errors use Telegram's envelope
``{"ok": false, "error_code": N, "description": "..."}`` and Telegram's wording.
"""

from __future__ import annotations

import re
from typing import Any

MB = 1024 * 1024
MAX_MESSAGE_CHARS = 4096
MAX_CAPTION_CHARS = 1024
MAX_DOWNLOAD_BYTES = 20 * MB
"""``getFile`` answers "file is too big" above this (cloud Bot API)."""
MAX_UPLOAD_BYTES = 50 * MB
"""Multipart uploads above this (all files of a request together) get 413 (cloud Bot API)."""
MAX_LOCAL_UPLOAD_BYTES = 2000 * MB
"""The upload limit of a local Bot API server."""
MAX_POLL_WAIT_S = 1.0
"""Cap on how long a ``getUpdates`` long poll waits, whatever ``timeout`` asks, so tests stay fast."""
MAX_COMMANDS = 100
MAX_COMMAND_DESCRIPTION = 256

CHAT_ACTIONS = frozenset(
    [
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    ]
)
"""What ``sendChatAction`` accepts."""
COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
"""A valid ``BotCommand.command``."""

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)


class ApiError(Exception):
    """A Bot API error answer; raised inside method handlers.

    Args:
        status: HTTP status and ``error_code``.
        description: Telegram's ``description``.
        parameters: Optional ``ResponseParameters`` (``retry_after``, ...).
    """

    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def body(self) -> dict[str, Any]:
        """The JSON envelope Telegram answers with."""
        body: dict[str, Any] = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(what: str) -> ApiError:
    """A 400 ``Bad Request: <what>``."""
    return ApiError(400, f"Bad Request: {what}")
