"""Sessions and their state (contract sections 2.2 and 2.7)."""

from __future__ import annotations

import copy

from aiohttp import web

from emulator.routes.envelopes import ok
from emulator.routes.request_context import app_state, authenticate, json_body, note_attribution, session_or_1002

__all__ = ["ROUTES", "create_session", "session_state"]


async def create_session(request: web.Request) -> web.Response:
    """[2.2] ``POST /api/tasks/me/with-session/nemo_agent`` -> ``{task_id, session_id[, user_id]}``.

    The optional body gives ``task_name`` and ``language``; ``user_id`` is added when
    ``config.session_user_id`` is on.
    """
    user = authenticate(request)
    body = await json_body(request, optional=True)
    st = app_state(request)
    sess = st.new_session(user, str(body.get("task_name") or "project"), str(body.get("language") or "en"))
    note_attribution(request, sess)
    data = {"task_id": sess.task_id, "session_id": sess.session_id}
    if st.config.session_user_id:
        data["user_id"] = user.user_id
    return ok(data)


async def session_state(request: web.Request) -> web.Response:
    """[2.7] ``GET /api/state/nemo_agent/me/<sid>/latest`` -> ``{session_id, task_id, state}``.

    An unknown session gets 1002.
    """
    user = authenticate(request)
    sess = session_or_1002(request, user, request.match_info["sid"])
    return ok({"session_id": sess.session_id, "task_id": sess.task_id, "state": copy.deepcopy(sess.state)})


ROUTES = [
    web.post("/api/tasks/me/with-session/nemo_agent", create_session),
    web.get("/api/state/nemo_agent/me/{sid}/latest", session_state),
]
