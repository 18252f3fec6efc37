"""The ``Store`` contract and its records.

The engine talks to this protocol only; backends (SQLite now, PostgreSQL later) implement
it. Records are small frozen dataclasses; times are timezone-aware UTC datetimes.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal, Protocol, runtime_checkable

IdentityKind = Literal["anonymous", "personal"]
"""``anonymous``: a NemoVideo anonymous token; ``personal``: a person's own account token."""

INSTALL_IDENTITY = "install"
"""The key of the install-wide identity (the one used before identities were per person)."""


def utcnow() -> datetime:
    """The current time, UTC, timezone-aware."""
    return datetime.now(UTC)


class EncryptionRequired(ValueError):
    """A personal token was to be saved but the store has no encryption key."""

    def __init__(self) -> None:
        super().__init__(
            "personal tokens are stored encrypted: set NEMOBOT_SECRET_KEY to a Fernet key"
            " (make one with `python -c 'from store.crypto import TokenCipher; print(TokenCipher.generate_key())'`)"
        )


class ConnectCodeTaken(ValueError):
    """A live connect code with the same text belongs to another person (draw a new code)."""


@dataclass(frozen=True, slots=True)
class Identity:
    """A NemoVideo identity: the install-wide one (key ``install``) or a person's (key = person id).

    Attributes:
        client_id: The ``X-Client-Id`` UUID, created once and kept.
        token: The current bearer token, or ``None``; stored encrypted when the store has a
            key (always, for ``personal``). Left out of ``repr``.
        user_id: The NemoVideo user id (``anon_...`` for anonymous ones), or ``None``.
        expires_at: Token expiry, or ``None``.
        kind: ``anonymous`` or ``personal``.
    """

    client_id: str
    token: str | None = field(default=None, repr=False)
    user_id: str | None = None
    expires_at: datetime | None = None
    kind: IdentityKind = "anonymous"

    def __post_init__(self) -> None:
        if self.kind not in ("anonymous", "personal"):
            raise ValueError(f"unknown identity kind {self.kind!r}")


@dataclass(frozen=True, slots=True)
class Person:
    """One human behind one or more platform accounts (``telegram:123``, ``discord:456``).

    Attributes:
        id: ``p_`` followed by 16 hex digits.
        created_at: Creation time.
    """

    id: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Conversation:
    """One chat thread mapped to one NemoVideo session.

    Attributes:
        key: The conversation's stable string form, e.g. ``telegram:12345``.
        skill: The skill profile name in use.
        language: The session language (``en``, ``zh-CN``...).
        session_id: The NemoVideo session, or ``None`` before the first need.
        task_id: The NemoVideo task of that session, or ``None``.
        data: Free-form engine data (JSON-serialisable), e.g. the last known draft.
        created_at: Creation time.
        updated_at: Last change.
        owner: The person id who owns the project, or ``None`` (made before owners existed).
    """

    key: str
    skill: str
    language: str = "en"
    session_id: str | None = None
    task_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    owner: str | None = None

    def with_changes(self, **changes: Any) -> Conversation:
        """A copy with ``changes`` applied and ``updated_at`` set to now."""
        return replace(self, updated_at=utcnow(), **changes)


class JobStatus(StrEnum):
    """Where a render job stands (stored as its string value).

    ``submitting``: written before the render is submitted, its id not yet confirmed.
    ``pending``/``processing``/``completed``/``failed``/``cancelled``: the backend's render
    states (contract section 5). Delivery, once the render is ``completed`` (downloaded if
    it fits): ``sending`` is written just before the file or link is handed to the chat
    platform, ``delivered`` once the platform accepted it. ``uncertain``: the platform call
    failed or the process stopped in the middle, so the video may or may not have arrived;
    it is never sent again blindly: the user was told and given the link instead.
    """

    SUBMITTING = "submitting"
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SENDING = "sending"
    DELIVERED = "delivered"
    UNCERTAIN = "uncertain"

    @classmethod
    def of(cls, value: str) -> JobStatus:
        """The status named ``value``; an unknown name (a newer schema) reads as ``failed``."""
        try:
            return cls(value)
        except ValueError:
            return cls.FAILED


