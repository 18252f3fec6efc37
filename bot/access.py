"""Who may use the bot, and how much: one policy step in front of the engine's dispatch.

Checks fail closed: a message is handled only when every check says yes.

* Allowlists (``TELEGRAM_ALLOWED_USER_IDS``/``_CHAT_IDS``, ``DISCORD_ALLOWED_USER_IDS``/
  ``_GUILD_IDS``; empty = everyone) and admin blocks. Someone refused gets one polite reply
  per chat an hour, and nothing reaches NemoVideo.
* A per-person rate limit on agent messages (``RATE_LIMIT_PER_MINUTE``, aiolimiter's leaky
  bucket).
* Daily quotas per person (``QUOTA_RUNS_PER_DAY``, ``QUOTA_EXPORTS_PER_DAY``; an admin can
  set a person's own with ``/admin quota``), counted in the store per UTC day.
* A global cap on agent runs in flight (``MAX_CONCURRENT_RUNS``); people beyond it wait
  their turn and are told their place in line.

Every refusal is a catalog sentence that says when the limit resets.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aiolimiter import AsyncLimiter

from bot.boundary import IncomingMessage
from bot.settings import Settings
from bot.texts import fmt_elapsed, lang_of, t
from store.base import Store, utcnow

REFUSAL_EVERY_S = 3600.0
"""Someone not allowed hears about it at most once per chat in this many seconds."""

TRACKED = 10_000
"""Chats and people tracked in memory for refusals and rate limits (least recent go first)."""

QUOTA_KINDS = ("runs", "exports")


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a message is not handled, as the user's sentence (``None``: say nothing)."""

    text: str | None


def _touch(cache: OrderedDict[str, float], key: str, value: float) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > TRACKED:
        cache.popitem(last=False)


class AccessPolicy:
    """The checks of the module docstring.

    Args:
        store: Flags (blocked, quotas) and usage counters.
        settings: Allowlists, admins, limits.
        clock: Monotonic seconds (tests move it).
    """

    def __init__(self, store: Store, settings: Settings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self._refused: OrderedDict[str, float] = OrderedDict()
        self._limiters: OrderedDict[str, AsyncLimiter] = OrderedDict()

    def is_admin(self, account: str) -> bool:
        """True for accounts listed in ``ADMIN_USER_IDS``."""
        return account in self.settings.admins

    # ------------------------------------------------------------------ who

    def _allowed(self, msg: IncomingMessage) -> bool:
        """On an allowlist (the sender, or the group/server it was sent in), or no lists at all."""
        s = self.settings
        platform = msg.conversation.platform
        if platform == "telegram":
            users, spaces = s.allowlist("telegram_allowed_user_ids"), s.allowlist("telegram_allowed_chat_ids")
        elif platform == "discord":
            users, spaces = s.allowlist("discord_allowed_user_ids"), s.allowlist("discord_allowed_guild_ids")
        else:
            return True  # the terminal: whoever runs it
        if not users and not spaces:
            return True
        return msg.sender_id in users or (msg.space_id is not None and msg.space_id in spaces)

    async def admit(self, msg: IncomingMessage, person: str | None) -> Refusal | None:
        """``None`` when ``msg`` may be handled; a :class:`Refusal` otherwise.

        An admin is always admitted. Someone not on the allowlists, or blocked, is refused
        once per chat an hour (later refusals say nothing). ``person`` is ``None`` for an
        account nemobot has not met yet (it cannot be blocked).
        """
        if self.is_admin(msg.account):
            return None
        blocked = person is not None and (await self.store.get_flags(person)).get("blocked") == "1"
        if self._allowed(msg) and not blocked:
            return None
        chat = str(msg.conversation)
        now = self.clock()
        last = self._refused.get(chat)
        if last is not None and now - last < REFUSAL_EVERY_S:
            return Refusal(None)
        _touch(self._refused, chat, now)
        return Refusal(t("blocked", _lang(msg)) if blocked else t("not_allowed", _lang(msg)))

    # ------------------------------------------------------------------ how much

    async def rate_limit(self, msg: IncomingMessage, person: str) -> Refusal | None:
        """Take one agent message from the person's budget (``RATE_LIMIT_PER_MINUTE``)."""
        if self.is_admin(msg.account):
            return None
        rate = self.settings.rate_limit_per_minute
        limiter = self._limiters.get(person)
        if limiter is None:
            limiter = self._limiters[person] = AsyncLimiter(rate, 60)
            while len(self._limiters) > TRACKED:
                self._limiters.popitem(last=False)
        self._limiters.move_to_end(person)
        if not limiter.has_capacity():
            return Refusal(t("rate_limited_user", _lang(msg), limit=rate, wait=fmt_elapsed(math.ceil(60 / rate))))
        await limiter.acquire()  # there is capacity: returns at once
        return None

    async def quota_of(self, person: str, kind: str) -> int | None:
        """The person's daily quota of ``kind`` (``runs``/``exports``): their own if an admin
        set one, else the install's; ``None`` is unlimited."""
        own = (await self.store.get_flags(person)).get(f"quota_{kind}")
        if own is not None and own.isdigit():
            return int(own)
        return self.settings.daily_quotas[kind]

    async def charge(self, msg: IncomingMessage, person: str, kind: str, now: datetime | None = None) -> Refusal | None:
        """Count one ``kind`` for today, or refuse when the person's daily quota is used up."""
        if self.is_admin(msg.account):
            return None
        now = now or utcnow()
        day = now.date().isoformat()
        quota = await self.quota_of(person, kind)
        if quota is not None and await self.store.get_usage(person, kind, day) >= quota:
            midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=now.tzinfo)
            wait = fmt_elapsed((midnight - now).total_seconds())
            lang = _lang(msg)
            if kind == "exports":
                return Refusal(t("quota_exports", lang, limit=quota, wait=wait))
            return Refusal(t("quota_runs", lang, limit=quota, wait=wait))
        await self.store.add_usage(person, kind, day)
        return None


@dataclass
class RunSlots:
    """At most ``limit`` agent runs in flight; the rest wait in order (``MAX_CONCURRENT_RUNS``)."""

    limit: int
    _running: int = 0
    _waiting: list[asyncio.Future[None]] = field(default_factory=list)

    @property
    def in_flight(self) -> int:
        """Runs holding a slot."""
        return self._running

    @contextlib.asynccontextmanager
    async def hold(self, on_wait: Callable[[int], Awaitable[None]]) -> AsyncIterator[None]:
        """Hold a slot for the ``async with`` block; ``on_wait(place)`` is awaited once when
        the caller has to wait (``place`` 1 = next)."""
        if self._running >= self.limit or self._waiting:
            turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting.append(turn)
            await on_wait(len(self._waiting))
            try:
                await turn
            except asyncio.CancelledError:
                if turn in self._waiting:
                    self._waiting.remove(turn)
                elif turn.done() and not turn.cancelled():
                    self._release()  # the slot was handed over as we were cancelled
                raise
        else:
            self._running += 1
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        while self._waiting:
            nxt = self._waiting.pop(0)
            if not nxt.done():
                nxt.set_result(None)  # the slot passes straight to the next in line
                return
        self._running -= 1


def _lang(msg: IncomingMessage) -> str:
    return lang_of(msg.locale)
