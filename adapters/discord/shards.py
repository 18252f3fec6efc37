"""Discord shards: which shard a guild's events go to, and pacing a process's IDENTIFYs.

Facts from Discord's docs, Gateway, "Sharding"
(https://discord.com/developers/docs/events/gateway#sharding):

* a guild's events go to shard ``(guild_id >> 22) % num_shards`` ("Sharding Formula");
* direct messages go to shard 0 only;
* ``GET /gateway/bot`` answers the session start limit, whose ``max_concurrency`` is the number
  of IDENTIFYs allowed per 5 seconds; shards with the same ``rate_limit_key = shard_id %
  max_concurrency`` share one of those slots ("Max Concurrency"), and buckets start in order.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from bot.boundary import ConversationKey

IDENTIFY_WINDOW_S = 5.0
"""One IDENTIFY per rate-limit key per this many seconds (Discord docs, Gateway, "Session
Start Limit Object": ``max_concurrency`` is "the number of identify requests allowed per 5
seconds")."""


def shard_of(guild_id: int | None, shard_count: int) -> int:
    """The shard Discord sends a guild's events to; direct messages (no guild) go to shard 0.

    Discord docs, Gateway, "Sharding Formula": ``shard_id = (guild_id >> 22) % num_shards``;
    "DMs will only be sent to shard 0".

    Args:
        guild_id: The guild's snowflake, or ``None`` for a direct message.
        shard_count: Shards of the whole bot (``DISCORD_SHARD_COUNT``), at least 1.

    Raises:
        ValueError: ``shard_count`` is below 1.
    """
    if shard_count < 1:
        raise ValueError(f"shard_count must be at least 1, not {shard_count}")
    if guild_id is None:
        return 0
    return (guild_id >> 22) % shard_count


def shard_of_key(key: ConversationKey, shard_count: int) -> int | None:
    """The shard that owns a Discord conversation (``discord:<guild>/<channel>[/<thread>]``, or
    ``discord:dm/<channel>`` on shard 0); ``None`` for a key that names no guild."""
    guild = key.chat_id.partition("/")[0]
    if guild == "dm":
        return shard_of(None, shard_count)
    if not guild.isdigit():
        return None
    return shard_of(int(guild), shard_count)


class IdentifyPacer:
    """Spaces one process's IDENTIFYs as Discord allows: one per rate-limit key
    (``shard_id % max_concurrency``) every :data:`IDENTIFY_WINDOW_S` seconds.

    discord.py's default ``before_identify_hook`` waits 5 s before every IDENTIFY but the
    first, whatever ``max_concurrency`` is; with this pacer, shards in different buckets
    start together. Processes do not see each other's IDENTIFYs: when two start at once and
    Discord refuses one (op 9 Invalid Session), discord.py identifies that shard again.

    Args:
        max_concurrency: ``session_start_limit.max_concurrency`` from ``GET /gateway/bot``.
        clock: Monotonic seconds (tests pass a fake one).
        sleep: Waits that many seconds (tests pass a fake one).
    """

    def __init__(
        self,
        max_concurrency: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.max_concurrency = max(1, max_concurrency)
        self._clock = clock
        self._sleep = sleep
        self._last: dict[int, float] = {}
        self._lock = asyncio.Lock()

    async def wait(self, shard_id: int) -> None:
        """Return once ``shard_id`` may IDENTIFY (and count it as identified now)."""
        key = shard_id % self.max_concurrency
        async with self._lock:  # in order, as Discord asks buckets to start
            last = self._last.get(key)
            if last is not None:
                delay = last + IDENTIFY_WINDOW_S - self._clock()
                if delay > 0:
                    await self._sleep(delay)
            self._last[key] = self._clock()
