"""In-memory model of the emulator: users, tokens, sessions, uploads, runs and renders.

Everything lives in one :class:`EmulatorState` object per server (``Emulator.state``), which
tests may read and change directly. Nothing is persisted: media files live under the state's
``data_dir`` (``cdn/<hash>/<name>`` for uploads and generated media, ``renders/<id>.mp4``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import functools
import logging
import random
import secrets
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import aiohttp

from emulator.config import EmulatorConfig
from emulator.records import RenderRecord, Session, Token, UploadRecord, User, initial_session_state

__all__ = [
    "EmulatorState",
    "RenderRecord",
    "Session",
    "Token",
    "UploadRecord",
    "User",
    "initial_session_state",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T")


class EmulatorState:
    """Everything the emulator knows, plus the test controls.

    Attributes:
        config: The live :class:`EmulatorConfig` (read at request time).
        data_dir: Root folder for media files.
        users: By user id.
        clients: ``X-Client-Id`` -> user id.
        tokens: By token string.
        sessions: By session id.
        uploads: Every accepted upload, in order.
        renders: By render id.
        runs_per_session: Accepted ``/run_sse`` runs per session id.
        render_attempts: Render submissions per session id.
        attribution: Last seen ``X-Skill-*`` headers per session id (same dict as
            :attr:`Session.attribution`, kept after a session is dropped).
        score_cache: Motion scores shared by all runs, keyed ``(path, start_ms, dur_ms)``.
    """

    def __init__(self, config: EmulatorConfig, data_dir: Path) -> None:
        self.config = config
        self.data_dir = Path(data_dir)
        self.users: dict[str, User] = {}
        self.clients: dict[str, str] = {}
        self.tokens: dict[str, Token] = {}
        self.sessions: dict[str, Session] = {}
        self.uploads: list[UploadRecord] = []
        self.upload_calls = 0
        self.faults: dict[str, int] = {}
        self.fault_rng = random.Random(f"faults:{config.seed}")
        self.broken_downloads: set[str] = set()
        self.renders: dict[str, RenderRecord] = {}
        self.runs_per_session: dict[str, int] = {}
        self.render_attempts: dict[str, int] = {}
        self.attribution: dict[str, dict[str, str | None]] = {}
        self.score_cache: dict[tuple[str, int, int | None], float] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="nemo-emulator")
        self._io_pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="nemo-emulator-io")
        self._threads: set[concurrent.futures.Future[Any]] = set()
        self._http: aiohttp.ClientSession | None = None
        self._closed = False

    # ------------------------------------------------------------------ folders

    @property
    def cdn_dir(self) -> Path:
        """``<data_dir>/cdn``: uploads and generated media, served at ``/cdn/<dir>/<name>``."""
        return self.data_dir / "cdn"

    @property
    def renders_dir(self) -> Path:
        """``<data_dir>/renders``: render outputs, served at ``/renders/<id>.mp4``."""
        return self.data_dir / "renders"

    @property
    def incoming_dir(self) -> Path:
        """``<data_dir>/incoming``: uploads being received."""
        return self.data_dir / "incoming"

    def cdn_file(self, folder: str, name: str) -> Path | None:
        """The local file behind ``/cdn/<folder>/<name>``, or ``None`` if there is none.

        Rejects names that could leave the cdn folder.
        """
        for part in (folder, name):
            if not part or part in (".", "..") or "/" in part or "\\" in part or part.startswith("."):
                return None
        path = self.cdn_dir / folder / name
        return path if path.is_file() else None

    def resolve(self, url: str) -> Path:
        """Map a media URL the emulator serves to its local file (renderer and agent use it).

        Accepts full URLs (any host: only the path counts) and bare paths:
        ``/cdn/<folder>/<name>`` and ``/renders/<id>.mp4``.

        Raises:
            KeyError: the URL is not one of the emulator's files.
        """
        path = unquote(urlsplit(url).path)
        parts = [p for p in path.split("/") if p]
        if len(parts) == 3 and parts[0] == "cdn":
            found = self.cdn_file(parts[1], parts[2])
            if found is not None:
                return found
        if len(parts) == 2 and parts[0] == "renders" and parts[1].endswith(".mp4"):
            rec = self.renders.get(parts[1][: -len(".mp4")])
            if rec and rec.output_path and rec.output_path.is_file():
                return rec.output_path
        raise KeyError(f"not an emulator media URL: {url}")

    # ------------------------------------------------------------------ users and tokens

    def user_for_client(self, client_id: str) -> User:
        """The user of an ``X-Client-Id``, created with the initial credits on first use."""
        uid = self.clients.get(client_id)
        if uid is None or uid not in self.users:
            uid = f"anon_{secrets.token_hex(6)}"
            n = self.config.initial_credits
            self.users[uid] = User(user_id=uid, client_id=client_id, available=n, granted=n)
            self.clients[client_id] = uid
        return self.users[uid]

    def issue_token(self, user: User) -> Token:
        """A fresh token for ``user``, valid for ``config.token_ttl_s`` seconds."""
        tok = Token(
            value=f"nmv_usr_{secrets.token_hex(16)}",
            user_id=user.user_id,
            expires_at=time.time() + self.config.token_ttl_s,
        )
        self.tokens[tok.value] = tok
        return tok

    def expire_tokens(self) -> None:
        """Test control: every token issued so far stops working (new ones work)."""
        for tok in self.tokens.values():
            tok.expires_at = 0.0

    def set_credits(self, user_id: str, n: int) -> None:
        """Test control: set a user's available credits (frozen ones are kept).

        Raises:
            KeyError: unknown user id.
        """
        user = self.users[user_id]
        user.available = int(n)
        user.granted = user.consumed + user.frozen + user.available

    # ------------------------------------------------------------------ sessions

    def new_session(self, user: User, task_name: str, language: str) -> Session:
        """Create a session for ``user`` with the initial state."""
        sess = Session(
            session_id=f"ses_{secrets.token_hex(8)}",
            task_id=f"task_{secrets.token_hex(8)}",
            user_id=user.user_id,
            task_name=task_name,
            language=language,
        )
        self.sessions[sess.session_id] = sess
        self.attribution.setdefault(sess.session_id, sess.attribution)
        return sess

    def drop_session(self, session_id: str) -> None:
        """Test control: forget a session (its calls then get 1002, ``/run_sse`` 404)."""
        self.sessions.pop(session_id, None)

    def session_snapshot(self, session_id: str) -> dict[str, Any]:
        """A deep copy of a session's state.

        Raises:
            KeyError: unknown session.
        """
        return copy.deepcopy(self.sessions[session_id].state)

    # ------------------------------------------------------------------ background work

    def spawn(self, coro: Any, *, name: str | None = None) -> asyncio.Task[Any]:
        """Run a coroutine as a tracked background task (cancelled by :meth:`aclose`)."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    async def to_thread(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        """Run blocking work (probe, scores, music, renders) in the emulator's thread pool.

        Like :func:`asyncio.to_thread`, but :meth:`aclose` waits for these threads, so no
        ffmpeg keeps writing into ``data_dir`` after the server stopped.
        """
        return await self._in_pool(self._pool, functools.partial(fn, *args, **kwargs))

    async def file_io(self, fn: Callable[..., _T], /, *args: Any) -> _T:
        """Run a short blocking file operation (open, write or read a chunk, close) off the event loop.

        Uses its own small thread pool, so uploads and downloads never wait behind renders and
        motion scores in :meth:`to_thread`'s pool; :meth:`aclose` waits for these threads too.
        """
        result: _T = await self._in_pool(self._io_pool, functools.partial(fn, *args))
        return result

    async def _in_pool(self, pool: concurrent.futures.ThreadPoolExecutor, call: Callable[[], Any]) -> Any:
        fut = pool.submit(call)
        self._threads.add(fut)
        fut.add_done_callback(self._threads.discard)
        return await asyncio.wrap_future(fut)

    def http(self) -> aiohttp.ClientSession:
        """The shared client session for URL uploads (created lazily, closed by :meth:`aclose`)."""
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.config.url_fetch_timeout_s),
                auto_decompress=False,
            )
        return self._http

    async def idle(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109 - a test helper that must not hang by default
        """Wait until no background task (agent run or render) is running (for tests).

        Raises:
            TimeoutError: still busy after ``timeout`` seconds.
        """
        deadline = asyncio.get_running_loop().time() + timeout
        while self._tasks:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise TimeoutError("emulator still busy")
            await asyncio.wait(set(self._tasks), timeout=left)

    async def aclose(self, *, grace_s: float = 5.0) -> None:
        """Stop all background work and close the client session.

        Renders are asked to stop (their ffmpeg is killed) and given ``grace_s`` seconds to
        wind down; then every remaining task is cancelled and awaited.
        """
        if self._closed:
            return
        self._closed = True
        for rec in self.renders.values():
            rec.cancel_event.set()
        render_tasks = {r.task for r in self.renders.values() if r.task is not None and not r.task.done()}
        if render_tasks:
            await asyncio.wait(render_tasks, timeout=grace_s)
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
            self._http = None
        pending = set(self._threads)
        if pending:  # blocking work whose awaiting task was cancelled: let it finish
            await asyncio.get_running_loop().run_in_executor(
                None, functools.partial(concurrent.futures.wait, pending, timeout=grace_s)
            )
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._io_pool.shutdown(wait=False, cancel_futures=True)

    def remove_data_dir(self) -> None:
        """Delete ``data_dir`` and everything in it."""
        shutil.rmtree(self.data_dir, ignore_errors=True)
