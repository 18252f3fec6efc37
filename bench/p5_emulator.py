"""A seeded NemoVideo emulator for benchmark P5 (restart with many unfinished renders).

Starts the local emulator (:class:`emulator.app.Emulator`, default config) with one user,
one long-lived bearer token and ``--jobs`` sessions, each with one render that stays
``processing``: the records are put straight into ``emulator.state`` with no render task,
so the render-status route reports them as processing for ever and no ffmpeg ever runs.

Two bench-only additions:

* a middleware that records, per render id, when its status was first answered (HTTP 200,
  ``time.time()`` so the figure compares across processes), and which sessions' state was
  read;
* ``GET /bench/p5/polled`` -> ``{"renders", "first", "last", "states", "requests", "errors"}``
  (distinct renders polled, first/last first-poll times, distinct session states read,
  state and render-status requests, non-200 answers among them; ``?times`` adds every
  first-poll time, sorted) and ``POST /bench/p5/reset`` to clear them.

Used by ``bench/p5_restart_renders.py``; on its own:
``python bench/p5_emulator.py --jobs 10000 [--port 0] [--token nmv_usr_p5bench]``. Once
listening it prints one line ``P5 emulator listening on <url>`` on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from emulator.app import Emulator
from emulator.records import RenderRecord, Session, Token, User

DEFAULT_TOKEN = "nmv_usr_p5bench"
"""The bearer token the seeded emulator accepts (``NEMO_TOKEN`` of the bot)."""
USER_ID = "anon_p5bench"
READY_LINE = "P5 emulator listening on "
STATE_PREFIX = "/api/state/nemo_agent/me/"
RENDER_PREFIX = "/api/render/proxy/lambda/"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def session_id(i: int) -> str:
    """The session of job ``i``."""
    return f"ses_p5_{i:06d}"


def task_id(i: int) -> str:
    """The task of job ``i``'s session."""
    return f"task_p5_{i:06d}"


def render_id(i: int) -> str:
    """The render of job ``i``."""
    return f"render_p5_{i:06d}"


@dataclass
class PollLog:
    """What the bench middleware saw since the last reset."""

    first_poll: dict[str, float] = field(default_factory=dict)
    states: set[str] = field(default_factory=set)
    requests: int = 0
    errors: int = 0

    def summary(self, *, with_times: bool = False) -> dict[str, object]:
        times = self.first_poll.values()
        out: dict[str, object] = {
            "renders": len(self.first_poll),
            "first": min(times) if times else None,
            "last": max(times) if times else None,
            "states": len(self.states),
            "requests": self.requests,
            "errors": self.errors,
        }
        if with_times:
            out["times"] = sorted(times)
        return out


def seed(emu: Emulator, jobs: int, token: str) -> None:
    """One user and token, ``jobs`` sessions, each with one render stuck in ``processing``."""
    st = emu.state
    st.users[USER_ID] = User(user_id=USER_ID, client_id="p5-bench-client", available=100, granted=100)
    st.tokens[token] = Token(value=token, user_id=USER_ID, expires_at=time.time() + 30 * 24 * 3600)
    for i in range(jobs):
        sess = Session(session_id=session_id(i), task_id=task_id(i), user_id=USER_ID, task_name=f"p5 job {i}")
        st.sessions[sess.session_id] = sess
        st.attribution[sess.session_id] = sess.attribution
        st.render_attempts[sess.session_id] = 1
        rec = RenderRecord(
            id=render_id(i),
            session_id=sess.session_id,
            user_id=USER_ID,
            draft={},
            attempt=1,
            status="processing",  # no task: nothing ever moves it on
            progress=40.0,
        )
        st.renders[rec.id] = rec


def add_bench_routes(app: web.Application, log: PollLog) -> None:
    """The recording middleware (outermost) and the ``/bench/p5/*`` routes."""

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        is_render = request.method == "GET" and path.startswith(RENDER_PREFIX)
        is_state = request.method == "GET" and path.startswith(STATE_PREFIX)
        resp = await handler(request)
        if is_render or is_state:
            log.requests += 1
            if resp.status != 200:
                log.errors += 1
            elif is_render:
                log.first_poll.setdefault(path.removeprefix(RENDER_PREFIX), time.time())
            else:
                log.states.add(path.removeprefix(STATE_PREFIX).split("/", 1)[0])
        return resp

    async def polled(request: web.Request) -> web.Response:
        return web.json_response(log.summary(with_times="times" in request.query))

    async def reset(request: web.Request) -> web.Response:
        log.first_poll.clear()
        log.states.clear()
        log.requests = log.errors = 0
        return web.json_response({"ok": True})

    app.middlewares.insert(0, record)
    app.router.add_get("/bench/p5/polled", polled)
    app.router.add_post("/bench/p5/reset", reset)


async def serve(jobs: int, host: str, port: int, token: str) -> None:
    emu = Emulator()
    add_bench_routes(emu.app, PollLog())
    seed(emu, jobs, token)
    url = await emu.start(host, port)
    print(f"{READY_LINE}{url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await emu.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000, help="sessions and processing renders to seed")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: a free port (the URL is printed)")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="the bearer token to accept")
    args = parser.parse_args()
    asyncio.run(serve(args.jobs, args.host, args.port, args.token))
    return 0


if __name__ == "__main__":
    sys.exit(main())
