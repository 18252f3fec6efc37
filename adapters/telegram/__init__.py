"""Telegram adapter (python-telegram-bot v22): DMs, groups and forum topics."""

import os

# Opt in to PTB's datetime.timedelta durations (``retry_after``, ``Video.duration``) now;
# the int form is deprecated and warns on every read.
os.environ.setdefault("PTB_TIMEDELTA", "true")

from adapters.telegram.runner import TelegramAdapter, TelegramAdapterFactory

__all__ = ["TelegramAdapter", "TelegramAdapterFactory"]
