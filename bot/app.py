"""Composition: build the store, the NemoVideo client and the engine from settings.

Components start in a fixed order and stop in reverse (design habit 4), through
:class:`contextlib.AsyncExitStack`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import cast

from bot.adapter import AdapterFactory
from bot.engine import ConversationEngine
from bot.nemo.client import NemoClient, StoredToken
from bot.nemo.models import Attribution
from bot.profiles import get_profile
from bot.settings import Settings
from store import Identity, Store, open_store
from store.crypto import TokenCipher

ADAPTER_GROUP = "nemobot.adapters"


class StoreTokenStore:
    """Keeps the client's anonymous identity in the :class:`store.Store` (identity table)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def load_token(self) -> StoredToken | None:
        ident = await self.store.load_identity()
        if ident is None:
            return None
        return StoredToken(ident.client_id, ident.token, ident.user_id, ident.expires_at)

    async def save_token(self, token: StoredToken) -> None:
        await self.store.save_identity(Identity(token.client_id, token.token, token.user_id, token.expires_at))

    async def create_token(self, token: StoredToken) -> StoredToken:
        kept = await self.store.create_identity(Identity(token.client_id, token.token, token.user_id, token.expires_at))
        return StoredToken(kept.client_id, kept.token, kept.user_id, kept.expires_at)


@dataclass
class Runtime:
    """The running core: settings, store, client and engine."""

    settings: Settings
    store: Store
    client: NemoClient
    engine: ConversationEngine
    connected: set[str] = field(default_factory=set)
    """Platforms whose adapter is connected (:func:`bot.adapter.running`; ``/readyz``)."""


@contextlib.asynccontextmanager
async def open_runtime(settings: Settings, *, platform: str = "console") -> AsyncIterator[Runtime]:
    """Open the store, create the client and the engine; close them in reverse order.

    Args:
        settings: The settings.
        platform: Default ``X-Skill-Platform`` for calls made outside a conversation.
    """
    async with contextlib.AsyncExitStack() as stack:
        key = settings.nemobot_secret_key.get_secret_value() if settings.nemobot_secret_key else None
        store = open_store(settings.database_url, cipher=TokenCipher.from_keys(key) if key else None)
        await store.open()
        stack.push_async_callback(store.close)
        profile = get_profile(settings.default_skill)
        client = NemoClient(
            settings.nemo_api_url,
            settings.nemo_web_url,
            token_store=StoreTokenStore(store),
            fixed_token=settings.nemo_token.get_secret_value() if settings.nemo_token else None,
            client_id=settings.nemo_client_id,
            default_attribution=Attribution(profile.name, profile.version, platform),
            http_timeout_s=settings.http_timeout_s,
            rate_limit_wait_s=settings.rate_limit_wait_s,
            fetch_policy=settings.fetch_policy(settings.nemo_api_url),
            max_connections=settings.nemo_max_connections,
        )
        stack.push_async_callback(client.close)
        engine = ConversationEngine(client, store, settings)
        stack.push_async_callback(engine.aclose)
        if settings.database_url.startswith(("postgresql://", "postgres://")):
            from bot.shared_work import SharedWork  # procrastinate: only PostgreSQL installs load it

            shared = SharedWork(
                settings.database_url,
                engine.run_shared,
                stalled_s=settings.stalled_job_s,
                concurrency=2 * settings.max_concurrent_runs,
                max_queued=settings.max_queued_messages,
            )
            await shared.open()
            stack.push_async_callback(shared.close)  # first to stop: running jobs go to other instances
            engine.shared = shared
        yield Runtime(settings, store, client, engine)


def load_adapter(name: str) -> AdapterFactory:
    """The adapter factory registered under ``name`` in the ``nemobot.adapters`` entry points.

    The CLI finds adapters this way so ``bot`` never imports ``adapters`` (design notes).

    Raises:
        LookupError: No adapter of that name is installed.
    """
    for ep in entry_points(group=ADAPTER_GROUP):
        if ep.name == name:
            return cast(AdapterFactory, ep.load()())
    raise LookupError(f"no '{name}' adapter installed (entry point group {ADAPTER_GROUP}); run pip install -e .")


def all_adapters() -> dict[str, AdapterFactory]:
    """Every installed adapter factory by name."""
    return {ep.name: cast(AdapterFactory, ep.load()()) for ep in entry_points(group=ADAPTER_GROUP)}
