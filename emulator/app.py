"""The local NemoVideo emulator: an aiohttp server speaking the whole NemoVideo API contract.

Contract: ``/work/shared/nemovideo-api.md`` (sections referenced as [n] below). The
emulator serves the bot offline for development, demos and tests; its switches live in
:class:`emulator.config.EmulatorConfig`.

Error conventions (one rule per family, so clients can be tested against each):

* Business errors answer **HTTP 200** with the JSON envelope ``{"code": N, "message": ...}``:
  1002 session not found, 2001 out of credits (also on ``/run_sse``, instead of a stream),
  4001 unsupported or undecodable file, 4002 file too large, 4003 URL upload could not be
  fetched (emulator-specific; the contract names no code for it), and the auth dialects
  1010 / 1011.
* Protocol errors use the HTTP status with the envelope: 400 ``{"code":400}`` (missing
  ``X-Client-Id``, malformed body, no files), 401 ``{"code":1001}`` (auth dialect ``1001``),
  404 ``{"code":404}`` (unknown route), 429 ``{"code":429}`` with ``Retry-After``
  (``config.rate_limit_next``), 500 ``{"code":500}`` (emulator bug). Auth dialect
  ``http401`` is a bare HTTP 401 with a plain-text body.
* ``/run_sse`` speaks ADK: unknown session -> HTTP 404 ``{"detail": "Session not found: <sid>"}``,
  malformed body -> HTTP 422 ``{"detail": ...}``.
* Render endpoints use ``{"success": false, "error": ...}``: 400 bad request or empty draft,
  402 missing attribution headers, 404 unknown render or session, 409 render already in
  progress / id already used / render not finished (download, cancel).

Cancelled renders end as ``status: "failed"`` with ``error: "cancelled"`` (the contract has
no ``cancelled`` status); their ffmpeg process is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import ipaddress
import json
import logging
import mimetypes
import os
import random
import re
import secrets
import string
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import aiohttp
from aiohttp import web

from emulator import agent, media, render
from emulator.config import EmulatorConfig
from emulator.state import EmulatorState, RenderRecord, Session, UploadRecord, User

__all__ = ["ACCEPTED_EXTENSIONS", "STATE_KEY", "Emulator", "create_app", "serve"]

log = logging.getLogger("emulator")

#: Where the app keeps its :class:`EmulatorState`.
STATE_KEY = web.AppKey("nemo_emulator_state", EmulatorState)
_OWNS_DIR_KEY = web.AppKey("nemo_emulator_owns_dir", bool)

#: Accepted upload extensions by file type (contract section 8).
ACCEPTED_EXTENSIONS: dict[str, frozenset[str]] = {
    "video": frozenset({"mp4", "mov", "avi", "webm", "mkv"}),
    "image": frozenset({"jpg", "jpeg", "png", "gif", "webp"}),
    "audio": frozenset({"mp3", "wav", "m4a", "aac"}),
}
_ALL_EXTENSIONS = frozenset().union(*ACCEPTED_EXTENSIONS.values())
_CHUNK = 256 * 1024
_RENDER_ID = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_ID_ALPHABET = string.ascii_letters + string.digits
_AUTHOR = "nemo_agent"
_TEMP_ISSUE = "I encountered a temporary issue while finishing up. Your edit has been saved."


# --------------------------------------------------------------------------- errors


class _Reply(Exception):
    """Raised by helpers to answer the request with ``response`` at once."""

    def __init__(self, response: web.StreamResponse) -> None:
        super().__init__(response.status)
        self.response = response


def _envelope(code: int, message: str, *, status: int = 200, **extra: Any) -> web.Response:
    return web.json_response({"code": code, "message": message, **extra}, status=status)


def _ok(data: Any) -> web.Response:
    return web.json_response({"code": 0, "message": "ok", "data": data})


def _api_error(code: int, message: str, *, status: int = 200) -> _Reply:
    return _Reply(_envelope(code, message, status=status))


def _render_error(status: int, message: str) -> _Reply:
    return _Reply(web.json_response({"success": False, "error": message}, status=status))


@web.middleware
async def _errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    st = request.app[STATE_KEY]
    cfg = st.config
    api_call = request.path.startswith("/api/") or request.path == "/run_sse"
    if api_call and cfg.slow_rate and st.fault_rng.random() < cfg.slow_rate:
        st.faults["slow"] = st.faults.get("slow", 0) + 1
        await asyncio.sleep(cfg.slow_s)
    if api_call and cfg.fault_rate and st.fault_rng.random() < cfg.fault_rate:
        status = st.fault_rng.choice(cfg.fault_statuses)
        st.faults[str(status)] = st.faults.get(str(status), 0) + 1
        await _drain(request)
        resp = _envelope(status, "injected failure", status=status)
        if status == 429:
            resp.headers["Retry-After"] = str(cfg.rate_limit_retry_after_s)
        return resp
    if cfg.rate_limit_next > 0 and api_call:
        cfg.rate_limit_next -= 1
        resp = _envelope(429, "too many requests", status=429)
        resp.headers["Retry-After"] = str(cfg.rate_limit_retry_after_s)
        return resp
    try:
        return await handler(request)
    except _Reply as r:
        return r.response
    except web.HTTPException as e:
        if e.status < 400:
            raise
        return _envelope(e.status, e.reason.lower(), status=e.status)
    except (asyncio.CancelledError, ConnectionError):
        raise
    except Exception as e:  # an emulator bug: answer like a server would, and log it
        log.exception("emulator error on %s %s", request.method, request.path)
        return _envelope(500, f"internal error: {type(e).__name__}: {e}", status=500)


# --------------------------------------------------------------------------- helpers


def _state(request: web.Request) -> EmulatorState:
    return request.app[STATE_KEY]


def _base_url(request: web.Request) -> str:
    public = _state(request).config.public_url
    if public:
        return public.rstrip("/")
    return f"{request.scheme}://{request.host}"


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _auth_failure(st: EmulatorState, reason: str) -> _Reply:
    dialect = st.config.auth_failure
    if dialect == "http401":
        return _Reply(web.Response(status=401, text="Unauthorized", headers={"WWW-Authenticate": "Bearer"}))
    if dialect == "1001":
        return _api_error(1001, f"token expired or invalid: {reason}", status=401)
    if dialect == "1010":
        return _api_error(1010, f"invalid token: {reason}")
    return _api_error(1011, f"token expired: {reason}")


def _authenticate(request: web.Request) -> User:
    """The user behind the bearer token; counts the call against ``token_max_calls``."""
    st = _state(request)
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


def _attribution(request: web.Request) -> dict[str, str | None]:
    h = request.headers
    return {
        "source": h.get("X-Skill-Source"),
        "version": h.get("X-Skill-Version"),
        "platform": h.get("X-Skill-Platform"),
    }


def _note_attribution(request: web.Request, session: Session) -> None:
    values = _attribution(request)
    session.attribution.clear()
    session.attribution.update(values)
    _state(request).attribution[session.session_id] = session.attribution


def _session_or_1002(request: web.Request, user: User, session_id: str) -> Session:
    sess = _state(request).sessions.get(session_id)
    if sess is None or sess.user_id != user.user_id:
        raise _api_error(1002, f"session not found: {session_id}")
    _note_attribution(request, sess)
    return sess


async def _json_body(request: web.Request, *, optional: bool = False) -> dict[str, Any]:
    if optional and not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        if optional:
            return {}
        raise _api_error(400, "request body must be JSON", status=400) from None
    if not isinstance(body, dict):
        if optional:
            return {}
        raise _api_error(400, "request body must be a JSON object", status=400)
    return body


# --------------------------------------------------------------------------- auth, sessions, credits


async def anonymous_token(request: web.Request) -> web.Response:
    """[2.1] ``POST /api/auth/anonymous-token``: needs ``X-Client-Id``; same id -> same user."""
    st = _state(request)
    client_id = request.headers.get("X-Client-Id", "").strip()
    if not client_id:
        raise _api_error(400, "X-Client-Id header is required", status=400)
    user = st.user_for_client(client_id)
    tok = st.issue_token(user)
    return _ok(
        {"token": tok.value, "user_id": user.user_id, "expires_at": _iso(tok.expires_at), "credits": user.available}
    )


async def create_session(request: web.Request) -> web.Response:
    """[2.2] ``POST /api/tasks/me/with-session/nemo_agent`` -> ``{task_id, session_id[, user_id]}``."""
    user = _authenticate(request)
    body = await _json_body(request, optional=True)
    st = _state(request)
    sess = st.new_session(user, str(body.get("task_name") or "project"), str(body.get("language") or "en"))
    _note_attribution(request, sess)
    data = {"task_id": sess.task_id, "session_id": sess.session_id}
    if st.config.session_user_id:
        data["user_id"] = user.user_id
    return _ok(data)


async def claim_token(request: web.Request) -> web.Response:
    """[2.3] ``POST /api/auth/claim-token`` -> ``{claim_token, expires_in}`` (seconds)."""
    user = _authenticate(request)
    body = await _json_body(request, optional=True)
    sid = str(body.get("session_id") or body.get("sessionId") or "")
    _session_or_1002(request, user, sid)
    return _ok({"claim_token": f"clm_{secrets.token_urlsafe(18)}", "expires_in": 604800})


async def credits_balance(request: web.Request) -> web.Response:
    """[2.6] ``GET /api/credits/balance/simple`` in the configured shape."""
    user = _authenticate(request)
    st = _state(request)
    if st.config.credits_shape == "granted":
        data = {
            "available": user.available,
            "frozen": user.frozen,
            "total_granted": user.granted,
            "total_consumed": user.consumed,
        }
    else:
        data = {"available": user.available, "frozen": user.frozen, "total": user.available + user.frozen}
    return _ok(data)


async def session_state(request: web.Request) -> web.Response:
    """[2.7] ``GET /api/state/nemo_agent/me/<sid>/latest`` -> ``{session_id, task_id, state}``."""
    user = _authenticate(request)
    sess = _session_or_1002(request, user, request.match_info["sid"])
    return _ok({"session_id": sess.session_id, "task_id": sess.task_id, "state": copy.deepcopy(sess.state)})


# --------------------------------------------------------------------------- uploads


def _safe_filename(name: str, default: str = "upload") -> str:
    name = unquote(name or "").replace("\\", "/").split("/")[-1].strip()
    name = "".join(c for c in name if c.isprintable() and c not in '<>:"|?*').strip(" .")
    return name[:180] or default


def _extension(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def _unsupported(name: str) -> _Reply:
    formats = ", ".join(f"{kind}: {' '.join(sorted(exts))}" for kind, exts in ACCEPTED_EXTENSIONS.items())
    return _api_error(4001, f"unsupported file type: {name} (accepted {formats})")


class _Staged:
    """A received file waiting for its checks."""

    def __init__(self, name: str, path: Path, size: int, digest: str, source: str) -> None:
        self.name, self.path, self.size, self.digest, self.source = name, path, size, digest, source
        self.url: str | None = None


async def _drain(request: web.Request) -> None:
    """Read and drop the rest of the request body, so the client gets our answer cleanly."""
    with contextlib.suppress(Exception):
        while await request.content.readany():
            pass


async def _receive_multipart(request: web.Request, st: EmulatorState, staged: list[_Staged]) -> None:
    """Stream every ``files`` part to ``incoming/``, appending to ``staged`` as it goes
    (so the caller can remove partial files after an error)."""
    reader = await request.multipart()
    limit = st.config.max_upload_bytes
    st.incoming_dir.mkdir(parents=True, exist_ok=True)
    while True:
        part = await reader.next()
        if part is None:
            break
        if not isinstance(part, aiohttp.BodyPartReader) or part.name != "files":
            await part.release()
            continue
        name = _safe_filename(part.filename or "")
        if _extension(name) not in _ALL_EXTENSIONS:
            raise _unsupported(name)
        tmp = st.incoming_dir / uuid.uuid4().hex
        staged.append(_Staged(name, tmp, 0, "", "multipart"))
        digest = hashlib.sha256()
        size = 0
        with open(tmp, "wb") as f:
            while chunk := await part.read_chunk(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise _api_error(4002, f"file too large: {name} is over {limit} bytes")
                digest.update(chunk)
                f.write(chunk)
        staged[-1].size, staged[-1].digest = size, digest.hexdigest()


def _host_allowed(st: EmulatorState, host: str | None) -> bool:
    if st.config.allow_remote_urls:
        return True
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def _fetch_url(st: EmulatorState, url: str) -> _Staged:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not _host_allowed(st, parts.hostname):
        raise _api_error(4003, f"cannot fetch {url}: only http(s) URLs on this machine are allowed")
    limit = st.config.max_upload_bytes
    st.incoming_dir.mkdir(parents=True, exist_ok=True)
    tmp = st.incoming_dir / uuid.uuid4().hex
    try:
        async with st.http().get(url) as resp:
            if resp.status != 200:
                raise _api_error(4003, f"cannot fetch {url}: HTTP {resp.status}")
            if resp.content_length is not None and resp.content_length > limit:
                raise _api_error(4002, f"file too large: {url} is {resp.content_length} bytes (limit {limit})")
            name = _safe_filename(parts.path, default="")
            if not _extension(name) and resp.content_disposition and resp.content_disposition.filename:
                name = _safe_filename(resp.content_disposition.filename, default="")
            if not _extension(name):
                ext = mimetypes.guess_extension(resp.content_type or "") or ""
                name = (name or "download") + ext
            if _extension(name) not in _ALL_EXTENSIONS:
                raise _unsupported(name)
            digest = hashlib.sha256()
            size = 0
            with open(tmp, "wb") as f:
                async for chunk in resp.content.iter_chunked(_CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise _api_error(4002, f"file too large: {url} is over {limit} bytes")
                    digest.update(chunk)
                    f.write(chunk)
    except _Reply:
        tmp.unlink(missing_ok=True)
        raise
    except (TimeoutError, aiohttp.ClientError, OSError) as e:
        tmp.unlink(missing_ok=True)
        raise _api_error(4003, f"cannot fetch {url}: {type(e).__name__}: {e}") from None
    staged = _Staged(name, tmp, size, digest.hexdigest(), "url")
    staged.url = url
    return staged


async def _accept(
    request: web.Request, st: EmulatorState, sess: Session, staged: list[_Staged]
) -> list[dict[str, Any]]:
    """Probe, store and register received files; all or nothing."""
    probed: list[tuple[_Staged, media.MediaInfo]] = []
    for item in staged:
        try:
            info = await st.to_thread(media.probe, item.path)
        except media.MediaError as e:
            raise _api_error(4001, f"unsupported file type: {item.name} is not decodable media ({e})") from None
        probed.append((item, info))
    base = _base_url(request)
    files = []
    st.upload_calls += 1
    for item, info in probed:
        folder = st.cdn_dir / item.digest
        folder.mkdir(parents=True, exist_ok=True)
        dest = folder / item.name
        os.replace(item.path, dest)
        cdn_url = f"{base}/cdn/{item.digest}/{quote(item.name)}"
        entry = {
            "filename": item.name,
            "file_type": info.kind,
            "cdn_url": cdn_url,
            "duration": round(info.duration_s, 3) if info.duration_s is not None else None,
            "width": info.width,
            "height": info.height,
            "fps": round(info.fps, 3) if info.fps else None,
            "hash": item.digest,
            "size": item.size,
        }
        files.append(entry)
        st.uploads.append(
            UploadRecord(
                session_id=sess.session_id,
                filename=item.name,
                file_type=info.kind,
                hash=item.digest,
                size=item.size,
                path=dest,
                cdn_url=cdn_url,
                source=item.source,
                request=st.upload_calls,
                url=item.url,
            )
        )
    sess.state["video_infos"].extend(copy.deepcopy(files))
    return files


async def upload(request: web.Request) -> web.Response:
    """[2.5] ``POST /api/upload-video/nemo_agent/me/<sid>``: multipart ``files`` or JSON ``urls``.

    Multipart bodies are streamed to disk in 256 KiB chunks and counted on the way (over
    ``max_upload_bytes`` -> 4002); the extension (4001) and decodability (4001, probed in a
    worker thread) are checked before anything is added to ``state.video_infos``.
    """
    st = _state(request)
    staged: list[_Staged] = []
    try:
        user = _authenticate(request)
        sess = _session_or_1002(request, user, request.match_info["sid"])
        if request.content_type.startswith("multipart/"):
            try:
                await _receive_multipart(request, st, staged)
            finally:
                if not request.content.at_eof():
                    await _drain(request)
        else:
            body = await _json_body(request)
            urls = body.get("urls")
            if not isinstance(urls, list) or not urls or not all(isinstance(u, str) and u for u in urls):
                raise _api_error(
                    400, 'expected {"urls": [...], "source_type": "url"} or multipart field "files"', status=400
                )
            for url in urls:
                staged.append(await _fetch_url(st, url))
        if not staged:
            raise _api_error(400, 'no file in the multipart field "files"', status=400)
        files = await _accept(request, st, sess, staged)
    finally:
        for item in staged:
            item.path.unlink(missing_ok=True)
    return _ok({"files": files, "session_state_applied": True})


async def cdn_file(request: web.Request) -> web.StreamResponse:
    """``GET /cdn/<folder>/<name>``: uploaded and generated media, no auth."""
    path = _state(request).cdn_file(request.match_info["folder"], request.match_info["name"])
    if path is None:
        raise web.HTTPNotFound()
    return web.FileResponse(path)


# --------------------------------------------------------------------------- the agent stream


def _event_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


def _no_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _no_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_no_nulls(v) for v in value if v is not None]
    return value


def _sse(payload: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(_no_nulls(payload), ensure_ascii=False, separators=(',', ':'))}\n\n".encode()


_HEARTBEATS = {"json": b'data: {"type":"heartbeat"}\n\n', "empty": b"data:\n\n", "comment": b": keep-alive\n\n"}


class _RunStream:
    """The wire side of one agent run: a queue of SSE frames, detached if the client leaves."""

    def __init__(self, invocation_id: str) -> None:
        self.invocation_id = invocation_id
        self.queue: asyncio.Queue[tuple[str, bytes] | None] = asyncio.Queue()
        self.detached = False

    def event(
        self,
        *,
        content: dict[str, Any] | None = None,
        partial: bool = False,
        delta: dict[str, Any] | None = None,
        **extra: Any,
    ) -> None:
        ev: dict[str, Any] = {}
        if content is not None:
            ev["content"] = content
        if partial:
            ev["partial"] = True
        ev.update(extra)
        ev.update(
            {
                "invocationId": self.invocation_id,
                "author": _AUTHOR,
                "actions": {"stateDelta": delta or {}, "artifactDelta": {}},
                "id": _event_id(),
                "timestamp": round(time.time(), 3),
            }
        )
        self.put("event", _sse(ev))

    def raw(self, payload: dict[str, Any]) -> None:
        self.put("event", _sse(payload))

    def heartbeat(self, style: str) -> None:
        self.put("heartbeat", _HEARTBEATS[style])

    def put(self, kind: str, frame: bytes) -> None:
        if not self.detached:
            self.queue.put_nowait((kind, frame))

    def close(self) -> None:
        self.queue.put_nowait(None)


def _model_text(text: str, **flags: bool) -> dict[str, Any]:
    part: dict[str, Any] = {"text": text}
    if flags.get("thought"):
        part["thought"] = True
    return {"parts": [part], "role": "model"}


async def _with_heartbeats(st: EmulatorState, stream: _RunStream, aw: Awaitable[Any]) -> Any:
    """Await ``aw``, sending a heartbeat every ``heartbeat_interval_s`` while it runs."""
    task = asyncio.ensure_future(aw)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=st.config.heartbeat_interval_s)
            if done:
                return task.result()
            stream.heartbeat(st.config.heartbeat_style)
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


@contextlib.asynccontextmanager
async def _locked(st: EmulatorState, stream: _RunStream, lock: asyncio.Lock) -> AsyncIterator[None]:
    """Hold the session's run lock; heartbeats flow while an earlier run still holds it."""
    acquire = asyncio.ensure_future(lock.acquire())
    try:
        while not acquire.done():
            done, _ = await asyncio.wait({acquire}, timeout=st.config.heartbeat_interval_s)
            if not done:
                stream.heartbeat(st.config.heartbeat_style)
    except BaseException:
        if acquire.done() and not acquire.cancelled() and acquire.exception() is None:
            lock.release()
        else:
            acquire.cancel()
        raise
    try:
        yield
    finally:
        lock.release()


