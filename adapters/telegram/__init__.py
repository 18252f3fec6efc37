"""Telegram adapter (python-telegram-bot v22): DMs, groups and forum topics."""

from adapters.telegram.runner import TelegramAdapter, TelegramAdapterFactory

__all__ = ["TelegramAdapter", "TelegramAdapterFactory"]
