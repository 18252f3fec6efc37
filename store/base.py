"""The ``Store`` contract and its records.

The engine talks to this protocol only; backends (SQLite now, PostgreSQL later) implement
it. Records are small frozen dataclasses; times are timezone-aware UTC datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable


def utcnow() -> datetime:
    """The current time, UTC, timezone-aware."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Identity:
    """The NemoVideo anonymous identity (one per bot installation).

    Attributes:
        client_id: The ``X-Client-Id`` UUID, created once and kept.
        token: The current bearer token, or ``None``.
        user_id: The ``anon_...`` user id, or ``None``.
        expires_at: Token expiry, or ``None``.
    """

    client_id: str
    token: str | None = None
    user_id: str | None = None
    expires_at: datetime | None = None


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
    """

    key: str
    skill: str
    language: str = "en"
    session_id: str | None = None
    task_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)

    def with_changes(self, **changes: Any) -> Conversation:
        """A copy with ``changes`` applied and ``updated_at`` set to now."""
        return replace(self, updated_at=utcnow(), **changes)


class JobStatus(StrEnum):
    """Where a render job stands (stored as its string value).

    ``submitting``: written before the render is submitted, its id not yet confirmed.
    ``pending``/``processing``/``completed``/``failed``/``cancelled``: the backend's render
    states (contract section 5). ``delivered``: the file or link reached the chat.
    """

    SUBMITTING = "submitting"
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    DELIVERED = "delivered"

    @classmethod
    def of(cls, value: str) -> JobStatus:
        """The status named ``value``; an unknown name (a newer schema) reads as ``failed``."""
        try:
            return cls(value)
        except ValueError:
            return cls.FAILED


ACTIVE_JOB_STATUSES = frozenset({JobStatus.SUBMITTING, JobStatus.PENDING, JobStatus.PROCESSING})
"""A render of the job is (or may be) running on the backend."""

RESUMABLE_JOB_STATUSES = ACTIVE_JOB_STATUSES | {JobStatus.COMPLETED}
"""The job still owes the user a video."""


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


@runtime_checkable
class Store(Protocol):
    """Persistence used by the engine. Every method is a coroutine; writes are durable on return."""

    async def open(self) -> None:
        """Connect and apply pending migrations."""

    async def close(self) -> None:
        """Close. Idempotent."""

    async def schema_version(self) -> int:
        """The applied schema version."""

    async def load_identity(self) -> Identity | None:
        """The identity, or ``None`` before the first save."""

    async def save_identity(self, identity: Identity) -> None:
        """Replace the identity."""

    async def get_conversation(self, key: str) -> Conversation | None:
        """The conversation with ``key``, or ``None``."""

    async def save_conversation(self, conversation: Conversation) -> None:
        """Insert or replace a conversation."""

    async def list_conversations(self, *, prefix: str = "") -> list[Conversation]:
        """Conversations whose key starts with ``prefix`` (e.g. ``telegram:``), oldest first."""

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
