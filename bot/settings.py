"""Runtime settings, read from the environment and ``.env`` with pydantic-settings.

Every setting is documented in ``.env.example``. A bad value fails at start with one line
naming the setting (see :func:`load_settings`).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.outbound import FetchPolicy, literal_address

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
"""Hosts for which an ``http://`` webhook URL is accepted (tests, a local proxy)."""


class SettingsError(Exception):
    """A setting is missing or invalid. ``str()`` is one line naming the setting."""


class Settings(BaseSettings):
    """nemobot's settings.

    Attributes:
        nemo_api_url: NemoVideo API base (contract section 1).
        nemo_web_url: NemoVideo web app base, used for claim and registration links.
        nemo_token: A fixed bearer token; when unset an anonymous token is used.
        nemo_client_id: The anonymous client id (UUID); when unset one is created once and
            persisted in the store.
        database_url: ``sqlite:///path`` (default ``sqlite:///nemobot.db``) or
            ``postgresql://user:password@host:port/dbname`` (``postgres://`` too; ``?pool_size=N``
            sets the most connections, default 10).
        heartbeat_interval_s: Seconds between "Still working" notes during a run (default 120).
        progress_edit_interval_s: Minimum seconds between two edits of a progress message.
        sse_idle_timeout_s: Heartbeats-only time after which a run is a timeout (600, section 3).
        sse_hard_timeout_s: Hard limit of one agent run (900, section 3).
        render_timeout_s: Total time allowed for one render's polling (s).
        render_poll_initial_s / render_poll_max_s / render_poll_factor: poll back-off
            (contract section 5: the CLI backs off from 2 s by x1.5 up to 15 s).
        rate_limit_wait_s: Wait before the single retry of an HTTP 429 without Retry-After.
        http_timeout_s: Timeout of one non-streaming HTTP call (s).
        max_upload_mb: Upload cap in MB (contract section 8: 500).
        max_prompt_chars: Longest message sent to the agent (characters).
        drop_first_check_s / drop_check_every_s / drop_max_unchanged_reads: after a dropped
            stream, read the state after 30 s, then every 60 s, up to 5 unchanged reads
            (contract section 3).
        default_skill: The skill profile of new conversations.
        telegram_token: The Telegram bot token (from @BotFather); the Telegram adapter starts
            when it is set.
        telegram_api_url: A Bot API server base (e.g. a local ``telegram-bot-api`` at
            ``http://127.0.0.1:8081``); default the cloud Bot API.
        telegram_local_mode: The Bot API server runs in ``--local`` mode: downloads of any
            size and uploads up to 2000 MB (cloud: 20 MB down, 50 MB up).
        telegram_webhook_url: Public HTTPS URL of the webhook; when set, webhook mode
            replaces long polling.
        telegram_webhook_secret: Secret checked on every webhook request
            (``X-Telegram-Bot-Api-Secret-Token``); required with a webhook URL.
        telegram_webhook_listen / telegram_webhook_port: Where the webhook server listens
            (behind a reverse proxy).
        telegram_album_wait_s: Quiet period that closes an album (``media_group_id``), s.
        telegram_edit_interval_s / telegram_group_edit_interval_s: Minimum time between two
            edits in one private / group chat, s (Telegram: about 20 edits per minute per chat).
        discord_token: The Discord bot token; the Discord adapter starts when it is set.
        discord_guild_ids: Comma-separated guild ids to sync slash commands to at start
            (instant, for development); empty = global sync (may take up to an hour).
        discord_channel_ids: Comma-separated channel ids where any message with a clip starts
            a project (elsewhere the bot must be mentioned).
        discord_message_content: The privileged message content intent is enabled for the
            bot; when false, slash commands carry all requests.
        discord_api_url / discord_gateway_url: Point discord.py at a proxy or a test server
            (``<url>/api/v10`` and a ``ws(s)://`` gateway).
        discord_edit_interval_s: Minimum time between two edits in one channel, s (Discord:
            5 edits per 5 s per channel).
        discord_shard_count: Shards of the whole bot across every process (Discord routes a
            guild to shard ``(guild_id >> 22) % shard_count``, direct messages to shard 0);
            ``None``: one process, as many shards as Discord recommends.
        discord_shard_ids: Comma-separated shards this process runs (needs
            ``discord_shard_count``); empty: all of them.
        downloads_dir: Where the terminal adapter saves delivered files.
        log_level: Python logging level name.
        log_format: ``text`` (one readable line per record) or ``json`` (one JSON object per
            line, for log collectors; python-json-logger).
        chat_log_file: Where ``nemobot chat`` writes its log, so log lines never interleave
            with the conversation in the terminal.
        nemo_identity: ``per_user`` (each chat user gets their own anonymous NemoVideo
            identity) or ``shared`` (everyone uses the install's identity or ``NEMO_TOKEN``);
            unset: ``shared`` with ``NEMO_TOKEN``, ``per_user`` without.
        nemobot_secret_key: Fernet key(s), comma-separated, newest first, that encrypt stored
            tokens; personal tokens (``/login``) need one.
        telegram_allowed_user_ids / telegram_allowed_chat_ids / discord_allowed_user_ids /
            discord_allowed_guild_ids: Comma-separated ids allowed to use the bot; empty = everyone.
        admin_user_ids: Comma-separated admin accounts, ``telegram:123,discord:456``.
        rate_limit_per_minute: Agent messages a person may send a minute (default 6).
        quota_runs_per_day / quota_exports_per_day: Daily quotas per person (defaults: 30 and 5
            in shared mode, unlimited per user).
        max_queued_messages: Messages queued per conversation behind the current one (3).
        max_concurrent_runs: Agent runs in flight across all users; more wait their turn.
        group_projects: ``per_user`` (each person has their own project in a group chat) or
            ``shared`` (one project per group chat or topic).
        fetch_allowed_hosts: Comma-separated host names the bot may fetch from (and hand to
            NemoVideo as pasted links) even over plain http or at a private address; the
            hosts of ``NEMO_API_URL``, ``TELEGRAM_API_URL`` and ``DISCORD_API_URL`` are
            trusted for the bot's own downloads without being listed (``docs/security.md``).
        download_timeout_s: Total time of one download of a render or a platform file (s).
        nemo_max_connections: Connections open to NemoVideo at once; every agent run holds one
            SSE stream for its whole length (default 1000).
        render_poll_concurrency: Render status polls in flight at most when a restart picks up
            running renders (default 200; :mod:`bot.polling`).
        health_port: Where ``nemobot run`` serves ``/healthz``, ``/readyz`` and ``/metrics``:
            ``PORT`` or ``HOST:PORT`` (default ``127.0.0.1:8080``); ``off`` for none (:mod:`bot.health`).
        stalled_job_s: With PostgreSQL, how long an instance may go without a heartbeat before
            the others take its conversations' work over (s; default 30; :mod:`bot.shared_work`).
    """

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    nemo_api_url: str = "https://mega-api-prod.nemovideo.ai"
    nemo_web_url: str = "https://nemovideo.com"
    nemo_token: SecretStr | None = None
    nemo_client_id: str | None = None
    database_url: str = "sqlite:///nemobot.db"
    heartbeat_interval_s: float = Field(120.0, gt=0)
    progress_edit_interval_s: float = Field(3.0, ge=0)
    sse_idle_timeout_s: float = Field(600.0, gt=0)
    sse_hard_timeout_s: float = Field(900.0, gt=0)
    render_timeout_s: float = Field(1800.0, gt=0)
    render_poll_initial_s: float = Field(2.0, gt=0)
    render_poll_max_s: float = Field(15.0, gt=0)
    render_poll_factor: float = Field(1.5, ge=1)
    rate_limit_wait_s: float = Field(30.0, ge=0)
    http_timeout_s: float = Field(60.0, gt=0)
    max_upload_mb: int = Field(500, gt=0)
    max_prompt_chars: int = Field(4000, gt=0)
    drop_first_check_s: float = Field(30.0, ge=0)
    drop_check_every_s: float = Field(60.0, ge=0)
    drop_max_unchanged_reads: int = Field(5, ge=1)
    default_skill: str = "video-leaderboard"
    telegram_token: SecretStr | None = None
    telegram_api_url: str | None = None
    telegram_local_mode: bool = False
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: SecretStr | None = None
    telegram_webhook_listen: str = "127.0.0.1"
    telegram_webhook_port: int = Field(8443, gt=0, lt=65536)
    telegram_album_wait_s: float = Field(1.5, ge=0)
    telegram_edit_interval_s: float = Field(3.0, ge=0)
    telegram_group_edit_interval_s: float = Field(5.0, ge=0)
    discord_token: SecretStr | None = None
    discord_guild_ids: str = ""
    discord_channel_ids: str = ""
    discord_message_content: bool = True
    discord_api_url: str | None = None
    discord_gateway_url: str | None = None
    discord_edit_interval_s: float = Field(1.5, ge=0)
    discord_shard_count: int | None = Field(None, ge=1)
    discord_shard_ids: str = ""
    downloads_dir: Path = Path("nemobot-downloads")
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"
    chat_log_file: Path = Path("nemobot-chat.log")
    nemo_identity: Literal["per_user", "shared"] | None = None
    nemobot_secret_key: SecretStr | None = None
    telegram_allowed_user_ids: str = ""
    telegram_allowed_chat_ids: str = ""
    discord_allowed_user_ids: str = ""
    discord_allowed_guild_ids: str = ""
    admin_user_ids: str = ""
    rate_limit_per_minute: int = Field(6, ge=1)
    quota_runs_per_day: int | None = Field(None, ge=0)
    quota_exports_per_day: int | None = Field(None, ge=0)
    max_queued_messages: int = Field(3, ge=0)
    max_concurrent_runs: int = Field(50, ge=1)
    group_projects: Literal["per_user", "shared"] = "per_user"
    fetch_allowed_hosts: str = ""
    download_timeout_s: float = Field(600.0, gt=0)
    nemo_max_connections: int = Field(1000, ge=1)
    render_poll_concurrency: int = Field(200, ge=1)
    health_port: str = "127.0.0.1:8080"
    stalled_job_s: float = Field(30.0, gt=0)

    @field_validator("nemo_api_url", "nemo_web_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("health_port")
    @classmethod
    def _listen(cls, value: str) -> str:
        parse_listen(value)
        return value.strip()

    def health_listen(self) -> tuple[str, int] | None:
        """``HEALTH_PORT`` as ``(host, port)``, or ``None`` when the health server is off."""
        return parse_listen(self.health_port)

    @field_validator("nemo_client_id")
    @classmethod
    def _uuid(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        return str(uuid.UUID(value))

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql://", "postgres://")):
            raise ValueError("DATABASE_URL is sqlite:///path or postgresql://user:password@host:port/database")
        return value

    @field_validator(
        "discord_guild_ids",
        "discord_channel_ids",
        "telegram_allowed_user_ids",
        "telegram_allowed_chat_ids",
        "discord_allowed_user_ids",
        "discord_allowed_guild_ids",
        "discord_shard_ids",
    )
    @classmethod
    def _id_list(cls, value: str) -> str:
        parts = [p.strip() for p in value.replace(";", ",").split(",") if p.strip()]
        for part in parts:
            if not part.removeprefix("-").isdigit():  # Telegram group ids are negative
                raise ValueError(f"must be comma-separated numeric ids, got {part[:30]!r}")
        return ",".join(parts)

    @property
    def discord_shards(self) -> tuple[int, ...] | None:
        """The shards this process runs (``discord_shard_ids``, else all ``discord_shard_count``);
        ``None`` when sharding is left to discord.py (one process)."""
        if self.discord_shard_count is None:
            return None
        if not self.discord_shard_ids:
            return tuple(range(self.discord_shard_count))
        return tuple(int(p) for p in self.discord_shard_ids.split(","))

    @model_validator(mode="after")
    def _shards(self) -> Settings:
        if self.discord_shard_ids and self.discord_shard_count is None:
            raise ValueError("DISCORD_SHARD_IDS needs DISCORD_SHARD_COUNT")
        for shard in self.discord_shards or ():
            if not 0 <= shard < (self.discord_shard_count or 0):
                raise ValueError(f"DISCORD_SHARD_IDS: shard {shard} is not below DISCORD_SHARD_COUNT")
        return self

    @property
    def discord_guilds(self) -> tuple[int, ...]:
        """``discord_guild_ids`` as integers."""
        return tuple(int(p) for p in self.discord_guild_ids.split(",") if p)

    @property
    def discord_channels(self) -> frozenset[int]:
        """``discord_channel_ids`` as integers."""
        return frozenset(int(p) for p in self.discord_channel_ids.split(",") if p)

    @field_validator("discord_gateway_url")
    @classmethod
    def _ws_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("ws://", "wss://")):
            raise ValueError("must start with ws:// or wss://")
        return value

    @field_validator("telegram_api_url", "telegram_webhook_url", "discord_api_url")
    @classmethod
    def _optional_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Settings:
        if self.telegram_webhook_url and not self.telegram_webhook_secret:
            raise ValueError("TELEGRAM_WEBHOOK_SECRET is required with TELEGRAM_WEBHOOK_URL")
        if self.telegram_webhook_url:
            url = urlsplit(self.telegram_webhook_url)
            if url.scheme != "https" and url.hostname not in LOOPBACK_HOSTS:
                raise ValueError("TELEGRAM_WEBHOOK_URL must be https:// (Telegram posts updates there)")
        return self

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters (use a random string)")
        return value

    @field_validator("default_skill")
    @classmethod
    def _skill(cls, value: str) -> str:
        from bot.profiles import PROFILES

        if value not in PROFILES:
            raise ValueError(f"unknown skill; choose one of {', '.join(PROFILES)}")
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return value

    @field_validator("nemobot_secret_key")
    @classmethod
    def _fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        from store.crypto import TokenCipher

        try:
            TokenCipher.from_keys(value.get_secret_value())
        except ValueError as exc:
            raise ValueError(f"must be Fernet keys (comma-separated): {exc}") from None
        return value

    @field_validator("fetch_allowed_hosts")
    @classmethod
    def _hosts(cls, value: str) -> str:
        parts = [p.strip().lower().rstrip(".") for p in value.replace(";", ",").split(",") if p.strip()]
        for part in parts:
            if "/" in part or (":" in part and literal_address(part) is None):
                raise ValueError(f"must be comma-separated host names (no scheme, port or path), got {part[:40]!r}")
        return ",".join(p.strip("[]") for p in parts)

    @property
    def allowed_hosts(self) -> frozenset[str]:
        """``FETCH_ALLOWED_HOSTS`` as lower-case host names."""
        return frozenset(p for p in self.fetch_allowed_hosts.split(",") if p)

    def fetch_policy(self, *urls: str | None, allowed: frozenset[str] = frozenset()) -> FetchPolicy:
        """The outbound rules of the bot's own downloads (:mod:`bot.outbound`).

        Args:
            *urls: Service URLs whose hosts are trusted (``NEMO_API_URL``, a platform API URL).
            allowed: When not empty, the only other hosts allowed (a platform's CDN).
        """
        policy = FetchPolicy.for_urls(urls, self.allowed_hosts, timeout_s=self.download_timeout_s)
        return FetchPolicy(policy.trusted_hosts, allowed, policy.timeout_s)

    @field_validator("admin_user_ids")
    @classmethod
    def _accounts(cls, value: str) -> str:
        parts = [p.strip() for p in value.replace(";", ",").split(",") if p.strip()]
        for part in parts:
            platform, _, user = part.partition(":")
            if platform not in {"telegram", "discord", "console"} or not user:
                raise ValueError(f"must be platform:id pairs like telegram:123, got {part[:40]!r}")
        return ",".join(parts)

    @property
    def identity_mode(self) -> Literal["per_user", "shared"]:
        """``NEMO_IDENTITY``, or its default: ``shared`` with ``NEMO_TOKEN``, ``per_user`` without."""
        if self.nemo_identity is not None:
            return self.nemo_identity
        return "shared" if self.nemo_token else "per_user"

    @property
    def daily_quotas(self) -> dict[str, int | None]:
        """Agent runs and exports a person may start a day (``None``: unlimited).

        Defaults: 30 runs and 5 exports in shared mode (everyone spends the operator's
        credits), unlimited in per-user mode (everyone spends their own).
        """
        shared = self.identity_mode == "shared"
        runs = self.quota_runs_per_day if self.quota_runs_per_day is not None else (30 if shared else None)
        exports = self.quota_exports_per_day if self.quota_exports_per_day is not None else (5 if shared else None)
        return {"runs": runs, "exports": exports}

    @property
    def admins(self) -> frozenset[str]:
        """``ADMIN_USER_IDS`` as accounts (``telegram:123``)."""
        return frozenset(p for p in self.admin_user_ids.split(",") if p)

    def allowlist(self, name: str) -> frozenset[str]:
        """One allowlist (``telegram_allowed_user_ids``...) as strings; empty means everyone."""
        value = getattr(self, name)
        return frozenset(p for p in str(value).split(",") if p)

    def secrets(self) -> list[str]:
        """Every secret value among the settings (for the log redactor, :mod:`bot.redact`)."""
        values = (self.nemo_token, self.telegram_token, self.telegram_webhook_secret, self.discord_token)
        found = [v.get_secret_value() for v in values if v is not None]
        if self.nemobot_secret_key is not None:
            found += [k.strip() for k in self.nemobot_secret_key.get_secret_value().split(",") if k.strip()]
        return found

    @property
    def max_upload_bytes(self) -> int:
        """``max_upload_mb`` in bytes (1 MB = 1024 * 1024 bytes)."""
        return self.max_upload_mb * 1024 * 1024


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning validation errors into one clear line.

    Args:
        **overrides: Values that win over the environment (used by the CLI and tests).

    Returns:
        The validated settings.

    Raises:
        SettingsError: One line such as ``setting NEMO_API_URL: must start with http://``.
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "TELEGRAM_WEBHOOK_SECRET"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise SettingsError(f"setting {name}: {message}") from None


def parse_listen(value: str) -> tuple[str, int] | None:
    """``"8080"`` -> ``("127.0.0.1", 8080)``, ``"0.0.0.0:9"`` -> ``("0.0.0.0", 9)``; ``""``, ``"0"``
    or ``"off"`` -> ``None``.

    Raises:
        ValueError: Not a port or ``host:port``.
    """
    value = value.strip()
    if value.lower() in {"", "0", "off", "none"}:
        return None
    host, _, port = value.rpartition(":")
    number = int(port)
    if not 0 < number < 65536:
        raise ValueError(f"port out of range: {number}")
    return (host.strip("[]") or "127.0.0.1"), number
