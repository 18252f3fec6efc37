"""Conversation records: one chat thread <-> one NemoVideo session, read and changed under a lock.

Every read-modify-write of a :class:`~store.base.Conversation` goes through
:class:`Conversations`, under a per-conversation lock that exists only while someone holds
or waits for it (idle conversations keep no state in memory).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from bot.boundary import IncomingMessage
from bot.progress import ProgressMessage, progress_for
from bot.settings import Settings
from bot.texts import session_language, t
from bot.turn import Turn
from store.base import Conversation, Store

log = logging.getLogger(__name__)

SCOPE_KEY = "scope"
"""``Conversation.data`` key of where the conversation lives (:class:`bot.boundary.Scope`), so
work resumed after a restart treats it as the live conversation would (private links)."""
WELCOMED_KEY = "welcomed"
"""``Conversation.data`` key set once the first session was created and "Ready!" shown."""


class KeyedLocks:
    """One :class:`asyncio.Lock` per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        """Hold the lock of ``key`` for the ``async with`` block."""
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


class Conversations:
    """The engine's access to conversation records.

    Args:
        store: Where conversations are kept.
        settings: ``default_skill`` for new conversations.
    """

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.locks = KeyedLocks()

    def lock(self, key: str) -> contextlib.AbstractAsyncContextManager[None]:
        """The lock of conversation ``key`` (``async with conversations.lock(key):``)."""
        return self.locks.hold(key)

    async def get_or_create(self, msg: IncomingMessage, *, owner: str | None = None) -> Conversation:
        """The conversation of ``msg``, created with the default skill on first contact.

        Args:
            msg: The message.
            owner: The person who starts it (its owner: see :mod:`bot.access`); an existing
                conversation without an owner gets this one.
        """
        key = str(msg.conversation)
        async with self.lock(key):
            conv = await self.store.get_conversation(key)
            if conv is None:
                conv = self._new(msg, owner)
                await self.store.save_conversation(conv)
            elif (conv.owner is None and owner is not None) or SCOPE_KEY not in conv.data:
                conv = conv.with_changes(owner=conv.owner or owner, data={**conv.data, SCOPE_KEY: str(msg.scope)})
                await self.store.save_conversation(conv)
            return conv

    async def peek(self, msg: IncomingMessage, *, owner: str | None = None) -> Conversation:
        """The conversation of ``msg`` as stored, or a new one as :meth:`get_or_create` would
        make it, without saving it (for commands that only read)."""
        return await self.store.get_conversation(str(msg.conversation)) or self._new(msg, owner)

    def _new(self, msg: IncomingMessage, owner: str | None) -> Conversation:
        return Conversation(
            key=str(msg.conversation),
            skill=self.settings.default_skill,
            language=session_language(msg.locale),
            owner=owner,
            data={SCOPE_KEY: str(msg.scope)},
        )

    async def ensure_session(self, turn: Turn) -> Conversation:
        """Create the NemoVideo session on first need (contract endpoint 2); ``turn.conv`` is updated.

        The conversation's first session is onboarding, as the skills ask: "Setting things
        up..." while it is created, then "Ready!" with the profile's example requests and tips.

        Raises:
            NemoError: The session could not be created (the setup message says so first).
        """
        async with self.lock(turn.conv.key):
            fresh = await self.store.get_conversation(turn.conv.key) or turn.conv
            if fresh.session_id is None:
                setup: ProgressMessage | None = None
                if WELCOMED_KEY not in fresh.data:
                    setup = progress_for(turn.channel, turn.lang, self.settings)
                    # posted in the background: a burst of new users does not wait on the chat's rate limit
                    await setup.start(t("setting_up", turn.lang), ticker=False, wait=False)
                try:
                    info = await turn.client.create_session(fresh.language, attribution=turn.attribution)
                except BaseException:
                    if setup is not None:
                        await asyncio.shield(setup.finish(t("setup_failed", turn.lang)))
                    raise
                fresh = fresh.with_changes(
                    session_id=info.session_id,
                    task_id=info.task_id,
                    data={k: v for k, v in fresh.data.items() if k in {SCOPE_KEY, WELCOMED_KEY}} | {WELCOMED_KEY: True},
                )
                await self.store.save_conversation(fresh)
                log.info("conversation %s -> new session %s", fresh.key, info.session_id)
                turn.conv = fresh
                if setup is not None:
                    setup.finish_soon(ready_text(turn))
            turn.conv = fresh
            return fresh

    async def update_data(self, turn: Turn, **values: Any) -> None:
        """Set (or with ``None`` remove) keys of the conversation's ``data``; ``turn.conv`` is updated."""
        async with self.lock(turn.conv.key):
            conv = await self.store.get_conversation(turn.conv.key) or turn.conv
            data = dict(conv.data)
            for key, value in values.items():
                if value is None:
                    data.pop(key, None)
                else:
                    data[key] = value
            conv = conv.with_changes(data=data)
            await self.store.save_conversation(conv)
            turn.conv = conv

    async def set_skill(self, turn: Turn, name: str) -> None:
        """Switch the conversation's skill profile."""
        async with self.lock(turn.conv.key):
            conv = (await self.store.get_conversation(turn.conv.key) or turn.conv).with_changes(skill=name)
            await self.store.save_conversation(conv)
            turn.conv = conv

    async def reset(self, turn: Turn) -> None:
        """Forget the session: the next message that needs one starts a new project."""
        async with self.lock(turn.conv.key):
            kept = {k: v for k, v in turn.conv.data.items() if k in {SCOPE_KEY, WELCOMED_KEY}}
            conv = turn.conv.with_changes(session_id=None, task_id=None, data=kept)
            await self.store.save_conversation(conv)
            turn.conv = conv

    async def replace_lost_session(self, turn: Turn) -> None:
        """Code 1002 (contract section 7): start a new session; the old timeline is gone."""
        await self.reset(turn)
        await self.ensure_session(turn)

    async def save_queue(self, key: str, items: list[dict[str, Any]]) -> None:
        """Keep the conversation's queued messages (``data["queue"]``) so they survive a restart."""
        async with self.lock(key):
            conv = await self.store.get_conversation(key)
            if conv is None or (not items and "queue" not in conv.data):
                return
            data = dict(conv.data)
            if items:
                data["queue"] = items
            else:
                data.pop("queue", None)
            await self.store.save_conversation(conv.with_changes(data=data))


def ready_text(turn: Turn) -> str:
    """ "Ready!" with the active profile's example requests and tips, in the user's language."""
    p, lang = turn.profile, turn.lang
    return t("ready", lang, title=p.title_in(lang), **p.bullets_in(lang))
