"""One logging filter that masks every secret the process knows, at every level.

Secrets come from two places: values registered while the process runs
(:func:`register_secret`: platform tokens and the webhook secret at start, NemoVideo tokens
when fetched or stored by ``/login``, Discord interaction tokens as they arrive), and shapes
that are secret wherever they appear (a Telegram bot token ``123456:AA…``, a NemoVideo token
``nmv_usr_…``, a claim token ``clm_…``). The filter rewrites the message, its arguments and
the formatted traceback of every record that reaches a handler it sits on;
:func:`install` puts it on every root handler (the CLI calls it once logging is set up).
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections.abc import Iterable

MASK = "«redacted»"

SHAPES = (
    re.compile(r"\b\d{6,12}:[A-Za-z0-9_-]{30,}"),  # Telegram bot token (BotFather)
    re.compile(r"\bnmv_[a-z]+_[A-Za-z0-9_-]{6,}"),  # NemoVideo bearer tokens (contract section 2)
    re.compile(r"\bclm_[A-Za-z0-9_-]{6,}"),  # claim tokens in web-editor links (contract endpoint 12)
    re.compile(r"\baW50ZXJhY3Rpb246[A-Za-z0-9_-]+"),  # Discord interaction tokens ("interaction:" in base64)
    re.compile(r"\b[MNO][A-Za-z0-9_-]{23,27}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,}"),  # Discord bot tokens
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),  # any Authorization header value
)
"""Secrets recognised by their shape alone."""

MIN_SECRET = 8
"""Shorter values are not registered: masking them would garble ordinary text."""


class SecretRedactor(logging.Filter):
    """Masks registered secrets and secret shapes in log records (never drops a record)."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._lock = threading.Lock()
        self._pattern: re.Pattern[str] | None = None

    def add(self, secret: str | None) -> None:
        """Mask ``secret`` from now on (``None`` and values under :data:`MIN_SECRET` chars are ignored)."""
        if not secret or len(secret) < MIN_SECRET:
            return
        with self._lock:
            if secret not in self._secrets:
                self._secrets.add(secret)
                ordered = sorted(self._secrets, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def redact(self, text: str) -> str:
        """``text`` with every known secret and secret shape masked."""
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(MASK, text)
        for shape in SHAPES:
            text = shape.sub(lambda m: (m.group(1) if m.groups() else "") + MASK, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place: message with its arguments, traceback, stack."""
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string still gets logged, masked
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = self.redact(message), None
        if record.exc_info and record.exc_info[0] is not None:
            formatted = "".join(traceback.format_exception(*record.exc_info))
            record.exc_text = self.redact(formatted.rstrip("\n"))
            record.exc_info = None  # the formatter would render the raw traceback again otherwise
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


REDACTOR = SecretRedactor()
"""The process's redactor."""


def register_secret(secret: str | None) -> None:
    """Mask ``secret`` in every log record from now on."""
    REDACTOR.add(secret)


def register_secrets(secrets: Iterable[str | None]) -> None:
    """:func:`register_secret` for each value."""
    for secret in secrets:
        REDACTOR.add(secret)


def install(logger: logging.Logger | None = None) -> None:
    """Put the redactor on every handler of ``logger`` (the root logger by default). Idempotent."""
    for handler in (logger or logging.getLogger()).handlers:
        if REDACTOR not in handler.filters:
            handler.addFilter(REDACTOR)
