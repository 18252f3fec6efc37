"""A fake Discord (REST API + gateway websocket + attachment CDN) for offline end-to-end tests.

:class:`FakeDiscord` is one aiohttp server on ``127.0.0.1`` that a real ``discord.Client``
(discord.py 2.7, with an ``app_commands.CommandTree`` and persistent views) talks to exactly as
it talks to Discord, once two class attributes point at it: nemobot's adapter sets them from
``DISCORD_API_URL`` / ``DISCORD_GATEWAY_URL`` (``api_url`` = ``{url}/api/v10`` and ``ws_url``),
and :class:`patched_discord` does it for a bare client::

    async with FakeDiscord() as dc, patched_discord(dc):
        dc.add_guild(1, premium_tier=2, channels=[11])
        task = asyncio.create_task(client.start("any-token"))
        await dc.wait_ready()
        await dc.message_create(11, "hello", mentions_bot=True)
        ...
        await client.close(); await task

Tests inject what users do (``message_create``, ``dm_message``, ``interaction_create``,
``button_press``), the fake dispatches them on the gateway, and everything the bot does is
recorded (``calls``, ``messages``, ``threads``, ``interaction_responses``, ``synced_commands``,
``uploaded``, ``identify``).

It emulates what nemobot's discord.py client uses and nothing else (checked against
discord.py 2.7.1's ``http.py``, ``gateway.py``, ``client.py`` and ``webhook/async_.py``); other
routes answer 404 as unknown ones do on Discord. Platform behaviour emulated (see
``/work/shared/design.md``, "Platform facts"): 2000-character messages, per-file upload limit by
boost tier (413, code 40005), interaction tokens that expire (401, code 50027), a single
acknowledgement per interaction (40060), the first follow-up after a deferral replacing the
"thinking" message, signed expiring attachment URLs, the message-content intent, RESUME with
replay of missed events, per-route rate-limit buckets, shards (each IDENTIFY's ``shard`` gets
its guilds' events, DMs go to shard 0; see :mod:`~tests.fakes.discord.gateway`).

``Client`` waits ``guild_ready_timeout`` (2 s by default) after the last GUILD_CREATE before
``on_ready``; pass ``guild_ready_timeout=0.05`` to the client in tests.

The class is built in layers, one module per concern, each a subclass of the one below:
:mod:`~tests.fakes.discord.state` <- :mod:`~tests.fakes.discord.gateway` <-
:mod:`~tests.fakes.discord.cdn` <- :mod:`~tests.fakes.discord.messages` <-
:mod:`~tests.fakes.discord.world` <- :mod:`~tests.fakes.discord.channels` <-
:mod:`~tests.fakes.discord.commands` <- :mod:`~tests.fakes.discord.interactions` <-
:mod:`~tests.fakes.discord.webhooks` <- :mod:`~tests.fakes.discord.rest` <- this module. Payload
builders are in :mod:`~tests.fakes.discord.payloads` and
:mod:`~tests.fakes.discord.guild_payloads`, numbers in :mod:`~tests.fakes.discord.constants`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from tests.fakes.discord.constants import API_VERSION
from tests.fakes.discord.rest import DiscordHttp


class FakeDiscord(DiscordHttp):
    """A fake Discord REST API + gateway + CDN on ``127.0.0.1`` (see the module docstring).

    Uploaded and registered files live under ``files_dir``. The bot token is never stored:
    calls record only whether an Authorization header was sent, and the recorded IDENTIFY has
    its token replaced by ``"<redacted>"``.

    Args:
        bot_id: The bot user's id (also the application id, as for modern apps).
        bot_name: The bot's username.
        files_dir: Where uploads and registered attachments are stored; a temporary directory
            (removed with this object) if ``None``.
        recommended_shards: What ``GET /gateway/bot`` recommends as ``shards``; ``None``:
            that route answers 404 (a plain ``Client`` never asks it).
        max_concurrency: ``session_start_limit.max_concurrency`` of ``GET /gateway/bot``
            (IDENTIFYs per 5 s; 1 for most bots).

    Attributes:
        url: ``http://127.0.0.1:PORT`` once started (REST under ``{url}/api/v10``).
        ws_url: ``ws://127.0.0.1:PORT/gateway``.
        bot_id: The bot's user id.
        application_id: The application id.
        bot_user: The bot's user object.
        guilds: ``guild id -> guild object``.
        channels: ``channel id -> channel object`` (text channels, threads, DMs).
        users: ``user id -> user object`` of registered users.
        calls: Every REST call in order (gateway and CDN traffic excluded).
        messages: ``channel_id -> [record]`` for each message the bot posted, REST or interaction
            (see :meth:`_record_message` for the record's keys).
        threads: Threads the bot created: ``{"id", "guild_id", "parent_id", "message_id",
            "name", "type", "auto_archive_duration", "raw"}``.
        thread_members: ``thread id -> user ids`` in it.
        interaction_responses: ``interaction id -> [entry]`` of successful callbacks
            (``{"kind": "callback", "type", "data", "files", "message_id", "message"}``),
            follow-ups (``kind="followup"``) and edits (``"edit_original"``, ``"edit"``).
        synced_commands: ``guild id (None: global) -> commands JSON`` as the bot PUT it.
        identify: Last IDENTIFY ``d`` (token redacted).
        identifies: Every IDENTIFY ``d`` in order (tokens redacted).
        uploaded: Every file of every accepted upload, in order.
        dispatched: ``(event name, data)`` of every gateway dispatch, in order.
        gateway_connections: Query parameters of every gateway connection.
        heartbeats: Op 1 heartbeats received.
        resumes: Successful RESUMEs.
    """

    @property
    def api_url(self) -> str:
        """``Route.BASE`` for discord.py: ``{url}/api/v10``."""
        return f"{self.url}/api/v{API_VERSION}"

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_route("GET", "/gateway", self._gateway)
        app.router.add_route("*", "/{tail:.*}", self._http)

    def _on_started(self, port: int) -> None:
        self.ws_url = f"ws://127.0.0.1:{port}/gateway"

    async def _on_stopping(self) -> None:
        """Finish background dispatches and close gateway sockets (1001, going away)."""
        if self._bg:
            await asyncio.gather(*self._bg, return_exceptions=True)
        for conn in list(self._conns):
            await conn.close(1001, b"Going away")


class patched_discord:
    """Point discord.py at a :class:`FakeDiscord`: sets ``discord.http.Route.BASE`` and
    ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY``, restores both on exit.

    Use as ``with patched_discord(fake):`` or ``async with patched_discord(fake):`` around the
    whole life of the client (login to ``close()``): routes read ``Route.BASE`` when built.
    """

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self._saved: tuple[str, Any] | None = None

    def __enter__(self) -> FakeDiscord:
        import discord.gateway
        import discord.http
        import yarl

        if not self.fake.url:
            raise RuntimeError("start the FakeDiscord before patching discord.py")
        self._saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
        discord.http.Route.BASE = self.fake.api_url
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.fake.ws_url)
        return self.fake

    def __exit__(self, *exc_info: object) -> None:
        import discord.gateway
        import discord.http

        if self._saved is not None:
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = self._saved
            self._saved = None

    async def __aenter__(self) -> FakeDiscord:
        return self.__enter__()

    async def __aexit__(self, *exc_info: object) -> None:
        self.__exit__(*exc_info)
