"""Reading a request: the emulator's state, the caller (bearer token), the ``X-Skill-*``
attribution headers, the session it names, and its body."""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import PayloadAccessError, RequestPayloadError

from emulator.routes.envelopes import Reply, api_error
from emulator.state import EmulatorState, Session, User

__all__ = [
    "STATE_KEY",
    "app_state",
    "attribution",
    "authenticate",
    "base_url",
    "drain",
    "json_body",
    "note_attribution",
    "session_or_1002",
]

#: Where the app keeps its :class:`EmulatorState`.
STATE_KEY = web.AppKey("nemo_emulator_state", EmulatorState)


def app_state(request: web.Request) -> EmulatorState:
    """The emulator state of the app serving ``request``."""
    return request.app[STATE_KEY]


def base_url(request: web.Request) -> str:
    """Base for the links the emulator hands out: ``config.public_url``, else the request's scheme and host."""
    public = app_state(request).config.public_url
    if public:
        return public.rstrip("/")
    return f"{request.scheme}://{request.host}"


def _auth_failure(st: EmulatorState, reason: str) -> Reply:
    """The auth failure in the configured dialect (contract section 9)."""
    dialect = st.config.auth_failure
    if dialect == "http401":
        return Reply(web.Response(status=401, text="Unauthorized", headers={"WWW-Authenticate": "Bearer"}))
    if dialect == "1001":
        return api_error(1001, f"token expired or invalid: {reason}", status=401)
    if dialect == "1010":
        return api_error(1010, f"invalid token: {reason}")
    return api_error(1011, f"token expired: {reason}")


def authenticate(request: web.Request) -> User:
    """The user behind the bearer token; counts the call against ``token_max_calls``.

    Raises:
        Reply: the auth failure (``config.auth_failure`` dialect) for a missing, unknown or
            expired token, or one past its call budget.
    """
    st = app_state(request)
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise _auth_failure(st, "missing bearer token")
    tok = st.tokens.get(value.strip())
    if tok is None or tok.user_id not in st.users:
        raise _auth_failure(st, "unknown token")
    if tok.expires_at <= time.time():
        raise _auth_failure(st, "token expired")
    limit = st.config.token_max_calls
    if limit is not None and tok.calls >= limit:
        raise _auth_failure(st, "token expired")
    tok.calls += 1
    return st.users[tok.user_id]


def attribution(request: web.Request) -> dict[str, str | None]:
    """The ``X-Skill-Source`` / ``-Version`` / ``-Platform`` headers as ``source``, ``version``, ``platform``."""
    h = request.headers
    return {
        "source": h.get("X-Skill-Source"),
        "version": h.get("X-Skill-Version"),
        "platform": h.get("X-Skill-Platform"),
    }


def note_attribution(request: web.Request, session: Session) -> None:
    """Record the request's attribution headers as the session's last seen ones."""
    values = attribution(request)
    session.attribution.clear()
    session.attribution.update(values)
    app_state(request).attribution[session.session_id] = session.attribution


def session_or_1002(request: web.Request, user: User, session_id: str) -> Session:
    """The user's session ``session_id`` (its attribution noted).

    Raises:
        Reply: code 1002 when there is no such session or it belongs to someone else.
    """
    sess = app_state(request).sessions.get(session_id)
    if sess is None or sess.user_id != user.user_id:
        raise api_error(1002, f"session not found: {session_id}")
    note_attribution(request, sess)
    return sess


async def json_body(request: web.Request, *, optional: bool = False) -> dict[str, Any]:
    """The request's JSON object body.

    Args:
        request: The request.
        optional: A missing or malformed body reads as ``{}`` instead of an error.

    Raises:
        Reply: HTTP 400 ``{"code": 400}`` for a body that is not a JSON object (unless optional).
    """
    if optional and not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        if optional:
            return {}
        raise api_error(400, "request body must be JSON", status=400) from None
    if not isinstance(body, dict):
        if optional:
            return {}
        raise api_error(400, "request body must be a JSON object", status=400)
    return body


async def drain(request: web.Request) -> None:
    """Read and drop the rest of the request body, so the client gets our answer cleanly.

    A body that cannot be read to its end (connection lost, broken chunked encoding, a
    short body) is left as it is.
    """
    try:
        while await request.content.readany():
            pass
    except (OSError, HttpProcessingError, RequestPayloadError, PayloadAccessError):
        pass
