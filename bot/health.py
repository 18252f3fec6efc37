"""Health, readiness and metrics over HTTP for supervisors and dashboards.

``nemobot run`` serves, on ``HEALTH_PORT`` (default ``127.0.0.1:8080``):

* ``GET /healthz``: 200 while the event loop answers (a liveness probe).
* ``GET /readyz``: 200 when every platform adapter is connected, the store answers and
  NemoVideo is reachable (any HTTP answer from ``NEMO_API_URL`` within 5 s counts); 503
  otherwise. The body is JSON with each check (``{"ready": false, "checks": {...}}``).
* ``GET /metrics``: :mod:`bot.metrics` in the Prometheus text format.

The server is plain aiohttp (the process already runs one event loop and one HTTP stack).
It says nothing secret: no tokens, no chat content.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.metrics import REGISTRY

if TYPE_CHECKING:
    from bot.app import Runtime

log = logging.getLogger(__name__)

BACKEND_TIMEOUT_S = 5.0
"""How long the NemoVideo reachability check waits (s)."""
BACKEND_CACHE_S = 5.0
"""A reachability answer is reused this long (s), so frequent probes do not hammer the backend."""


class HealthServer:
    """The ``/healthz``, ``/readyz`` and ``/metrics`` endpoints of one process.

    Args:
        runtime: The running core (store, client, settings).
        adapters_ready: Returns each enabled platform adapter's name and whether it is connected.
    """

    def __init__(self, runtime: Runtime, adapters_ready: Callable[[], dict[str, bool]]) -> None:
        self.runtime = runtime
        self.adapters_ready = adapters_ready
        self._runner: web.AppRunner | None = None
        self._backend: tuple[float, bool] = (-BACKEND_CACHE_S, False)
        self.url: str | None = None
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        self.app = app

    async def start(self, host: str, port: int) -> None:
        """Listen on ``host:port`` (port 0: any free port; :attr:`url` tells which).

        Raises:
            OSError: The address is taken.
        """
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        bound = sockets[0].getsockname()[1] if sockets else port
        self.url = f"http://{host}:{bound}"
        log.info("health and metrics on %s (/healthz, /readyz, /metrics)", self.url)

    async def stop(self) -> None:
        """Stop listening. Idempotent."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def _readyz(self, request: web.Request) -> web.Response:
        checks: dict[str, bool] = {f"adapter:{name}": ok for name, ok in self.adapters_ready().items()}
        checks["store"] = await self._store_answers()
        checks["nemovideo"] = await self._backend_reachable()
        ready = bool(checks) and all(checks.values())
        return web.json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)

    async def _metrics(self, request: web.Request) -> web.Response:
        body = await asyncio.to_thread(generate_latest, REGISTRY)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _store_answers(self) -> bool:
        try:
            await asyncio.wait_for(self.runtime.store.get_conversation("health:probe"), BACKEND_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            log.warning("readiness: the store does not answer: %s", type(exc).__name__)
            return False
        return True

    async def _backend_reachable(self) -> bool:
        checked_at, ok = self._backend
        if time.monotonic() - checked_at < BACKEND_CACHE_S:
            return ok
        problem = await http_problem(self.runtime.settings.nemo_api_url, BACKEND_TIMEOUT_S)
        if problem:
            log.warning("readiness: NemoVideo is not reachable: %s", problem)
        self._backend = (time.monotonic(), problem is None)
        return problem is None


async def http_problem(url: str, timeout_s: float) -> str | None:
    """Why ``url`` gives no HTTP answer within ``timeout_s`` seconds (the exception's class
    name), or ``None`` when it answers anything at all: the server is there."""
    try:
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        async with (
            aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(force_close=True)) as http,
            http.get(url, allow_redirects=False) as answer,
        ):
            await answer.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        return type(exc).__name__
    return None