def _settle(user: User, cost: int, *, refund: bool) -> None:
    user.frozen -= cost
    if refund:
        user.available += cost
    else:
        user.consumed += cost


async def _run_job(
    request_base: str,
    st: EmulatorState,
    sess: Session,
    user: User,
    stream: _RunStream,
    text: str,
    profile: str | None,
    run_index: int,
    cost: int,
) -> None:
    """One agent run, independent of the HTTP connection (a dropped stream does not stop it)."""
    cfg = st.config
    rng = random.Random(f"{cfg.seed}:{sess.session_id}:{run_index}")
    silent_roll, thought_roll = rng.random(), rng.random()
    refund = True
    gen: AsyncIterator[agent.Step] | None = None
    try:
        async with _locked(st, stream, sess.lock):
            snapshot = copy.deepcopy(sess.state)
            intent = agent.decide(text, profile, snapshot)
            silent = intent.edits and silent_roll < st.config.silent_share
            show_thought = thought_roll < st.config.thought_share
            failure = st.config.fail_next_run_with
            if failure is not None:
                st.config.fail_next_run_with = None
                await _fail_run(st, stream, failure, intent)
                return

            def new_media(filename: str) -> tuple[str, Path]:
                folder = f"gen_{secrets.token_hex(6)}"
                path = st.cdn_dir / folder / filename
                path.parent.mkdir(parents=True, exist_ok=True)
                return f"{request_base}/cdn/{folder}/{quote(filename)}", path

            ctx = agent.AgentContext(
                state=snapshot,
                resolve=st.resolve,
                new_media=new_media,
                profile=profile,
                gui_phrasing=st.config.gui_phrasing,
                score_cache=st.score_cache,
                to_thread=st.to_thread,
            )
            if cfg.stall_s:
                await _with_heartbeats(st, stream, asyncio.sleep(cfg.stall_s))
            gen = agent.run(intent, ctx)
            changed = False
            while True:
                try:
                    step = await _with_heartbeats(st, stream, gen.__anext__())
                except StopAsyncIteration:
                    break
                if isinstance(step, agent.Thought):
                    if not show_thought:
                        continue
                    stream.event(content=_model_text(step.text, thought=True))
                elif isinstance(step, agent.Preview):
                    if silent:
                        continue
                    stream.event(content=_model_text(step.text), partial=True)
                elif isinstance(step, agent.ToolCall):
                    part = {"functionCall": {"id": step.call_id, "name": step.name, "args": step.args}}
                    stream.event(content={"parts": [part], "role": "model"})
                elif isinstance(step, agent.ToolResult):
                    for key, value in step.state_delta.items():
                        sess.state[key] = copy.deepcopy(value)
                    changed = changed or "draft" in step.state_delta
                    part = {"functionResponse": {"id": step.call_id, "name": step.name, "response": step.response}}
                    stream.event(content={"parts": [part], "role": "user"}, delta=copy.deepcopy(step.state_delta))
                elif isinstance(step, agent.Answer):
                    if silent and changed:
                        continue
                    stream.event(content=_model_text(step.text))
                    if changed and st.config.trailing_issue_text:
                        await asyncio.sleep(st.config.step_delay_s)
                        stream.event(content=_model_text(_TEMP_ISSUE))
                await asyncio.sleep(st.config.step_delay_s)
            refund = False
    finally:
        if gen is not None:
            with contextlib.suppress(BaseException):
                await gen.aclose()  # type: ignore[attr-defined]
        _settle(user, cost, refund=refund)
        stream.close()


