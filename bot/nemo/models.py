"""Typed answers of the NemoVideo API (contract section 2), lenient about extra keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
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


@dataclass(frozen=True, slots=True)
class RenderStatus:
    """A render's status read from any of the three shapes of contract section 5.

    Attributes:
        render_id: The render id (``id`` or ``taskId``), or ``None`` when absent.
        status: ``pending``, ``processing``, ``completed``, ``failed`` (or what the backend said).
        progress: 0-100.
        output_url: ``outputUrl`` / ``output.url``, or ``None``.
        error: The failure text for failed renders.
        duration_s: Output duration in seconds when given (shape C).
        size: Output size in bytes when given (shape C).
    """

    render_id: str | None
    status: str
    progress: float = 0.0
    output_url: str | None = None
    error: str | None = None
    duration_s: float | None = None
    size: int | None = None

    @property
    def done(self) -> bool:
        """True for terminal states."""
        return self.status in {"completed", "failed", "cancelled", "canceled"}

    @property
    def cancelled(self) -> bool:
        """True when the render was cancelled (a status of its own, or ``failed`` with error ``cancelled``)."""
        return self.status in {"cancelled", "canceled"} or (
            self.status == "failed" and (self.error or "").strip().lower() in {"cancelled", "canceled"}
        )


def parse_render_status(body: Any) -> RenderStatus:
    """Read shape A, B or C (contract section 5) into a :class:`RenderStatus`.

    Args:
        body: The decoded JSON answer.

    Returns:
        The normalised status; an unreadable body gives ``status="unknown"``.
    """
    if not isinstance(body, dict):
        return RenderStatus(None, "unknown")
    obj: dict[str, Any] = body
    if isinstance(body.get("data"), dict) and "status" not in body:
        obj = body["data"]
    output = obj.get("output") if isinstance(obj.get("output"), dict) else {}
    url = obj.get("outputUrl") or obj.get("output_url") or output.get("url")
    progress = obj.get("progress", 0)
    try:
        progress_f = float(progress)
    except (TypeError, ValueError):
        progress_f = 0.0
    error = obj.get("error") or body.get("error")
    size = output.get("size") if isinstance(output.get("size"), int) else None
    duration = output.get("duration") if isinstance(output.get("duration"), (int, float)) else None
    return RenderStatus(
        render_id=obj.get("id") or obj.get("taskId"),
        status=str(obj.get("status", "unknown")).lower(),
        progress=max(0.0, min(100.0, progress_f)),
        output_url=url if isinstance(url, str) and url else None,
        error=str(error) if error else None,
        duration_s=float(duration) if duration is not None else None,
        size=size,
    )


@dataclass(frozen=True, slots=True)
class RenderOutcome:
    """A finished export.

    Attributes:
        render_id: The id of the render that completed.
        download_url: Where the MP4 is: ``output.url`` / ``outputUrl``, or the fallback
            ``/api/render/proxy/<id>/download`` (needs the bearer token).
        needs_auth: True when ``download_url`` is the fallback endpoint.
        size: Size in bytes when the backend said so.
        duration_s: Duration in seconds when the backend said so.
        attempts: Submissions made (2 when the first failed).
    """

    render_id: str
    download_url: str
    needs_auth: bool
    size: int | None = None
    duration_s: float | None = None
    attempts: int = 1
