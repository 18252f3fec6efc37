"""Discord adapter (discord.py 2.x): threads per project, slash commands, persistent buttons."""

from adapters.discord.runner import DiscordAdapter, DiscordAdapterFactory

__all__ = ["DiscordAdapter", "DiscordAdapterFactory"]