async def _fail_run(st: EmulatorState, stream: _RunStream, failure: str, intent: agent.Intent) -> None:
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


def _message_text(message: Any) -> str:
    if isinstance(message, str):
        return message
    if not isinstance(message, dict):
        return ""
    parts = message.get("parts") or []
    return "\n".join(str(p.get("text")) for p in parts if isinstance(p, dict) and p.get("text"))


async def run_sse(request: web.Request) -> web.StreamResponse:
    """[3] ``POST /run_sse``: one agent run as an ADK event stream (``text/event-stream``).

    The run itself is a background task: the handler only relays its frames, so a dropped
    connection (``config.drop_stream_after`` or a client that leaves) does not stop the edit.
    """
    st = _state(request)
    user = _authenticate(request)
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
    _note_attribution(request, sess)
    cost = st.config.run_cost
    if user.available < cost:
        return _envelope(2001, f"insufficient credits: {user.available} available, {cost} needed")
    run_index = st.runs_per_session.get(sid, 0) + 1
    st.runs_per_session[sid] = run_index
    user.available -= cost
    user.frozen += cost
    stream = _RunStream(f"e-{uuid.uuid4()}")
    profile = request.headers.get("X-Skill-Source") or None
    st.spawn(
        _run_job(_base_url(request), st, sess, user, stream, _message_text(message), profile, run_index, cost),
        name=f"run:{sid}:{run_index}",
    )

    resp = web.StreamResponse(
        status=200,
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    drop_after = st.config.drop_stream_after
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


# --------------------------------------------------------------------------- renders


def _render_view(request: web.Request, rec: RenderRecord) -> dict[str, Any]:
    """The render status in the configured shape A, B or C (contract section 5)."""
    st = _state(request)
    shape = st.config.render_shape
    url = None
    if rec.status == "completed" and not st.config.omit_output_url:
        url = f"{_base_url(request)}/renders/{quote(rec.id)}.mp4"
    progress = int(round(rec.progress))
    if shape == "A":
        data: dict[str, Any] = {
            "id": rec.id,
            "status": rec.status,
            "progress": progress,
            "createdAt": _iso(rec.created_at),
        }
        if url:
            data["outputUrl"] = url
        if rec.completed_at is not None:
            data["completedAt"] = _iso(rec.completed_at)
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


def _draft_ready(draft: Any) -> bool:
    return isinstance(draft, dict) and any(
        isinstance(t, dict) and isinstance(t.get("sg"), list) and t["sg"] for t in draft.get("t") or []
    )


async def _render_job(st: EmulatorState, rec: RenderRecord) -> None:
    """pending -> processing -> completed | failed, with real ffmpeg progress."""
    try:
        await asyncio.sleep(st.config.render_pending_s)
        if rec.cancel_event.is_set():
            return
        rec.status = "processing"
        if st.config.fail_first_render and rec.attempt == 1:
            for pct in (5.0, 15.0, 30.0):
                await asyncio.sleep(max(0.02, st.config.render_pending_s / 2))
                if rec.cancel_event.is_set():
                    return
                rec.progress = pct
            _finish(rec, "failed", error="render worker crashed (lambda timeout); please retry")
            return

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


def _finish(rec: RenderRecord, status: str, *, error: str | None = None) -> None:
    rec.status = status
    rec.error = error
    rec.completed_at = time.time()


async def render_submit(request: web.Request) -> web.Response:
    """[5] ``POST /api/render/proxy/lambda`` ``{id, sessionId, draft, output}``."""
    st = _state(request)
    user = _authenticate(request)
    attribution = _attribution(request)
    body = await _json_body(request, optional=True)
    sid = str(body.get("sessionId") or body.get("session_id") or "")
    sess = st.sessions.get(sid)
    if sess is not None and sess.user_id == user.user_id:
        _note_attribution(request, sess)
    missing = [f"X-Skill-{k.title()}" for k, v in attribution.items() if not v]
    if missing:
        raise _render_error(402, f"export blocked: missing attribution headers {', '.join(missing)}")
    rid = body.get("id")
    if not isinstance(rid, str) or not _RENDER_ID.match(rid):
        raise _render_error(400, "render id must be 1-128 characters of letters, digits, '_', '-' or '.'")
    if sess is None or sess.user_id != user.user_id:
        raise _render_error(404, f"session not found: {sid}")
    draft = body.get("draft")
    if not _draft_ready(draft):
        raise _render_error(400, "nothing to render: the draft has no segments")
    if rid in st.renders:
        raise _render_error(409, f"render id already used: {rid}")
    if any(r.active and r.session_id == sid for r in st.renders.values()):
        raise _render_error(409, "render already in progress")
    attempt = st.render_attempts.get(sid, 0) + 1
    st.render_attempts[sid] = attempt
    rec = RenderRecord(id=rid, session_id=sid, user_id=user.user_id, draft=copy.deepcopy(draft), attempt=attempt)
    st.renders[rid] = rec
    rec.task = st.spawn(_render_job(st, rec), name=f"render:{rid}")
    return web.json_response({"success": True, "data": {"id": rid, "status": "pending"}})


def _render_or_404(request: web.Request, user: User) -> RenderRecord:
    rec = _state(request).renders.get(request.match_info["rid"])
    if rec is None or rec.user_id != user.user_id:
        raise _render_error(404, "not found")
    return rec


async def render_status(request: web.Request) -> web.Response:
    """[5] ``GET /api/render/proxy/lambda/<id>`` in shape A, B or C."""
    user = _authenticate(request)
    rec = _render_or_404(request, user)
    return web.json_response(_render_view(request, rec))


async def render_cancel(request: web.Request) -> web.Response:
    """[5] ``POST /api/render/proxy/lambda/<id>/cancel``: the render ends ``failed`` / ``cancelled``."""
    user = _authenticate(request)
    rec = _render_or_404(request, user)
    if not rec.active:
        raise _render_error(409, f"render already {rec.status}")
    rec.cancel_event.set()
    _finish(rec, "failed", error="cancelled")
    return web.json_response({"success": True, "data": {"id": rec.id, "status": rec.status, "error": rec.error}})


async def _mp4_response(request: web.Request, rec: RenderRecord) -> web.StreamResponse:
    assert rec.output_path is not None
    st = _state(request)
    if st.config.break_downloads and rec.id not in st.broken_downloads:
        st.broken_downloads.add(rec.id)
        st.faults["broken_download"] = st.faults.get("broken_download", 0) + 1
        size = rec.output_path.stat().st_size
        resp = web.StreamResponse(headers={"Content-Type": "video/mp4", "Content-Length": str(size)})
        await resp.prepare(request)
        with open(rec.output_path, "rb") as fh:
            await resp.write(fh.read(size // 2))
        if request.transport is not None:
            request.transport.close()  # half the promised bytes, then the connection drops
        return resp
    return web.FileResponse(
        rec.output_path,
        headers={"Content-Type": "video/mp4", "Content-Disposition": f'attachment; filename="{rec.id}.mp4"'},
    )


async def render_download(request: web.Request) -> web.StreamResponse:
    """[5] ``GET /api/render/proxy/<id>/download`` (bearer): the MP4 bytes."""
    user = _authenticate(request)
    rec = _render_or_404(request, user)
    if rec.status != "completed" or rec.output_path is None or not rec.output_path.is_file():
        raise _render_error(409, f"render not completed (status {rec.status})")
    return await _mp4_response(request, rec)


async def render_file(request: web.Request) -> web.StreamResponse:
    """``GET /renders/<id>.mp4``: completed render outputs, no auth."""
    name = request.match_info["name"]
    rec = _state(request).renders.get(name[: -len(".mp4")] if name.endswith(".mp4") else "")
    if rec is None or rec.status != "completed" or rec.output_path is None or not rec.output_path.is_file():
        raise web.HTTPNotFound()
    return await _mp4_response(request, rec)


# --------------------------------------------------------------------------- app and server


def create_app(config: EmulatorConfig | None = None, data_dir: Path | str | None = None) -> web.Application:
    """Build the emulator's aiohttp application.

    Args:
        config: The switches; a default :class:`EmulatorConfig` when ``None``.
        data_dir: Folder for uploads, generated media and renders. ``None``: a fresh temp
            folder, deleted when the app shuts down.

    Returns:
        The application; its :class:`EmulatorState` is ``app[STATE_KEY]``. On cleanup it
        stops all agent runs and renders and closes its HTTP client.
    """
    owns_dir = data_dir is None
    root = Path(tempfile.mkdtemp(prefix="nemo-emulator-")) if data_dir is None else Path(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    app = web.Application(middlewares=[_errors], client_max_size=16 * 1024 * 1024)
    app[STATE_KEY] = EmulatorState(config or EmulatorConfig(), root)
    app[_OWNS_DIR_KEY] = owns_dir
    app.router.add_post("/api/auth/anonymous-token", anonymous_token)
    app.router.add_post("/api/tasks/me/with-session/nemo_agent", create_session)
    app.router.add_post("/api/auth/claim-token", claim_token)
    app.router.add_post("/run_sse", run_sse)
    app.router.add_post("/api/upload-video/nemo_agent/me/{sid}", upload)
    app.router.add_get("/api/credits/balance/simple", credits_balance)
    app.router.add_get("/api/state/nemo_agent/me/{sid}/latest", session_state)
    app.router.add_post("/api/render/proxy/lambda", render_submit)
    app.router.add_get("/api/render/proxy/lambda/{rid}", render_status)
    app.router.add_post("/api/render/proxy/lambda/{rid}/cancel", render_cancel)
    app.router.add_get("/api/render/proxy/{rid}/download", render_download)
    app.router.add_get("/cdn/{folder}/{name}", cdn_file)
    app.router.add_get("/renders/{name}", render_file)
    app.on_shutdown.append(_on_shutdown)
    app.on_cleanup.append(_on_cleanup)
    return app


async def _on_shutdown(app: web.Application) -> None:
    await app[STATE_KEY].aclose()


async def _on_cleanup(app: web.Application) -> None:
    st = app[STATE_KEY]
    await st.aclose()
    if app[_OWNS_DIR_KEY]:
        st.remove_data_dir()


class Emulator:
    """A running emulator server, for tests, demos and the CLI.

    Usage::

        async with Emulator(EmulatorConfig(step_delay_s=0)) as emu:
            base = emu.url          # "http://127.0.0.1:<port>"
            emu.config.silent_share = 1.0
            emu.expire_tokens()

    Attributes:
        url: Base URL once started (``None`` before).
        state: The :class:`EmulatorState` (users, sessions, uploads, renders, counters).
    """

    def __init__(self, config: EmulatorConfig | None = None, data_dir: Path | str | None = None) -> None:
        """Prepare (not start) an emulator.

        Args:
            config: The switches (default :class:`EmulatorConfig`).
            data_dir: Media folder; ``None``: a temp folder removed by :meth:`stop`.
        """
        self.app = create_app(config, data_dir)
        self.state: EmulatorState = self.app[STATE_KEY]
        self.url: str | None = None
        self._runner: web.AppRunner | None = None

    @property
    def config(self) -> EmulatorConfig:
        """The live switches; change fields or assign a new object at any time."""
        return self.state.config

    @config.setter
    def config(self, value: EmulatorConfig) -> None:
        self.state.config = value

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on ``host:port`` (port 0: a free port).

        Returns:
            The base URL, e.g. ``"http://127.0.0.1:40123"``.

        Raises:
            RuntimeError: already started.
            OSError: the address cannot be bound.
        """
        if self._runner is not None:
            raise RuntimeError("emulator already started")
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=5.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        bound = runner.addresses[0]
        real_port = bound[1]
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{real_port}"
        return self.url

    async def stop(self) -> None:
        """Stop the server, every agent run and render; remove the temp data folder. Idempotent."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        else:
            await _on_cleanup(self.app)

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # test controls

    def expire_tokens(self) -> None:
        """Every token issued so far becomes invalid (new ones from the same client id work)."""
        self.state.expire_tokens()

    def drop_session(self, session_id: str) -> None:
        """Forget a session: its calls get 1002 and ``/run_sse`` 404."""
        self.state.drop_session(session_id)

    def set_credits(self, user_id: str, n: int) -> None:
        """Set a user's available credits.

        Raises:
            KeyError: unknown user id.
        """
        self.state.set_credits(user_id, n)


async def serve(
    host: str = "127.0.0.1", port: int = 8765, config: EmulatorConfig | None = None, data_dir: Path | str | None = None
) -> None:
    """Run an emulator until cancelled (the CLI's ``nemobot emulator --host --port``).

    Logs one line with the URL (through the ``emulator`` logger when logging is configured,
    else on stderr); no access log.

    Args:
        host: Interface to bind.
        port: TCP port (0: a free one).
        config: The switches.
        data_dir: Media folder; ``None``: a temp folder removed on exit.
    """
    emu = Emulator(config, data_dir)
    url = await emu.start(host, port)
    line = f"NemoVideo emulator listening on {url}"
    if logging.getLogger().handlers and log.isEnabledFor(logging.INFO):
        log.info(line)
    else:
        print(line, file=sys.stderr, flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await emu.stop()
