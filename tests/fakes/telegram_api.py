"""The fake Telegram Bot API, under the import path the tests use.

The implementation is the :mod:`tests.fakes.telegram` package; see
:mod:`tests.fakes.telegram.server` for what it emulates and how PTB is pointed at it.
"""

from tests.fakes.telegram import (
    MAX_CAPTION_CHARS,
    MAX_DOWNLOAD_BYTES,
    MAX_LOCAL_UPLOAD_BYTES,
    MAX_MESSAGE_CHARS,
    MAX_UPLOAD_BYTES,
    MB,
    ApiError,
    BotMessage,
    Call,
    FakeTelegram,
    UploadedFile,
)

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
