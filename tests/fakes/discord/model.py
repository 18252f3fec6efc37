"""What the fake Discord records and keeps: REST calls, errors, attachments, interactions."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.fakes.base import UploadedFile


@dataclass
class Call:
    """One REST request the bot made.

    Attributes:
        method: HTTP method.
        path: Path without the ``/api/v10`` prefix (``/channels/1/messages``).
        json: JSON body, or the ``payload_json`` part of a multipart body; ``None`` if none.
        files: Files of a multipart body (those over the limit are not kept).
        query: Query parameters.
        status: HTTP status the fake answered.
        response: JSON body the fake answered (``None`` for 204).
        authorized: Whether ``Authorization: Bot ...`` was sent (the token is never kept).
    """

    method: str
    path: str
    json: Any = None
    files: list[UploadedFile] = field(default_factory=list)
    query: dict[str, str] = field(default_factory=dict)
    status: int = 0
    response: Any = None
    authorized: bool = False

    @property
    def ok(self) -> bool:
        """Whether the fake answered 2xx."""
        return 200 <= self.status < 300


class ApiError(Exception):
    """A Discord error answer (``{"message", "code"[, "errors"]}``); raised inside handlers."""

    def __init__(self, status: int, message: str, code: int = 0, errors: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.errors = errors

    def body(self) -> dict[str, Any]:
        """The JSON body Discord answers with."""
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body


def form_error(field_name: str, code: str, message: str) -> ApiError:
    """Discord's 400 "Invalid Form Body" (50035) for one field."""
    return ApiError(400, "Invalid Form Body", 50035, {field_name: {"_errors": [{"code": code, "message": message}]}})


def unknown(what: str, code: int) -> ApiError:
    """Discord's 404 "Unknown <what>" with its JSON error code."""
    return ApiError(404, f"Unknown {what}", code)


def empty_message() -> ApiError:
    """Discord's 400 for a message with nothing in it (50006)."""
    return ApiError(400, "Cannot send an empty message", 50006)


def to_int(value: Any) -> int:
    """A snowflake from a path or body value, or Discord's 400 if it is not one."""
    try:
        return int(value)
    except (TypeError, ValueError):
        raise form_error("_", "NUMBER_TYPE_COERCE", f'Value "{value}" is not snowflake.') from None


@dataclass
class StoredAttachment:
    """An attachment the fake CDN serves (a user's, or one the bot uploaded)."""

    id: int
    filename: str
    content_type: str | None
    path: Path
    size: int


@dataclass
class Interaction:
    """An interaction the fake dispatched, and how the bot has answered it so far."""

    id: int
    token: str
    type: int
    channel_id: int
    guild_id: int | None
    user: dict[str, Any]
    payload: dict[str, Any]
    attachment_size_limit: int
    name: str | None = None
    source_message_id: int | None = None
    response_type: int | None = None
    original_message_id: int | None = None
    message_ids: set[int] = field(default_factory=set)
    followups_sent: int = 0
    token_expired: bool = False
    """Webhook routes answer 401 (50027), as 15 minutes after the interaction."""
    callback_expired: bool = False
    """The callback answers 404 "Unknown interaction" (10062), as after 3 seconds."""


class Session:
    """A gateway session: what it identified with, and every event sent in it (for RESUME).

    ``shard`` is IDENTIFY's ``[shard_id, num_shards]``, ``None`` for an unsharded session.
    """

    def __init__(self, session_id: str, intents: int, shard: tuple[int, int] | None = None) -> None:
        self.id = session_id
        self.intents = intents
        self.shard = shard
        self.seq = 0
        self.log: list[dict[str, Any]] = []
        self.conn: Conn | None = None
        self.lock = asyncio.Lock()


class Conn:
    """One gateway websocket connection (plain JSON text frames)."""

    def __init__(self, ws: web.WebSocketResponse, query: dict[str, str]) -> None:
        self.ws = ws
        self.query = query
        self.session: Session | None = None
        self.ready = False
        self.server_close: int | None = None
        self._lock = asyncio.Lock()

    async def close(self, code: int, message: bytes = b"") -> None:
        """Close with ``code`` (remembered: aiohttp reports 1000 for server closes during a read)."""
        if self.server_close is None and not self.ws.closed:
            self.server_close = code
        await self.ws.close(code=code, message=message)

    async def send(self, payload: dict[str, Any]) -> bool:
        """Send one payload; ``False`` if the socket is gone."""
        text = json.dumps(payload, separators=(",", ":"))
        async with self._lock:
            if self.ws.closed:
                return False
            try:
                await self.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return False
        return True
