"""Auth and credits (contract sections 2.1, 2.3 and 2.6): anonymous tokens, claim tokens, the balance."""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web

from emulator.routes.envelopes import api_error, iso, ok
from emulator.routes.request_context import app_state, authenticate, json_body, session_or_1002

__all__ = ["ROUTES", "anonymous_token", "claim_token", "credits_balance"]


async def anonymous_token(request: web.Request) -> web.Response:
    """[2.1] ``POST /api/auth/anonymous-token``: needs ``X-Client-Id``; same id -> same user.

    Answers ``{token, user_id, expires_at (ISO 8601), credits}``; a missing ``X-Client-Id``
    gets HTTP 400 ``{"code": 400}``.
    """
    st = app_state(request)
    client_id = request.headers.get("X-Client-Id", "").strip()
    if not client_id:
        raise api_error(400, "X-Client-Id header is required", status=400)
    user = st.user_for_client(client_id)
    tok = st.issue_token(user)
    return ok(
        {"token": tok.value, "user_id": user.user_id, "expires_at": iso(tok.expires_at), "credits": user.available}
    )


async def claim_token(request: web.Request) -> web.Response:
    """[2.3] ``POST /api/auth/claim-token`` -> ``{claim_token, expires_in}`` (seconds).

    The body names the session (``session_id`` or ``sessionId``); an unknown one gets 1002.
    """
    user = authenticate(request)
    body = await json_body(request, optional=True)
    sid = str(body.get("session_id") or body.get("sessionId") or "")
    session_or_1002(request, user, sid)
    return ok({"claim_token": f"clm_{secrets.token_urlsafe(18)}", "expires_in": 604800})


async def credits_balance(request: web.Request) -> web.Response:
    """[2.6] ``GET /api/credits/balance/simple`` in the configured shape (``config.credits_shape``)."""
    user = authenticate(request)
    st = app_state(request)
    data: dict[str, Any]
    if st.config.credits_shape == "granted":
        data = {
            "available": user.available,
            "frozen": user.frozen,
            "total_granted": user.granted,
            "total_consumed": user.consumed,
        }
    else:
        data = {"available": user.available, "frozen": user.frozen, "total": user.available + user.frozen}
    return ok(data)


ROUTES = [
    web.post("/api/auth/anonymous-token", anonymous_token),
    web.post("/api/auth/claim-token", claim_token),
    web.get("/api/credits/balance/simple", credits_balance),
]
