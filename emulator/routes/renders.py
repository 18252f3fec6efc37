"""Renders (contract section 5): submit, status in shape A, B or C, cancel; the render job itself.

Render errors answer ``{"success": false, "error": ...}``. Cancelled renders end as
``status: "failed"`` with ``error: "cancelled"`` (the contract has no ``cancelled`` status);
their ffmpeg process is killed.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import re
import time
from typing import Any, TypeGuard
from urllib.parse import quote

from aiohttp import web

from emulator import render
from emulator.records import RenderRecord, User
from emulator.routes.envelopes import iso, render_error
from emulator.routes.request_context import app_state, attribution, authenticate, base_url, json_body, note_attribution
from emulator.state import EmulatorState

log = logging.getLogger(__name__)

__all__ = ["ROUTES", "render_by_id", "render_cancel", "render_status", "render_submit"]

_RENDER_ID = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


def _render_view(request: web.Request, rec: RenderRecord) -> dict[str, Any]:
    """The render status in the configured shape A, B or C (contract section 5)."""
    st = app_state(request)
    shape = st.config.render_shape
    url = None
    if rec.status == "completed" and not st.config.omit_output_url:
        url = f"{base_url(request)}/renders/{quote(rec.id)}.mp4"
    progress = round(rec.progress)
    if shape == "A":
        data: dict[str, Any] = {
            "id": rec.id,
            "status": rec.status,
            "progress": progress,
            "createdAt": iso(rec.created_at),
        }
        if url:
            data["outputUrl"] = url
        if rec.completed_at is not None:
            data["completedAt"] = iso(rec.completed_at)
        if rec.error:
            data["error"] = rec.error
        return {"success": True, "data": data}
    out: dict[str, Any] = {"taskId" if shape == "C" else "id": rec.id, "status": rec.status, "progress": progress}
    if shape == "B":
        if url:
            out["output"] = {"url": url}
    elif rec.status == "completed":
        output: dict[str, Any] = {"duration": rec.duration_s, "size": rec.size}
        if url:
            output["url"] = url
        out["output"] = output
    if rec.error:
        out["error"] = rec.error
    return out


def _draft_ready(draft: Any) -> TypeGuard[dict[str, Any]]:
    """The submitted draft is an object with at least one non-empty segment list."""
    return isinstance(draft, dict) and any(
        isinstance(t, dict) and isinstance(t.get("sg"), list) and t["sg"] for t in draft.get("t") or []
    )


def _finish(rec: RenderRecord, status: str, *, error: str | None = None) -> None:
    rec.status = status
    rec.error = error
    rec.completed_at = time.time()


async def _crash_first_attempt(st: EmulatorState, rec: RenderRecord) -> None:
    """``config.fail_first_render``: some progress, then a worker crash."""
    for pct in (5.0, 15.0, 30.0):
        await asyncio.sleep(max(0.02, st.config.render_pending_s / 2))
        if rec.cancel_event.is_set():
            return
        rec.progress = pct
    _finish(rec, "failed", error="render worker crashed (lambda timeout); please retry")


async def _render(st: EmulatorState, rec: RenderRecord) -> None:
    """Render the draft in a worker thread with real ffmpeg progress; ``completed`` when done."""

    def progress(pct: float) -> None:  # runs in the render thread
        if rec.cancel_event.is_set():
            raise render.RenderError("cancelled")
        rec.progress = max(rec.progress, min(100.0, float(pct)))

    out = st.renders_dir / f"{rec.id}.mp4"
    result = await st.to_thread(
        render.render_draft, rec.draft, st.resolve, out, progress=progress, preset=st.config.render_preset
    )
    if rec.cancel_event.is_set():
        result.path.unlink(missing_ok=True)
        return
    rec.output_path, rec.duration_s, rec.size = result.path, result.duration_s, result.size
    rec.progress = 100.0
    _finish(rec, "completed")


async def _render_job(st: EmulatorState, rec: RenderRecord) -> None:
    """pending -> processing -> completed | failed, with real ffmpeg progress."""
    try:
        await asyncio.sleep(st.config.render_pending_s)
        if rec.cancel_event.is_set():
            return
        rec.status = "processing"
        if st.config.fail_first_render and rec.attempt == 1:
            await _crash_first_attempt(st, rec)
        else:
            await _render(st, rec)
    except render.RenderError as e:
        if not rec.cancel_event.is_set():
            _finish(rec, "failed", error=f"render failed: {str(e)[:500]}")
    except Exception as e:  # an emulator bug: fail the render, keep the server up
        log.exception("render %s crashed", rec.id)
        if not rec.cancel_event.is_set():
            _finish(rec, "failed", error=f"internal error: {type(e).__name__}: {e}")
    finally:
        if rec.active:  # cancelled before finishing
            _finish(rec, "failed", error="cancelled")


async def render_submit(request: web.Request) -> web.Response:
    """[5] ``POST /api/render/proxy/lambda`` ``{id, sessionId, draft, output}``.

    Answers ``{"success": true, "data": {id, status: "pending"}}`` and renders in the
    background. Errors: 402 missing ``X-Skill-*`` attribution headers, 400 bad id or empty
    draft, 404 unknown session, 409 id already used or a render of the session in progress.
    """
    st = app_state(request)
    user = authenticate(request)
    headers = attribution(request)
    body = await json_body(request, optional=True)
    sid = str(body.get("sessionId") or body.get("session_id") or "")
    sess = st.sessions.get(sid)
    if sess is not None and sess.user_id == user.user_id:
        note_attribution(request, sess)
    missing = [f"X-Skill-{k.title()}" for k, v in headers.items() if not v]
    if missing:
        raise render_error(402, f"export blocked: missing attribution headers {', '.join(missing)}")
    if st.config.renders_need_paid_plan:
        raise render_error(402, "export needs a paid plan")
    rid = body.get("id")
    if not isinstance(rid, str) or not _RENDER_ID.match(rid):
        raise render_error(400, "render id must be 1-128 characters of letters, digits, '_', '-' or '.'")
    if sess is None or sess.user_id != user.user_id:
        raise render_error(404, f"session not found: {sid}")
    draft = body.get("draft")
    if not _draft_ready(draft):
        raise render_error(400, "nothing to render: the draft has no segments")
    if rid in st.renders:
        raise render_error(409, f"render id already used: {rid}")
    if any(r.active and r.session_id == sid for r in st.renders.values()):
        raise render_error(409, "render already in progress")
    attempt = st.render_attempts.get(sid, 0) + 1
    st.render_attempts[sid] = attempt
    rec = RenderRecord(id=rid, session_id=sid, user_id=user.user_id, draft=copy.deepcopy(draft), attempt=attempt)
    st.renders[rid] = rec
    rec.task = st.spawn(_render_job(st, rec), name=f"render:{rid}")
    return web.json_response({"success": True, "data": {"id": rid, "status": "pending"}})


def render_by_id(request: web.Request, user: User) -> RenderRecord:
    """The user's render named by the ``rid`` route part.

    Raises:
        Reply: HTTP 404 ``{"success": false, "error": "not found"}``.
    """
    rec = app_state(request).renders.get(request.match_info["rid"])
    if rec is None or rec.user_id != user.user_id:
        raise render_error(404, "not found")
    return rec


async def render_status(request: web.Request) -> web.Response:
    """[5] ``GET /api/render/proxy/lambda/<id>`` in shape A, B or C (``config.render_shape``)."""
    user = authenticate(request)
    rec = render_by_id(request, user)
    return web.json_response(_render_view(request, rec))


async def render_cancel(request: web.Request) -> web.Response:
    """[5] ``POST /api/render/proxy/lambda/<id>/cancel``: the render ends ``failed`` / ``cancelled``.

    A render that already ended gets 409.
    """
    user = authenticate(request)
    rec = render_by_id(request, user)
    if not rec.active:
        raise render_error(409, f"render already {rec.status}")
    rec.cancel_event.set()
    _finish(rec, "failed", error="cancelled")
    return web.json_response({"success": True, "data": {"id": rec.id, "status": rec.status, "error": rec.error}})


ROUTES = [
    web.post("/api/render/proxy/lambda", render_submit),
    web.get("/api/render/proxy/lambda/{rid}", render_status),
    web.post("/api/render/proxy/lambda/{rid}/cancel", render_cancel),
]