ACTIVE_JOB_STATUSES = frozenset({JobStatus.SUBMITTING, JobStatus.PENDING, JobStatus.PROCESSING})
"""A render of the job is (or may be) running on the backend."""

RESUMABLE_JOB_STATUSES = ACTIVE_JOB_STATUSES | {JobStatus.COMPLETED, JobStatus.SENDING}
"""The job still owes the user a video (or, when ``sending``, word of what became of it)."""


@dataclass(frozen=True, slots=True)
class RenderJob:
    """One export of a conversation.

    Attributes:
        render_id: ``render_<unique>``.
        conversation_key: The conversation it belongs to.
        session_id: The NemoVideo session rendered.
        status: Where the job stands.
        progress: 0-100.
        output_url: Where the MP4 is once completed.
        delivered: True once the file or link reached the chat.
        delivered_as: ``file`` or ``link`` once delivered.
        attempt: 1 for the first submission, 2 for the retry.
        status_message: The adapter's reference of the progress message (opaque string).
        error: The failure text, if any.
        created_at: Creation time.
        updated_at: Last change.
    """

    render_id: str
    conversation_key: str
    session_id: str
    status: JobStatus = JobStatus.SUBMITTING
    progress: float = 0.0
    output_url: str | None = None
    delivered: bool = False
    delivered_as: str | None = None
    attempt: int = 1
    status_message: str | None = None
    error: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)

    def with_changes(self, **changes: Any) -> RenderJob:
        """A copy with ``changes`` applied and ``updated_at`` set to now."""
        return replace(self, updated_at=utcnow(), **changes)


TABLES: dict[str, tuple[str, ...]] = {
    "identities": ("key", "client_id", "token", "user_id", "expires_at", "kind"),
    "people": ("id", "created_at"),
    "accounts": ("account", "person_id", "linked_at"),
    "connect_codes": ("code_hash", "person_id", "expires_at"),
    "usage": ("subject", "kind", "day", "count"),
    "flags": ("subject", "name", "value"),
    "conversations": (
        "key",
        "skill",
        "language",
        "session_id",
        "task_id",
        "data",
        "created_at",
        "updated_at",
        "owner",
    ),
    "render_jobs": (
        "render_id",
        "conversation_key",
        "session_id",
        "status",
        "progress",
        "output_url",
        "delivered",
        "delivered_as",
        "attempt",
        "status_message",
        "error",
        "created_at",
        "updated_at",
    ),
    "processed_events": ("key", "seen_at"),
}
"""Every table a store holds and its columns, in the order :meth:`Store.dump` yields and
:meth:`Store.load` writes them (people before the accounts and codes that refer to them)."""

Row = tuple[Any, ...]
"""One row of a dump: the values of its table's :data:`TABLES` columns, in a form every backend
reads the same: text as ``str`` (a token in its stored form: ``fernet:...`` stays encrypted),
times as timezone-aware ``datetime``, ``usage.day`` as ISO date text, ``conversations.data``
as a ``dict``, ``render_jobs.delivered`` as ``bool``, ``progress`` as ``float``, counts as ``int``."""

Dump = AsyncIterable[tuple[str, list[Row]]]
"""What :meth:`Store.dump` yields: ``(table, rows)`` batches, table after table in :data:`TABLES` order."""


def row_converter(
    columns: Sequence[str], by_column: Mapping[str, Callable[[Any], Any]]
) -> Callable[[Sequence[Any]], Row]:
    """A function from a row of ``columns`` to a tuple: each value that is not ``None`` goes
    through ``by_column[name]`` when its column has one, the others are kept (how a backend
    turns its rows into :data:`Row` and back)."""
    steps = [(i, by_column[name]) for i, name in enumerate(columns) if name in by_column]

    def convert(row: Sequence[Any]) -> Row:
        values = list(row)
        for i, step in steps:
            if values[i] is not None:
                values[i] = step(values[i])
        return tuple(values)

    return convert


