"""The records the emulator keeps: users, tokens, sessions, uploads and renders.

They live in :class:`emulator.state.EmulatorState` (and are importable from there).
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["RenderRecord", "Session", "Token", "UploadRecord", "User", "initial_session_state"]


def initial_session_state() -> dict[str, Any]:
    """The state of a new session (contract section 2.2 / 4)."""
    return {
        "draft": {"t": [], "d": 0, "m": {"width": 1920, "height": 1080, "fps": 30}},
        "video_infos": [],
        "canvas_config": {"width": 1920, "height": 1080, "aspect_ratio": "16:9"},
        "generated_media": [],
        "video_analyses": [],
    }


@dataclass
class User:
    """An anonymous user and their credits.

    Attributes:
        user_id: ``anon_<hex>``.
        client_id: The ``X-Client-Id`` that created it.
        available: Credits that can be spent.
        frozen: Credits held by running agent runs.
        consumed: Credits spent so far.
        granted: Credits granted so far (initial grant plus :meth:`EmulatorState.set_credits`).
    """

    user_id: str
    client_id: str
    available: int
    frozen: int = 0
    consumed: int = 0
    granted: int = 0


@dataclass
class Token:
    """A bearer token (``nmv_usr_<hex>``).

    Attributes:
        value: The token string.
        user_id: Its user.
        expires_at: Expiry, Unix seconds.
        calls: Authenticated calls made with it so far.
    """

    value: str
    user_id: str
    expires_at: float
    calls: int = 0


@dataclass
class Session:
    """An agent session (a project).

    Attributes:
        session_id: The session id.
        task_id: The task id created with it.
        user_id: Its owner.
        task_name: ``task_name`` of the creation request.
        language: ``language`` of the creation request (``en``, ``zh-CN``...).
        state: The session state (``draft``, ``video_infos``, ``canvas_config``,
            ``generated_media``, ``video_analyses``).
        attribution: Last seen ``X-Skill-*`` headers, keys ``source``, ``version``,
            ``platform`` (``None`` when the header was missing).
        lock: Serialises agent runs of this session.
    """

    session_id: str
    task_id: str
    user_id: str
    task_name: str = "project"
    language: str = "en"
    state: dict[str, Any] = field(default_factory=initial_session_state)
    attribution: dict[str, str | None] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)


@dataclass
class UploadRecord:
    """One accepted uploaded file.

    Attributes:
        session_id: The session it went to.
        filename: Sanitised file name.
        file_type: ``video``, ``image`` or ``audio``.
        hash: SHA-256 of the bytes (hex).
        size: Size in bytes.
        path: Local file.
        cdn_url: Where the emulator serves it.
        source: ``multipart`` or ``url``.
        request: Number of the upload call it came in (files sent together share it).
        url: The fetched URL for URL uploads, else ``None``.
    """

    session_id: str
    filename: str
    file_type: str
    hash: str
    size: int
    path: Path
    cdn_url: str
    source: str
    request: int = 0
    url: str | None = None


@dataclass
class RenderRecord:
    """One render (contract section 5).

    Attributes:
        id: The client's render id.
        session_id: Its session.
        user_id: Who submitted it.
        draft: The submitted draft.
        attempt: The session's render attempt number (1 for the first).
        status: ``pending``, ``processing``, ``completed`` or ``failed`` (cancelled renders
            are ``failed`` with error ``"cancelled"``).
        progress: 0-100.
        error: Failure reason, for failed renders.
        output_path: The MP4, once completed.
        duration_s: Its duration in seconds, once completed.
        size: Its size in bytes, once completed.
        created_at / completed_at: Unix seconds.
    """

    id: str
    session_id: str
    user_id: str
    draft: dict[str, Any]
    attempt: int
    status: str = "pending"
    progress: float = 0.0
    error: str | None = None
    output_path: Path | None = None
    duration_s: float | None = None
    size: int | None = None
    created_at: float = field(default_factory=time.time)
    completed_at: float | None = None
    cancel_event: threading.Event = field(default_factory=threading.Event, repr=False)
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def active(self) -> bool:
        """Still pending or processing."""
        return self.status in ("pending", "processing")
