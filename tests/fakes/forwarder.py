"""A small round-robin load balancer for webhook tests: several bot instances behind one URL.

:class:`RoundRobinForwarder` listens on ``127.0.0.1`` at a free port (the URL every instance
registers with ``setWebhook``) and forwards each ``POST`` to the next instance in turn: the
same path, the same body and ``Content-Type``, and Telegram's
``X-Telegram-Bot-Api-Secret-Token`` header. The instance's answer goes back unchanged.

An instance that refuses the connection (not started yet, or killed) is skipped and the next
one tried, as a load balancer's health check would; only when none accepts the connection
does the forwarder answer 502 (Telegram then keeps the update and delivers it again). Each
request is recorded (:attr:`RoundRobinForwarder.calls`): which instance got it, or none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http import HTTPStatus

import aiohttp
from aiohttp import web

from tests.fakes.base import FakeServer

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
"""Forwarded as is (Telegram sends ``setWebhook``'s ``secret_token`` in it)."""
CONNECT_TIMEOUT_S = 2.0
"""Seconds to wait for an instance to accept the connection before trying the next."""
ANSWER_TIMEOUT_S = 30.0
"""Seconds an instance may take to answer a forwarded request."""


@dataclass
class Forwarded:
    """One request the forwarder received.

    Attributes:
        path: The request path.
        update_id: The body's ``update_id`` (``None`` when it has none).
        target: Index of the instance that answered, ``None`` when none did (answered 502).
        status: The status sent back.
        skipped: Indexes of instances that refused the connection first.
    """

    path: str
    update_id: int | None
    target: int | None = None
    status: int = 0
    skipped: list[int] = field(default_factory=list)


class RoundRobinForwarder(FakeServer[Forwarded]):
    """Forwards every ``POST`` to the next of ``targets`` in turn (see the module docstring).

    Args:
        targets: The instances' base URLs (``http://127.0.0.1:PORT``), in order.

    Attributes:
        url: ``http://127.0.0.1:PORT`` once started.
        targets: The instances' base URLs.
        calls: Every request received, in order (:class:`Forwarded`).
    """

    files_prefix = "forwarder-"

    def __init__(self, targets: list[str]) -> None:
        if not targets:
            raise ValueError("a forwarder needs at least one target")
        super().__init__()
        self.targets = [t.rstrip("/") for t in targets]
        self._next = 0
        self._http: aiohttp.ClientSession | None = None

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post("/{tail:.*}", self._forward)

    def _on_started(self, port: int) -> None:
        timeout = aiohttp.ClientTimeout(total=ANSWER_TIMEOUT_S, sock_connect=CONNECT_TIMEOUT_S)
        # no pooled connections: a killed instance's socket is never reused
        self._http = aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(force_close=True))

    async def _on_stopping(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    def per_target(self) -> list[int]:
        """How many requests each instance answered, by index."""
        counts = [0] * len(self.targets)
        for call in self.calls:
            if call.target is not None:
                counts[call.target] += 1
        return counts

    async def _forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            update = json.loads(body)
            update_id = update.get("update_id") if isinstance(update, dict) else None
        except ValueError:
            update_id = None
        call = Forwarded(request.path_qs, update_id if isinstance(update_id, int) else None)
        self.calls.append(call)
        headers = {"Content-Type": request.headers.get("Content-Type", "application/json")}
        if SECRET_HEADER in request.headers:
            headers[SECRET_HEADER] = request.headers[SECRET_HEADER]
        assert self._http is not None
        n = len(self.targets)
        first = self._next
        self._next = (first + 1) % n
        for step in range(n):
            index = (first + step) % n
            try:
                async with self._http.post(self.targets[index] + request.path_qs, data=body, headers=headers) as resp:
                    answer = await resp.read()
                    call.target, call.status = index, resp.status
                    if step:  # the turn goes on after the one that answered: survivors share evenly
                        self._next = (index + 1) % n
                    self._touch()
                    return web.Response(status=resp.status, body=answer, content_type=resp.content_type)
            except (aiohttp.ClientConnectorError, aiohttp.ServerDisconnectedError, TimeoutError):
                call.skipped.append(index)  # down (refused, or died while answering): try the next one
        call.status = HTTPStatus.BAD_GATEWAY
        self._touch()
        return web.Response(status=HTTPStatus.BAD_GATEWAY, text="no instance answered")
