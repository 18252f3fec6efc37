"""The agent endpoint ``POST /run_sse`` (contract section 3): one agent run as an ADK event stream.

The run is a background job (:func:`_run_job`) that queues frames on a
:class:`~emulator.routes.sse.RunStream`; the handler only relays them, so a dropped
connection does not stop the edit.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import random
import secrets
import time
import uuid
from collections.abc import AsyncGenerator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web

from emulator import agent
from emulator.records import Session, User
from emulator.routes.envelopes import envelope
from emulator.routes.request_context import app_state, authenticate, base_url, note_attribution
from emulator.routes.sse import RunStream, locked, model_text, with_heartbeats
from emulator.state import EmulatorState

log = logging.getLogger(__name__)

__all__ = ["ROUTES", "run_sse"]

_TEMP_ISSUE = "I encountered a temporary issue while finishing up. Your edit has been saved."


def _settle(user: User, cost: int, *, refund: bool) -> None:
    """Release the run's frozen credits: back to ``available`` (refund) or ``consumed``."""
    user.frozen -= cost
    if refund:
        user.available += cost
    else:
        user.consumed += cost


async def _close_steps(steps: AsyncGenerator[agent.Step, None]) -> None:
    """Close the agent's step generator.

    It is still running only if the wait for its cancelled step was itself cut short; it
    is then left to the garbage collector.
    """
    try:
        await steps.aclose()
    except RuntimeError as e:  # "aclose(): asynchronous generator is already running"
        log.debug("agent steps left open: %s", e)


async def _fail_run(st: EmulatorState, stream: RunStream, failure: str) -> None:
    """Emit the configured run failure (``config.fail_next_run_with``) instead of the run."""
    await asyncio.sleep(st.config.step_delay_s)
    if failure == "errorCode":
        stream.event(
            errorCode="MALFORMED_FUNCTION_CALL",
            errorMessage="Malformed function call: edit_multitrack(draft=<unparseable>)",
        )
    else:
        msg = "Tool 'edit_multitrack' failed: segment list index out of range"
        stream.raw(
            {
                "error": f"ValueError: {msg}",
                "error_details": {"error_type": "ValueError", "error_message": msg, "timestamp": round(time.time(), 3)},
            }
        )


class _Emitter:
    """Turns agent steps into ADK events, applying tool state deltas to the session.

    Args:
        st: The emulator state (live config).
        sess: The session whose state the tool results change.
        stream: Where events go.
        silent: Drop previews and, after an edit, the answer (contract section 3: silent runs).
        show_thought: Emit thoughts.
    """

    def __init__(self, st: EmulatorState, sess: Session, stream: RunStream, *, silent: bool, show_thought: bool):
        self.st, self.sess, self.stream = st, sess, stream
        self.silent, self.show_thought = silent, show_thought
        self.changed = False  # a tool result replaced the draft

    async def emit(self, step: agent.Step) -> bool:
        """Emit the event(s) for one step.

        Returns:
            False when the step was hidden (a thought not shown, a preview or answer of a
            silent run), so no step delay follows it.
        """
        stream = self.stream
        if isinstance(step, agent.Thought):
            if not self.show_thought:
                return False
            stream.event(content=model_text(step.text, thought=True))
        elif isinstance(step, agent.Preview):
            if self.silent:
                return False
            stream.event(content=model_text(step.text), partial=True)
        elif isinstance(step, agent.ToolCall):
            part = {"functionCall": {"id": step.call_id, "name": step.name, "args": step.args}}
            stream.event(content={"parts": [part], "role": "model"})
        elif isinstance(step, agent.ToolResult):
            for key, value in step.state_delta.items():
                self.sess.state[key] = copy.deepcopy(value)
            self.changed = self.changed or "draft" in step.state_delta
            part = {"functionResponse": {"id": step.call_id, "name": step.name, "response": step.response}}
            stream.event(content={"parts": [part], "role": "user"}, delta=copy.deepcopy(step.state_delta))
        elif isinstance(step, agent.Answer):
            if self.silent and self.changed:
                return False
            stream.event(content=model_text(step.text))
            if self.changed and self.st.config.trailing_issue_text:
                await asyncio.sleep(self.st.config.step_delay_s)
                stream.event(content=model_text(_TEMP_ISSUE))
        return True


def _media_allocator(st: EmulatorState, request_base: str) -> Callable[[str], tuple[str, Path]]:
    """``AgentContext.new_media``: a fresh ``cdn/gen_<hex>/<filename>`` and its URL."""

    def new_media(filename: str) -> tuple[str, Path]:
        folder = f"gen_{secrets.token_hex(6)}"
        path = st.cdn_dir / folder / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"{request_base}/cdn/{folder}/{quote(filename)}", path

    return new_media


