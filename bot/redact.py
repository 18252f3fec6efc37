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
LONG_KEY = 16
"""Secrets at least this long are looked up by this many leading characters."""


class SecretRedactor(logging.Filter):
    """Masks registered secrets and secret shapes in log records (never drops a record)."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._by_prefix: dict[int, dict[str, tuple[str, ...]]] = {LONG_KEY: {}, MIN_SECRET: {}}
        """Registered secrets by their first :data:`LONG_KEY` characters (or :data:`MIN_SECRET`
        for shorter ones), longest first. Adding one is O(1) (a process with 10,000 people
        registers 10,000 tokens, which share prefixes such as ``nmv_usr_``; one regular
        expression of all of them would be rebuilt each time); a text is scanned once."""

    def add(self, secret: str | None) -> None:
        """Mask ``secret`` from now on (``None`` and values under :data:`MIN_SECRET` chars are ignored)."""
        if not secret or len(secret) < MIN_SECRET:
            return
        size = LONG_KEY if len(secret) >= LONG_KEY else MIN_SECRET
        with self._lock:
            table = self._by_prefix[size]
            known = table.get(secret[:size], ())
            if secret not in known:  # a new tuple: a concurrent redact reads the old one or this one
                table[secret[:size]] = tuple(sorted((*known, secret), key=len, reverse=True))

    def _mask_known(self, text: str) -> str:
        """``text`` with registered secrets masked: at each position the longest one that starts there."""
        long, short = self._by_prefix[LONG_KEY], self._by_prefix[MIN_SECRET]
        if not (long or short) or len(text) < MIN_SECRET:
            return text
        parts: list[str] = []
        i = done = 0
        end = len(text) - MIN_SECRET
        while i <= end:
            found = next((s for s in long.get(text[i : i + LONG_KEY], ()) if text.startswith(s, i)), None)
            if found is None and short:
                found = next((s for s in short.get(text[i : i + MIN_SECRET], ()) if text.startswith(s, i)), None)
            if found is None:
                i += 1
                continue
            parts += (text[done:i], MASK)
            i = done = i + len(found)
        if not parts:
            return text
        parts.append(text[done:])
        return "".join(parts)

    def redact(self, text: str) -> str:
        """``text`` with every known secret and secret shape masked."""
        text = self._mask_known(text)
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
