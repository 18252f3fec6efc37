"""Checks and stored forms every backend shares: account ids, usage days, connect-code hashes."""

from __future__ import annotations

import hashlib
from datetime import date


def code_hash(code: str) -> str:
    """The stored form of a connect code: its SHA-256, 64 hex digits."""
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def check_account(account: str) -> None:
    """Raises ``ValueError`` unless ``account`` is ``platform:id``."""
    platform, sep, ident = account.partition(":")
    if not (platform and sep and ident):
        raise ValueError(f"an account is 'platform:id', got {account!r}")


def check_day(day: str) -> None:
    """Raises ``ValueError`` unless ``day`` is ``YYYY-MM-DD`` (days compare as text in SQLite)."""
    try:
        ok = date.fromisoformat(day).isoformat() == day
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"a day is an ISO date like 2026-12-01, got {day!r}")