async def _run_job(
    request_base: str,
    st: EmulatorState,
    sess: Session,
    user: User,
    stream: RunStream,
    text: str,
    profile: str | None,
    run_index: int,
    cost: int,
) -> None:
    """One agent run, independent of the HTTP connection (a dropped stream does not stop it).

    Runs of a session are serialised. Whether the run stays silent or shows its thought is
    decided with ``random.Random(f"{seed}:{session_id}:{run_index}")``. The frozen credits
    are consumed when the run completes and refunded otherwise; the stream is always closed.
    """
    cfg = st.config
    rng = random.Random(f"{cfg.seed}:{sess.session_id}:{run_index}")
    silent_roll, thought_roll = rng.random(), rng.random()
    refund = True
    steps: AsyncGenerator[agent.Step, None] | None = None
    try:
        async with locked(st, stream, sess.lock):
            snapshot = copy.deepcopy(sess.state)
            intent = agent.decide(text, profile, snapshot)
            emitter = _Emitter(
                st,
                sess,
                stream,
                silent=intent.edits and silent_roll < st.config.silent_share,
                show_thought=thought_roll < st.config.thought_share,
            )
            failure = st.config.fail_next_run_with
            if failure is not None:
                st.config.fail_next_run_with = None
                await _fail_run(st, stream, failure)
                return
            ctx = agent.AgentContext(
                state=snapshot,
                resolve=st.resolve,
                new_media=_media_allocator(st, request_base),
                profile=profile,
                gui_phrasing=st.config.gui_phrasing,
                score_cache=st.score_cache,
                to_thread=st.to_thread,
            )
            if cfg.stall_s:
                await with_heartbeats(st, stream, asyncio.sleep(cfg.stall_s))
            steps = agent.run(intent, ctx)
            while True:
                try:
                    step = await with_heartbeats(st, stream, steps.__anext__())
                except StopAsyncIteration:
                    break
                if await emitter.emit(step):
                    await asyncio.sleep(st.config.step_delay_s)
            refund = False
    finally:
        try:
            if steps is not None:
                await _close_steps(steps)
        finally:
            _settle(user, cost, refund=refund)
            stream.close()


def _message_text(message: Any) -> str:
    """The text of an ADK ``new_message`` (its text parts joined by newlines), or a plain string."""
    if isinstance(message, str):
        return message
    if not isinstance(message, dict):
        return ""
    parts = message.get("parts") or []
    return "\n".join(str(p.get("text")) for p in parts if isinstance(p, dict) and p.get("text"))


async def _relay(request: web.Request, stream: RunStream, drop_after: int | None) -> web.StreamResponse:
    """Write the stream's frames as ``text/event-stream`` until it ends, or cut the connection
    after ``drop_after`` events (``config.drop_stream_after``). A client that leaves detaches
    the stream; the run goes on."""
    resp = web.StreamResponse(
        status=200,
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    try:
        await resp.prepare(request)
        sent = 0
        while drop_after is None or sent < drop_after:
            item = await stream.queue.get()
            if item is None:
                await resp.write_eof()
                return resp
            kind, frame = item
            await resp.write(frame)
            if kind == "event":
                sent += 1
        # config.drop_stream_after: cut the connection without ending the chunked body
        stream.detached = True
        if request.transport is not None:
            request.transport.close()
        return resp
    except ConnectionError:  # the client left; the run goes on server-side
        stream.detached = True
        return resp
    except asyncio.CancelledError:
        stream.detached = True
        raise


async def run_sse(request: web.Request) -> web.StreamResponse:
    """[3] ``POST /run_sse``: one agent run as an ADK event stream (``text/event-stream``).

    The run itself is a background task: the handler only relays its frames, so a dropped
    connection (``config.drop_stream_after`` or a client that leaves) does not stop the edit.
    Errors speak ADK: HTTP 422 ``{"detail"}`` for a malformed body, 404 ``{"detail":
    "Session not found: <sid>"}``; too few credits get the envelope code 2001 instead of a
    stream.
    """
    st = app_state(request)
    user = authenticate(request)
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        return web.json_response({"detail": "request body must be JSON"}, status=422)
    if not isinstance(body, dict):
        return web.json_response({"detail": "request body must be a JSON object"}, status=422)
    sid = body.get("session_id") or body.get("sessionId")
    message = body.get("new_message") if "new_message" in body else body.get("newMessage")
    if not isinstance(sid, str) or not sid or message is None:
        return web.json_response({"detail": "session_id and new_message are required"}, status=422)
    sess = st.sessions.get(sid)
    if sess is None or sess.user_id != user.user_id:
        return web.json_response({"detail": f"Session not found: {sid}"}, status=404)
    note_attribution(request, sess)
    cost = st.config.run_cost
    if user.available < cost:
        return envelope(2001, f"insufficient credits: {user.available} available, {cost} needed")
    run_index = st.runs_per_session.get(sid, 0) + 1
    st.runs_per_session[sid] = run_index
    user.available -= cost
    user.frozen += cost
    stream = RunStream(f"e-{uuid.uuid4()}")
    profile = request.headers.get("X-Skill-Source") or None
    st.spawn(
        _run_job(base_url(request), st, sess, user, stream, _message_text(message), profile, run_index, cost),
        name=f"run:{sid}:{run_index}",
    )
    if st.config.cut_run_before_answer:  # accepted (the run goes on), but the answer never comes
        st.config.cut_run_before_answer = False
        stream.detached = True
        if request.transport is not None:
            request.transport.close()
        return web.Response()
    return await _relay(request, stream, st.config.drop_stream_after)


ROUTES = [web.post("/run_sse", run_sse)]
