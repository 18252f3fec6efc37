"""Typed answers of the NemoVideo API (contract section 2), lenient about extra keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


@dataclass(frozen=True, slots=True)
class Attribution:
    """The attribution headers sent on every call (contract section 1).

    Attributes:
        source: ``X-Skill-Source``, the skill profile name (e.g. ``video-leaderboard``).
        version: ``X-Skill-Version`` (e.g. ``1.0.0``).
        platform: ``X-Skill-Platform``: ``discord``, ``telegram`` or ``console``.
    """

    source: str
    version: str
    platform: str

    def headers(self) -> dict[str, str]:
        """The three headers as a dict."""
        return {
            "X-Skill-Source": self.source,
            "X-Skill-Version": self.version,
            "X-Skill-Platform": self.platform,
        }


class AnonymousToken(_Lenient):
    """Answer of ``POST /api/auth/anonymous-token`` (endpoint 1)."""

    token: str
    user_id: str | None = None
    expires_at: datetime | None = None
    credits: int | None = None


class SessionInfo(_Lenient):
    """Answer of ``POST /api/tasks/me/with-session/nemo_agent`` (endpoint 2)."""

    task_id: str
    session_id: str
    user_id: str | None = None


class UploadedFile(_Lenient):
    """One entry of an upload answer (endpoint 5). ``duration`` is in seconds."""

    filename: str
    file_type: str | None = None
    cdn_url: str | None = None
    duration: float | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    hash: str | None = None


class Credits(_Lenient):
    """Credit balance (endpoint 6). Accepts both shapes of contract section 9.

    ``total`` is ``available + frozen`` when the backend sends ``total_granted`` /
    ``total_consumed`` instead of ``total``.
    """

    available: float = 0
    frozen: float = 0
    total: float | None = None
    total_granted: float | None = None
    total_consumed: float | None = None

    @property
    def total_or_sum(self) -> float:
        """``total`` when given, else ``available + frozen``."""
        return self.total if self.total is not None else self.available + self.frozen


class SessionState(_Lenient):
    """Answer of the state endpoint (endpoint 7); ``state`` keeps the raw dict."""

    session_id: str | None = None
    task_id: str | None = None
    state: dict[str, Any] = {}

    @property
    def draft(self) -> dict[str, Any]:
        """The draft (contract section 4), ``{}`` when absent."""
        draft = self.state.get("draft")
        return draft if isinstance(draft, dict) else {}

    @property
    def video_infos(self) -> list[dict[str, Any]]:
        """Uploaded and generated assets, ``[]`` when absent."""
        infos = self.state.get("video_infos")
        return [i for i in infos if isinstance(i, dict)] if isinstance(infos, list) else []


class RenderState(StrEnum):
    """A render's state, normalised once by :func:`parse_render_status` (contract section 5).

    The backend says ``pending`` -> ``processing`` -> ``completed`` | ``failed``; a cancelled
    render shows up as ``cancelled``, ``canceled`` or ``failed`` with error ``cancelled``, and
    all of those become :attr:`CANCELLED`. Anything unreadable is :attr:`UNKNOWN` (polling
    goes on). Members are strings, so ``state == "completed"`` keeps working.
    """

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"

    @classmethod
    def of(cls, raw: object) -> RenderState:
        """The state a raw status word names; :attr:`UNKNOWN` when it names none.

        Besides the member values this reads the spellings other render backends use
        (``canceled``, ``queued``, ``running``, ``succeeded``, ``error``...), case-insensitively.

        Args:
            raw: The backend's ``status`` value (any type).

        Returns:
            The state.
        """
        if isinstance(raw, RenderState):
            return raw
        if not isinstance(raw, str):
            return cls.UNKNOWN
        word = raw.strip().lower().replace("-", "_").replace(" ", "_")
        try:
            return cls(word)
        except ValueError:
            return _STATE_ALIASES.get(word, cls.UNKNOWN)


_STATE_ALIASES: dict[str, RenderState] = {
    "canceled": RenderState.CANCELLED,
    "queued": RenderState.PENDING,
    "waiting": RenderState.PENDING,
    "submitted": RenderState.PENDING,
    "running": RenderState.PROCESSING,
    "rendering": RenderState.PROCESSING,
    "in_progress": RenderState.PROCESSING,
    "succeeded": RenderState.COMPLETED,
    "success": RenderState.COMPLETED,
    "done": RenderState.COMPLETED,
    "finished": RenderState.COMPLETED,
    "error": RenderState.FAILED,
    "errored": RenderState.FAILED,
}

TERMINAL_STATES = frozenset({RenderState.COMPLETED, RenderState.FAILED, RenderState.CANCELLED})
"""States after which a render never changes again."""


@dataclass(frozen=True, slots=True)
class RenderStatus:
    """A render's status read from any of the three shapes of contract section 5.

    Attributes:
        render_id: The render id (``id`` or ``taskId``; the polled id when the answer has
            none), or ``None`` when unknown.
        status: The normalised :class:`RenderState`. A plain string given to the
            constructor is converted with :meth:`RenderState.of`.
        progress: 0-100 (percent).
        output_url: ``outputUrl`` / ``output.url``, or ``None``.
        error: The failure text for failed renders.
        duration_s: Output duration in seconds when given (shape C).
        size: Output size in bytes when given (shape C).
    """

    render_id: str | None
    status: RenderState
    progress: float = 0.0
    output_url: str | None = None
    error: str | None = None
    duration_s: float | None = None
    size: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.status, RenderState):
            object.__setattr__(self, "status", RenderState.of(self.status))

    @property
    def done(self) -> bool:
        """True for terminal states (completed, failed, cancelled)."""
        return self.status in TERMINAL_STATES

    @property
    def cancelled(self) -> bool:
        """True when the render was cancelled."""
        return self.status is RenderState.CANCELLED


def parse_render_status(body: Any, *, render_id: str | None = None) -> RenderStatus:
    """Read shape A, B or C (contract sections 5 and 9) into a :class:`RenderStatus`.

    The one place where a render's state is normalised: ``canceled`` and ``failed`` with
    error ``cancelled`` become :attr:`RenderState.CANCELLED`; an unreadable body or status
    gives :attr:`RenderState.UNKNOWN`.

    Args:
        body: The decoded JSON answer.
        render_id: The polled id, used when the answer carries none (shape B).

    Returns:
        The normalised status.
    """
    if not isinstance(body, dict):
        return RenderStatus(render_id, RenderState.UNKNOWN)
    obj: dict[str, Any] = body
    if isinstance(body.get("data"), dict) and "status" not in body:
        obj = body["data"]
    raw_output = obj.get("output")
    output: dict[str, Any] = raw_output if isinstance(raw_output, dict) else {}
    url = obj.get("outputUrl") or obj.get("output_url") or output.get("url")
    progress = obj.get("progress", 0)
    try:
        progress_f = float(progress)
    except (TypeError, ValueError):
        progress_f = 0.0
    if progress_f != progress_f:  # NaN
        progress_f = 0.0
    error = obj.get("error") or body.get("error")
    error_text = str(error) if error else None
    state = RenderState.of(obj.get("status"))
    if state is RenderState.FAILED and (error_text or "").strip().lower() in {"cancelled", "canceled"}:
        state = RenderState.CANCELLED
    size = output.get("size") if isinstance(output.get("size"), int) else None
    duration = output.get("duration") if isinstance(output.get("duration"), (int, float)) else None
    rid = obj.get("id") or obj.get("taskId")
    return RenderStatus(
        render_id=rid if isinstance(rid, str) and rid else render_id,
        status=state,
        progress=max(0.0, min(100.0, progress_f)),
        output_url=url if isinstance(url, str) and url else None,
        error=error_text,
        duration_s=float(duration) if duration is not None else None,
        size=size,
    )


@dataclass(frozen=True, slots=True)
class RenderOutcome:
    """A finished export: where its MP4 is.

    Attributes:
        render_id: The id of the render that completed.
        download_url: Where the MP4 is: ``output.url`` / ``outputUrl``, or the fallback
            ``/api/render/proxy/<id>/download`` (endpoint 11; needs the bearer token).
        needs_auth: True when ``download_url`` is the fallback endpoint.
        size: Size in bytes when the backend said so.
        duration_s: Duration in seconds when the backend said so.
        attempts: The submission this render was (1 for the first; the caller, which
            decides resubmissions, says otherwise).
    """

    render_id: str
    download_url: str
    needs_auth: bool
    size: int | None = None
    duration_s: float | None = None
    attempts: int = 1

    @classmethod
    def from_status(
        cls, status: RenderStatus, fallback_url: str, *, render_id: str | None = None, attempts: int = 1
    ) -> RenderOutcome:
        """The outcome of a completed render (contract section 5 step 5).

        Args:
            status: The completed status (from :func:`parse_render_status`, or built by
                the caller from what it stored).
            fallback_url: ``NemoClient.fallback_download_url(render_id)``; used when the
                status has no output URL, and recognised as needing the bearer token when
                the status's output URL is that same endpoint.
            render_id: The id the render was submitted under; ``status.render_id`` when ``None``.
            attempts: The submission number to record.

        Returns:
            The outcome.

        Raises:
            ValueError: ``status`` is not completed, or no render id is known.
        """
        if status.status is not RenderState.COMPLETED:
            raise ValueError(f"render is {status.status}, not completed")
        rid = render_id or status.render_id
        if not rid:
            raise ValueError("no render id for the outcome")
        url = status.output_url
        return cls(
            render_id=rid,
            download_url=url or fallback_url,
            needs_auth=url is None or url == fallback_url,
            size=status.size,
            duration_s=status.duration_s,
            attempts=attempts,
        )
