"""Answer shapes: the API envelope ``{"code", "message", "data"}``, the render envelope
``{"success", "error"}``, and :class:`Reply` to answer at once from inside a helper.

The conventions per family are listed in :mod:`emulator.app`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

__all__ = ["Reply", "api_error", "envelope", "iso", "ok", "render_error"]


class Reply(Exception):
    """Raised by helpers to answer the request with ``response`` at once.

    The error middleware (:mod:`emulator.middleware`) returns :attr:`response`.
    """

    def __init__(self, response: web.StreamResponse) -> None:
        super().__init__(response.status)
        self.response = response


def envelope(code: int, message: str, *, status: int = 200, **extra: Any) -> web.Response:
    """A JSON ``{"code": code, "message": message, **extra}`` answer with HTTP ``status``."""
    return web.json_response({"code": code, "message": message, **extra}, status=status)


def ok(data: Any) -> web.Response:
    """A success envelope ``{"code": 0, "message": "ok", "data": data}``."""
    return web.json_response({"code": 0, "message": "ok", "data": data})


def api_error(code: int, message: str, *, status: int = 200) -> Reply:
    """A business (HTTP 200) or protocol (``status``) error envelope, to ``raise``."""
    return Reply(envelope(code, message, status=status))


def render_error(status: int, message: str) -> Reply:
    """A render endpoint error ``{"success": false, "error": message}`` (contract section 5), to ``raise``."""
    return Reply(web.json_response({"success": False, "error": message}, status=status))


def iso(ts: float | None) -> str | None:
    """Unix seconds as ISO 8601 UTC with a ``Z`` (``2025-01-31T12:00:00Z``), ``None`` kept."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
