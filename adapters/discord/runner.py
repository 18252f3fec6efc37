"""The Discord adapter: a discord.py ``Client`` with an ``app_commands.CommandTree``.

Thin: converts messages and interactions with :mod:`adapters.discord.converters`, answers
through :mod:`adapters.discord.channel`, and owns only what is Discord's: threads per
project, slash commands and their localizations, the persistent buttons and who may press
them, deferring interactions within 3 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Hashable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal, cast

import discord
import yarl
from discord import app_commands

from adapters.activity import SLOW_INTENTS, ActivityIndicators
from adapters.discord.channel import DEFAULT_UPLOAD_LIMIT, DiscordChannel, InteractionChannel
from adapters.discord.commands import ControlsView, ZhTranslator, build_commands
from adapters.discord.converters import (
    PLATFORM,
    command_of_custom_id,
    interaction_to_incoming,
    locale_of,
    mentions_bot,
    message_to_incoming,
    thread_name,
)
from adapters.discord.shards import IdentifyPacer, shard_of, shard_of_key
from adapters.downloads import DISCORD_CDN_HOSTS, Downloader
from adapters.pacing import EditPacer
from bot.adapter import CheckFailed
from bot.boundary import Button, ConversationKey, Scope
from bot.intents import route
from bot.redact import register_secret
from bot.texts import lang_of, t

if TYPE_CHECKING:
    from bot.app import Runtime
    from bot.engine import ConversationEngine
    from bot.settings import Settings

log = logging.getLogger(__name__)

PROGRESS_EDITS_PER_S = 10.0
"""Progress edits per second at most, all channels together: a fifth of Discord's global limit
of 50 requests/s (https://discord.com/developers/docs/topics/rate-limits#global-rate-limit)."""
MAX_CHOICES = 25
MAX_CHOICE_CHARS = 100
"""Autocomplete results: at most 25 choices of 1-100 characters
(https://discord.com/developers/docs/interactions/application-commands#autocomplete)."""
TYPING_AFTER_S = 1.0
"""Typing is shown only once work has taken this long (s): quick replies need none."""
TYPING_EVERY_S = 8.0
"""A Discord typing indicator lasts about 10 s (or until the bot posts); it is renewed this often (s)."""

THREAD_ARCHIVE_MIN: Literal[1440] = 1440


class NemoCommandTree(app_commands.CommandTree):
    """The slash-command tree, with one error handler: a log line and a sentence, never silence."""

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        """An option Discord sent that the command cannot take (a stale command list, a forged
        value), or a failure inside a command: one warning line, and the user hears about it."""
        log.warning("slash command %s failed: %s", getattr(interaction.command, "name", "?"), type(error).__name__)
        key = "bad_option" if isinstance(error, app_commands.TransformerError) else "internal_error"
        lang = lang_of(locale_of(interaction.locale))
        if interaction.response.is_done():
            return
        with contextlib.suppress(discord.HTTPException):
            await interaction.response.send_message(t(key, lang), ephemeral=True)


class NemoDiscordClient(discord.Client):
    """discord.py client that forwards to the adapter (one gateway connection).

    ``options`` go to discord.py's client (``shard_count``, ``shard_ids`` for
    :class:`NemoShardedClient`).
    """

    def __init__(
        self, adapter: DiscordAdapter, intents: discord.Intents, *, guild_ready_timeout: float = 2.0, **options: Any
    ) -> None:
        super().__init__(
            intents=intents,
            allowed_mentions=discord.AllowedMentions.none(),
            guild_ready_timeout=guild_ready_timeout,
            **options,
        )
        self.adapter = adapter
        self.tree = NemoCommandTree(self)
        for command in build_commands(adapter):
            self.tree.add_command(command)

    async def setup_hook(self) -> None:
        await self.tree.set_translator(ZhTranslator())
        self.add_view(ControlsView(self.adapter, tuple(Button)))
        await self.adapter.sync_commands()

    async def on_message(self, message: discord.Message) -> None:
        await self.adapter.on_message(message)


class NemoShardedClient(NemoDiscordClient, discord.AutoShardedClient):
    """The client of one process of a sharded bot: ``DISCORD_SHARD_IDS`` of
    ``DISCORD_SHARD_COUNT``, one gateway connection per shard (the count is given, so
    discord.py does not ask Discord for its recommended one).

    IDENTIFYs are spaced by the session start limit's ``max_concurrency`` (``GET /gateway/bot``
    once at login, :class:`adapters.discord.shards.IdentifyPacer`); when Discord does not say,
    by discord.py's default of 5 s before every IDENTIFY but the first.
    """

    pacer: IdentifyPacer | None = None

    async def setup_hook(self) -> None:
        try:
            limits = await self.fetch_session_start_limits()
        except (discord.GatewayNotFound, discord.HTTPException, OSError) as exc:
            log.info("no session start limit from Discord (%s): one IDENTIFY per 5 s", type(exc).__name__)
        else:
            self.pacer = IdentifyPacer(limits.max_concurrency)
        await super().setup_hook()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        if self.pacer is None or shard_id is None:
            await super().before_identify_hook(shard_id, initial=initial)
        else:
            await self.pacer.wait(shard_id)


def apply_endpoints(settings: Settings) -> None:
    """Point discord.py at ``DISCORD_API_URL`` / ``DISCORD_GATEWAY_URL`` when set.

    These are process-wide class attributes of discord.py: only the composition root
    (:meth:`DiscordAdapterFactory.prepare`) and test fixtures call this.
    """
    if settings.discord_api_url:
        discord.http.Route.BASE = f"{settings.discord_api_url}/api/v10"
    if settings.discord_gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


class DiscordAdapter:
    """One bot account on Discord feeding the conversation engine.

    Args:
        engine: The conversation engine.
        settings: The settings (``DISCORD_*``).
        guild_ready_timeout: Seconds discord.py waits after the last GUILD_CREATE before
            it is ready (its default is 2).
        ready_timeout_s: How long :meth:`start` waits for the gateway to be ready (s).

    Attributes:
        shard_count: ``DISCORD_SHARD_COUNT``, or ``None`` when the bot is not split across
            processes (then every conversation is this process's).
        shards: The shards this process runs (``DISCORD_SHARD_IDS``; all of them if empty).

    Raises:
        ValueError: ``DISCORD_TOKEN`` is not set.
    """

    platform = PLATFORM

    def __init__(
        self,
        engine: ConversationEngine,
        settings: Settings,
        *,
        guild_ready_timeout: float = 2.0,
        ready_timeout_s: float = 60.0,
    ) -> None:
        if settings.discord_token is None:
            raise ValueError("DISCORD_TOKEN is not set")
        self.token = settings.discord_token
        self.engine = engine
        self.settings = settings
        self.ready_timeout_s = ready_timeout_s
        intents = discord.Intents.default()
        intents.message_content = bool(settings.discord_message_content)
        self.shard_count = settings.discord_shard_count
        self.shards = frozenset(settings.discord_shards or ())
        self.client: NemoDiscordClient
        if self.shard_count is None:
            self.client = NemoDiscordClient(self, intents, guild_ready_timeout=guild_ready_timeout)
        else:
            self.client = NemoShardedClient(
                self,
                intents,
                guild_ready_timeout=guild_ready_timeout,
                shard_count=self.shard_count,
                shard_ids=sorted(self.shards),
            )
        self.pacer = EditPacer(
            lambda channel_id: settings.discord_edit_interval_s, progress_per_second=PROGRESS_EDITS_PER_S
        )
        self.activity = ActivityIndicators(self._send_typing, after_s=TYPING_AFTER_S, every_s=TYPING_EVERY_S)
        self.downloads = Downloader(
            settings.fetch_policy(settings.discord_api_url, allowed=DISCORD_CDN_HOSTS), settings.http_timeout_s
        )
        self._runner: asyncio.Task[None] | None = None
        self._started = False

    # ------------------------------------------------------------------ lifecycle

    async def start(self, *, ready_timeout_s: float | None = None) -> None:
        """Log in, connect to the gateway and wait until the client is ready.

        Raises:
            TimeoutError: Not ready within ``ready_timeout_s``.
            discord.LoginFailure: The token was refused.
        """
        ready_timeout_s = self.ready_timeout_s if ready_timeout_s is None else ready_timeout_s
        self._started = True
        await self.client.login(self.token.get_secret_value())
        self._runner = asyncio.create_task(self.client.connect(reconnect=True), name="discord-gateway")
        ready = asyncio.create_task(self.client.wait_until_ready())
        done, _ = await asyncio.wait(
            {ready, self._runner}, timeout=ready_timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
        if ready not in done:
            ready.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ready
            if self._runner in done:
                self._runner.result()  # raises the connection error
            raise TimeoutError("Discord gateway not ready in time")
        if self.shard_count is None:
            log.info("Discord connected as %s", self.client.user)
        else:
            shards = ",".join(map(str, sorted(self.shards)))
            log.info("Discord connected as %s (shards %s of %d)", self.client.user, shards, self.shard_count)

    async def stop(self) -> None:
        """Close the gateway and HTTP sessions. Idempotent; a client never started has none
        (and discord.py's ``AutoShardedClient`` cannot close before its login)."""
        if self._started and not self.client.is_closed():
            await self.client.close()
        if self._runner is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._runner
            self._runner = None
        await self.activity.close()
        await self.pacer.close()
        await self.downloads.close()

    async def wait_closed(self) -> None:
        """Return (or raise) when the gateway connection ends for good."""
        if self._runner is not None:
            await self._runner

    def owns_guild(self, guild_id: int | None) -> bool:
        """Whether this process runs the shard Discord sends the guild's events to (direct
        messages, ``None``: shard 0); always true when the bot is not sharded."""
        return self.shard_count is None or shard_of(guild_id, self.shard_count) in self.shards

    def owns(self, key: ConversationKey) -> bool:
        """Whether a Discord conversation is this process's (its guild on one of our shards,
        a DM with shard 0); always true when the bot is not sharded."""
        if self.shard_count is None:
            return True
        return shard_of_key(key, self.shard_count) in self.shards

    async def sync_commands(self) -> None:
        """Sync the slash commands to ``DISCORD_GUILD_IDS`` (instant) or globally.

        A sharded process syncs only the listed guilds on its own shards, and only the process
        with shard 0 syncs globally: every command list is PUT once per start of the bot.
        """
        tree = self.client.tree
        try:
            guilds = tuple(g for g in self.settings.discord_guilds if self.owns_guild(g))
            if self.settings.discord_guilds:
                for gid in guilds:
                    guild = discord.Object(id=gid)
                    tree.copy_global_to(guild=guild)
                    await tree.sync(guild=guild)
                log.info("slash commands synced to %d guild(s)", len(guilds))
            elif self.owns_guild(None):
                await tree.sync()
                log.info("slash commands synced globally")
        except discord.HTTPException as exc:
            log.warning("slash command sync failed: HTTP %s", exc.status)

    # ------------------------------------------------------------------ messages

    def _view(self, buttons: tuple[Button, ...], lang: str) -> discord.ui.View | None:
        return ControlsView(self, buttons, lang) if buttons else None

    async def channel_for(self, key: ConversationKey) -> DiscordChannel | None:
        """The channel of a conversation (``discord:<guild>/<channel>[/<thread>]`` or
        ``discord:dm/<channel>``), for resumed work.

        ``None`` for a conversation on another process's shard (:meth:`owns`): that process
        resumes it, and this one does not ask Discord about it.
        """
        if key.platform != PLATFORM or not self.owns(key):
            return None
        last = key.thread_id or key.chat_id.rpartition("/")[2]
        if not last.isdigit():
            return None
        channel_id = int(last)
        target = self.client.get_channel(channel_id)
        if target is None:
            try:
                target = await self.client.fetch_channel(channel_id)
            except discord.HTTPException:
                return None
        return self._channel_for(target, "en")

    def _channel_for(self, target: Any, lang: str, *, private_to: Any = None) -> DiscordChannel:
        guild = getattr(target, "guild", None)
        limit = guild.filesize_limit if guild is not None else DEFAULT_UPLOAD_LIMIT
        return DiscordChannel(target, self.pacer, self._view, upload_limit=limit, lang=lang, private_to=private_to)

    async def on_message(self, message: discord.Message) -> None:
        """Route a message: DMs, the bot's threads, and mentions / listed channels start projects."""
        me = self.client.user
        if me is None or message.author.bot or message.author.id == me.id:
            return
        if not await self.engine.claim_event(PLATFORM, "message", str(message.id)):
            return
        source = message.channel
        if isinstance(source, discord.DMChannel):
            target: Any = source
        elif isinstance(source, discord.Thread):
            if source.owner_id != me.id:
                return
            target = source
        else:
            addressed = mentions_bot(message, me.id)
            if not addressed and source.id not in self.settings.discord_channels:
                return
            if message.attachments:
                try:
                    target = await message.create_thread(
                        name=thread_name(message), auto_archive_duration=THREAD_ARCHIVE_MIN
                    )
                    with contextlib.suppress(discord.HTTPException):
                        await target.add_user(message.author)
                except discord.HTTPException as exc:
                    log.warning("could not create a thread in %s: HTTP %s", source.id, exc.status)
                    target = source
            elif addressed:
                target = source
            else:
                return
        guild = message.guild
        lang = lang_of(locale_of(guild.preferred_locale) if guild else None)
        channel = self._channel_for(target, lang, private_to=message.author)
        incoming = message_to_incoming(message, bot_id=me.id, opener=self._opener, channel=target)
        work = await self.engine.accept(incoming, channel)  # the work goes on in the engine's tasks
        if work is not None and route(incoming.text, bool(incoming.attachments)).kind in SLOW_INTENTS:
            self.activity.track(target, "typing", work)

    @staticmethod
    async def _send_typing(target: Hashable, action: str) -> None:
        await cast(discord.abc.Messageable, target).typing()  # awaited: one typing indicator (~10 s)

    # ------------------------------------------------------------------ interactions

    async def on_slash(
        self, interaction: discord.Interaction, text: str, attachments: list[discord.Attachment] | None = None
    ) -> None:
        """A slash command: defer within 3 s, then let the engine answer through the interaction."""
        if not await self.engine.claim_event(PLATFORM, "interaction", str(interaction.id)):
            return
        await interaction.response.defer(thinking=True)
        await self._handle_interaction(interaction, text, attachments or [])

    async def suggestions(self, interaction: discord.Interaction, typed: str) -> list[str]:
        """``/edit``'s autocomplete: the active profile's example requests that contain what was
        typed so far (all of them before anything is typed), at most :data:`MAX_CHOICES`."""
        me = self.client.user
        incoming = interaction_to_incoming(interaction, "", opener=self._opener, bot_id=me.id if me else 0)
        typed = typed.strip().lower()
        found = [e for e in await self.engine.examples(incoming) if typed in e.lower()]
        return [e[:MAX_CHOICE_CHARS] for e in found[:MAX_CHOICES]]

    async def on_login(self, interaction: discord.Interaction, token: str) -> None:
        """The ``/login`` modal was submitted: the token goes to the engine as a private
        message, and every answer is ephemeral."""
        if not await self.engine.claim_event(PLATFORM, "interaction", str(interaction.id)):
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self._handle_interaction(interaction, f"/login {token.strip()}", [], private=True)

    async def on_button(self, interaction: discord.Interaction, button_id: str) -> None:
        """A quick-action button: a command from the presser (the engine checks the project's owner)."""
        command = command_of_custom_id(button_id)
        if command is None or not await self.engine.claim_event(PLATFORM, "interaction", str(interaction.id)):
            return
        await interaction.response.defer(thinking=True)
        await self._handle_interaction(interaction, command, [])

    async def _handle_interaction(
        self,
        interaction: discord.Interaction,
        text: str,
        attachments: list[discord.Attachment],
        *,
        private: bool = False,
    ) -> None:
        register_secret(interaction.token)  # valid 15 minutes: never in a log line
        lang = lang_of(locale_of(interaction.locale))
        target = interaction.channel
        if target is None:
            return
        fallback = self._channel_for(target, lang)
        channel = InteractionChannel(interaction, fallback, self.pacer, self._view, lang=lang)
        me = self.client.user
        incoming = interaction_to_incoming(
            interaction, text, attachments=attachments, opener=self._opener, bot_id=me.id if me else 0
        )
        if private:  # typed into a modal, answered ephemerally: as private as a DM
            incoming = replace(incoming, scope=Scope.PRIVATE)
        await self.engine.accept(incoming, channel)  # answered through the interaction by the engine's task

    # ------------------------------------------------------------------ bytes

    def _opener(self, url: str) -> Callable[[], AsyncIterator[bytes]]:
        """Streams an attachment from Discord's CDN (the fallback when the URL upload fails)."""
        return lambda: self.downloads.stream(url, "attachment")


class DiscordAdapterFactory:
    """The ``discord`` entry point of the ``nemobot.adapters`` group."""

    name = PLATFORM

    def enabled(self, settings: Settings) -> bool:
        """Started by ``nemobot run`` when ``DISCORD_TOKEN`` is set."""
        return settings.discord_token is not None

    def prepare(self, settings: Settings) -> None:
        """discord.py's process-wide switches: the API and gateway endpoints when set, and no
        "voice will NOT be supported" warnings (nemobot never joins voice channels)."""
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        apply_endpoints(settings)

    async def check(self, settings: Settings) -> str:
        """``GET /users/@me`` with ``DISCORD_TOKEN``, through discord.py's own HTTP client.

        Raises:
            CheckFailed: Discord refused the token, or could not be reached.
        """
        assert settings.discord_token is not None
        http = discord.http.HTTPClient(asyncio.get_running_loop())
        try:
            me = await http.static_login(settings.discord_token.get_secret_value())
        except discord.LoginFailure:
            raise CheckFailed("Discord refused DISCORD_TOKEN: reset it in the Developer Portal (Bot page)") from None
        except (discord.HTTPException, OSError) as exc:
            raise CheckFailed(f"Discord could not be reached ({type(exc).__name__})") from None
        finally:
            await http.close()
        return f"@{me.get('username', '?')}"

    def create(self, runtime: Runtime) -> DiscordAdapter:
        """The adapter on the runtime's engine."""
        return DiscordAdapter(runtime.engine, runtime.settings)
