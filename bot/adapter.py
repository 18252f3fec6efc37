"""What every platform adapter offers the runtime, and how the runtime runs one.

Adapters live in ``adapters/`` and are found through the ``nemobot.adapters`` entry points
(design notes): each entry point is an :class:`AdapterFactory`. The composition root (the
CLI) calls :meth:`AdapterFactory.prepare` once for process-wide setup, then
:meth:`AdapterFactory.create`; :func:`running` starts the adapter, hands the engine the
adapter's way to reach conversations so the previous process's leftovers are resumed, and
stops the adapter in reverse.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from bot.boundary import Attachment, ConversationKey, ReplyChannel
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.app import Runtime


class CheckFailed(Exception):
    """A ``nemobot doctor`` check failed; the message says what to fix (never a token)."""


@runtime_checkable
class Adapter(Protocol):
    """One connected platform.

    Attributes:
        platform: The platform name used in conversation keys (``telegram``, ``discord``, ``console``).
    """

    platform: str

    async def start(self) -> None:
        """Connect; return once updates are being received.

        Raises:
            Exception: The platform refused the connection (bad token, unreachable).
        """

    async def stop(self) -> None:
        """Disconnect and cancel in-flight work. Idempotent."""

    async def wait_closed(self) -> None:
        """Return (or raise) when the adapter stops on its own; run until cancelled otherwise."""

    async def channel_for(self, key: ConversationKey) -> ReplyChannel | None:
        """A channel into conversation ``key`` for resumed work, or ``None`` when it is unreachable."""


@runtime_checkable
class SharedAdapter(Adapter, Protocol):
    """An adapter whose updates may reach any instance of the bot (Telegram webhooks behind a
    load balancer): on PostgreSQL its conversation work is shared (:mod:`bot.shared_work`).

    Attributes:
        shares_work: True to share (a platform that routes each conversation to one process
            by itself, like Discord's shards, keeps its work where it arrives).
    """

    shares_work: bool

    async def reopen(self, attachment: Attachment) -> Attachment:
        """``attachment`` (with only its ``ref``: a file kept by reference) made readable again.

        Raises:
            ValueError: ``attachment.ref`` is not one of this platform's references.
        """


class AdapterFactory(Protocol):
    """The entry point of one adapter.

    Attributes:
        name: The entry point name (``telegram``, ``discord``, ``console``).
    """

    name: str

    def enabled(self, settings: Settings) -> bool:
        """True when ``nemobot run`` should start this adapter (its token is set)."""

    def prepare(self, settings: Settings) -> None:
        """Process-wide setup, called once by the composition root before :meth:`create`
        (library switches, logger floors, endpoint overrides). Tests call it in fixtures."""

    def create(self, runtime: Runtime) -> Adapter:
        """The adapter, wired to the runtime's engine and settings (not started)."""

    async def check(self, settings: Settings) -> str:
        """``nemobot doctor``: ask the platform whether it accepts the token, without connecting
        the bot (called after :meth:`prepare`).

        Returns:
            What the platform says the bot is (``@name``).

        Raises:
            CheckFailed: The platform refused or could not be reached (the message says which).
        """


@contextlib.asynccontextmanager
async def running(runtime: Runtime, adapter: Adapter) -> AsyncIterator[Adapter]:
    """Start ``adapter``, resume its platform's leftovers, and stop it on exit.

    The runtime, not each adapter, starts the resume (:meth:`bot.engine.ConversationEngine.resume`).
    On exit the platform's in-flight work is stopped first, then the adapter disconnects.
    """
    await adapter.start()
    runtime.connected.add(adapter.platform)
    try:
        if runtime.engine.shared is not None and isinstance(adapter, SharedAdapter) and adapter.shares_work:
            runtime.engine.share(adapter.platform, adapter.channel_for, adapter.reopen)
            await runtime.engine.resume_shared(adapter.platform)
        else:
            await runtime.engine.resume(adapter.platform, adapter.channel_for)
        yield adapter
    finally:
        runtime.connected.discard(adapter.platform)
        try:
            await runtime.engine.stop_platform(adapter.platform)  # while the adapter can still post
        finally:
            await adapter.stop()


async def serve(runtime: Runtime, adapter: Adapter) -> None:
    """Run ``adapter`` until it stops on its own or the task is cancelled."""
    async with running(runtime, adapter):
        await adapter.wait_closed()