class StoreNotEmpty(RuntimeError):
    """:meth:`Store.load` refused a target that already holds rows.

    Attributes:
        tables: The tables that hold rows.
    """

    def __init__(self, tables: Collection[str]) -> None:
        self.tables = tuple(tables)
        super().__init__(
            f"the target database already holds data ({', '.join(self.tables)}); copy into an empty database"
        )


@runtime_checkable
class Store(Protocol):
    """Persistence used by the engine. Every method is a coroutine; writes are durable on return."""

    async def open(self) -> None:
        """Connect and apply pending migrations."""

    async def close(self) -> None:
        """Close. Idempotent."""

    async def schema_version(self) -> int:
        """The applied schema version."""

    async def load_identity(self, key: str = INSTALL_IDENTITY) -> Identity | None:
        """The identity saved under ``key``, or ``None``.

        Args:
            key: ``install`` for the install-wide identity, or a person id.

        Returns:
            The identity. A token encrypted with a key no longer configured reads as ``None``
            (logged at WARNING, without the token).
        """

    async def save_identity(self, identity: Identity, key: str = INSTALL_IDENTITY) -> None:
        """Insert or replace the identity under ``key``.

        Raises:
            EncryptionRequired: ``identity.kind`` is ``personal`` and the store has no key.
        """

    async def create_identity(self, identity: Identity, key: str = INSTALL_IDENTITY) -> Identity:
        """Keep ``identity`` under ``key`` unless one is kept there already, atomically (two
        instances creating the first identity at once end up with the same one).

        Returns:
            The identity kept under ``key``: ``identity``, or the one that was there first.

        Raises:
            EncryptionRequired: ``identity.kind`` is ``personal`` and the store has no key.
        """

    async def delete_identity(self, key: str) -> None:
        """Forget the identity under ``key`` (nothing happens if there is none)."""

    async def get_conversation(self, key: str) -> Conversation | None:
        """The conversation with ``key``, or ``None``."""

    async def save_conversation(self, conversation: Conversation) -> None:
        """Insert or replace a conversation."""

    async def list_conversations(self, *, prefix: str = "", owner: str | None = None) -> list[Conversation]:
        """Conversations whose key starts with ``prefix`` (e.g. ``telegram:``), oldest first.

        Args:
            prefix: Key prefix; ``""`` for all.
            owner: Only the conversations of this person id, if given.
        """

    async def claim_event(self, key: str) -> bool:
        """Record an incoming event id; True the first time, False for a redelivery."""

    async def prune_events(self, older_than: datetime) -> int:
        """Forget event ids recorded before ``older_than``; returns how many."""

    async def get_render(self, render_id: str) -> RenderJob | None:
        """The render job with ``render_id``, or ``None``."""

    async def save_render(self, job: RenderJob) -> None:
        """Insert or replace a render job."""

    async def list_renders(self, *, conversation_key: str | None = None, undelivered: bool = False) -> list[RenderJob]:
        """Render jobs, oldest first, optionally of one conversation / not yet delivered."""

    async def count_renders(self, statuses: Collection[str]) -> int:
        """How many render jobs are in one of ``statuses`` (e.g. ``ACTIVE_JOB_STATUSES``)."""

    def unfinished_renders(self, *, prefix: str = "", batch: int = 500) -> AsyncIterator[list[RenderJob]]:
        """Undelivered jobs in a :data:`RESUMABLE_JOB_STATUSES` status whose conversation key
        starts with ``prefix``, ``batch`` at a time, in render id order (what a restart picks
        up: a page is read only when the previous one has been handed on)."""

    async def get_conversations(self, keys: Collection[str]) -> dict[str, Conversation]:
        """The conversations with these keys (missing ones are left out), in one read."""

    # people and their platform accounts -----------------------------------------------

    async def person_for(self, account: str) -> str | None:
        """The person id linked to ``account`` (``telegram:123``, ``discord:456``), or ``None``."""

    async def ensure_person(self, account: str) -> str:
        """The person id of ``account``, creating the person (``p_`` + 16 hex) on first sight.

        Concurrent calls for one account return the same id.
        """

    async def get_person(self, person_id: str) -> Person | None:
        """The person with ``person_id``, or ``None``."""

    async def link_account(self, account: str, person_id: str) -> None:
        """Link ``account`` to ``person_id``, moving it from its former person if any (``/connect``).

        The former person is kept, with its identity, usage and flags, even with no account left.

        Raises:
            ValueError: No person ``person_id``.
        """

    async def accounts_of(self, person_id: str) -> list[str]:
        """The accounts linked to ``person_id``, in the order they were linked."""

    async def count_people(self) -> int:
        """How many people exist."""

    # one-time connect codes --------------------------------------------------------------

    async def save_connect_code(self, code: str, person_id: str, expires_at: datetime) -> None:
        """Remember ``code`` (only its SHA-256) for ``person_id`` until ``expires_at``.

        The caller normalises the code (case, spaces) the same way before this and
        :meth:`take_connect_code`. Saving it again for the same person moves its expiry.

        Args:
            code: The code shown to the user.
            person_id: Who the code connects to.
            expires_at: Timezone-aware expiry.

        Raises:
            ConnectCodeTaken: A live code with the same text belongs to another person.
            ValueError: ``expires_at`` is naive.
        """

    async def take_connect_code(self, code: str, now: datetime) -> str | None:
        """Use ``code`` once: the person id it was saved for, deleting it, atomically.

        Args:
            code: The code typed by the user.
            now: Timezone-aware current time; codes with ``expires_at <= now`` are expired
                (all expired codes are deleted on the way).

        Returns:
            The person id, or ``None`` if the code is unknown, already used or expired.
        """

    # usage counters (quotas) -------------------------------------------------------------

    async def add_usage(self, subject: str, kind: str, day: str, n: int = 1) -> int:
        """Add ``n`` to the counter of ``subject``/``kind``/``day``, atomically.

        Args:
            subject: Whom it counts, e.g. a person id.
            kind: What it counts, e.g. ``runs`` or ``exports``.
            day: ISO date, e.g. ``2026-12-01``.
            n: The amount (may be negative to give back).

        Returns:
            The new total for that subject, kind and day.
        """

    async def get_usage(self, subject: str, kind: str, day: str) -> int:
        """The counter of ``subject``/``kind``/``day`` (ISO date); 0 if never counted."""

    async def usage_totals(self, kind: str, day: str) -> tuple[int, int]:
        """For ``kind`` on ``day`` (ISO date): ``(sum of the counters, number of distinct subjects)``."""

    async def prune_usage(self, before_day: str) -> int:
        """Forget counters of days before ``before_day`` (ISO date); returns how many rows."""

    # per-subject flags set by operators ----------------------------------------------------

    async def set_flag(self, subject: str, name: str, value: str | None) -> None:
        """Set flag ``name`` of ``subject`` (e.g. ``blocked``, ``quota_runs``); ``None`` deletes it."""

    async def get_flags(self, subject: str) -> dict[str, str]:
        """All flags of ``subject``, name to value; ``{}`` if none."""

    async def subjects_with_flag(self, name: str) -> dict[str, str]:
        """Every subject that has flag ``name``, subject to value (e.g. all ``blocked`` ones)."""

    # moving an install to another database ------------------------------------------------

    def dump(self, *, batch: int = 1000) -> AsyncGenerator[tuple[str, list[Row]], None]:
        """Everything the store holds, ``(table, rows)`` with at most ``batch`` rows each, table
        after table in :data:`TABLES` order, read from one consistent snapshot; tokens exactly
        as stored (encrypted ones are not decrypted). Conversations and render jobs come oldest
        first, so a :meth:`load` keeps the order ``list_conversations`` and ``list_renders`` give.
        Close it (``aclose``) if it is not read to its end: it holds the snapshot open."""

    async def load(self, dump: Dump) -> dict[str, int]:
        """Write everything of ``dump`` (another store's :meth:`dump`) into this store, in one
        transaction: all of it or, on an error, nothing. Tokens are written as they come.

        Returns:
            Rows written per table, every table of :data:`TABLES` (0 for an empty one).

        Raises:
            StoreNotEmpty: This store already holds rows (checked before ``dump`` is read).
            ValueError: A row this backend cannot store (the message names it, never a token).
        """
