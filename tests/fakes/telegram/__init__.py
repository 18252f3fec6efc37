"""A fake Telegram Bot API server for offline tests (see :mod:`tests.fakes.telegram.server`)."""

from tests.fakes.base import UploadedFile
from tests.fakes.telegram.limits import (
    MAX_CAPTION_CHARS,
    MAX_DOWNLOAD_BYTES,
    MAX_LOCAL_UPLOAD_BYTES,
    MAX_MESSAGE_CHARS,
    MAX_UPLOAD_BYTES,
    MB,
    ApiError,
)
from tests.fakes.telegram.model import BotMessage, Call
from tests.fakes.telegram.server import FakeTelegram

__all__ = [
    "MAX_CAPTION_CHARS",
    "MAX_DOWNLOAD_BYTES",
    "MAX_LOCAL_UPLOAD_BYTES",
    "MAX_MESSAGE_CHARS",
    "MAX_UPLOAD_BYTES",
    "MB",
    "ApiError",
    "BotMessage",
    "Call",
    "FakeTelegram",
    "UploadedFile",
]
