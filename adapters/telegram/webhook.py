"""The webhook server of the Telegram adapter (``TELEGRAM_WEBHOOK_URL`` set).

Why not PTB's own (``Updater.start_webhook``, python-telegram-bot 22.8): its tornado handler
(``telegram.ext._utils.webhookhandler.TelegramHandler``, a private module) compares the
``X-Telegram-Bot-Api-Secret-Token`` header with ``!=`` and is built inside the private
``Updater._start_webhook`` with no way to add a check in front of it; it also logs an update
it cannot parse with its whole content at CRITICAL and answers 400, which makes Telegram
retry it. PTB's documented alternative for custom servers ("Custom Webhook Bot" examples) is
an ``Application`` built with ``updater(None)`` and a web server of one's own that puts
``Update`` objects on ``application.update_queue``; this module is that server, on aiohttp:

* the secret is compared in constant time (:func:`secret_matches`, ``hmac.compare_digest``)
  before anything else is read; a wrong or missing one gets 403, like PTB;
* the body must be JSON (``Content-Type: application/json``, 403 otherwise, like PTB) and an
  object with an integer ``update_id`` (400 otherwise);
* an update PTB cannot parse is logged once (id and error type) and answered 200, so
  Telegram does not retry it (:func:`adapters.telegram.bot.parse_update`).

Listening on a public address logs a WARNING at start (:func:`is_public_listen`): the server
should sit behind a reverse proxy that terminates TLS.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
from http import HTTPStatus
from typing import Any

from aiohttp import web
from telegram.ext import ExtBot

from adapters.telegram.bot import parse_update

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
"""Telegram sends ``setWebhook``'s ``secret_token`` in this header (Bot API, setWebhook)."""
MAX_BODY_BYTES = 1024 * 1024
"""Largest webhook body read, in bytes (updates are a few KB)."""


def secret_matches(given: str | None, expected: str) -> bool:
    """Whether a request's secret header equals the configured secret, in constant time.

    Args:
        given: The header's value, ``None`` if absent.
        expected: The configured ``TELEGRAM_WEBHOOK_SECRET``.

    Returns:
        ``True`` only for an exact match. Compared as UTF-8 bytes, so any header value works
        (``hmac.compare_digest`` refuses non-ASCII ``str``).
    """
    if not given:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape"))


def is_public_listen(host: str) -> bool:
    """Whether a listen address may be reachable from the internet.

    Loopback, private (RFC 1918, ``fc00::/7``), link-local and ``localhost`` are not; the
    wildcards ``0.0.0.0``, ``::`` and ``""`` (every interface) are, as are global addresses
    and host names other than ``localhost`` (what they resolve to is not known here).

    Args:
        host: ``TELEGRAM_WEBHOOK_LISTEN``.

    Returns:
        ``True`` if the server should sit behind a reverse proxy.
    """
    name = host.strip().strip("[]")
    if name.lower() == "localhost":
        return False
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return True  # "" (every interface) or a host name
    if address.is_unspecified:
        return True
    return not (address.is_loopback or address.is_private or address.is_link_local)


class WebhookServer:
    """An aiohttp server receiving Telegram's webhook requests (see the module docstring).

    Args:
        bot: The application's bot (updates are bound to it; it calls ``setWebhook``).
        update_queue: ``Application.update_queue``.
        listen: Address to listen on.
        port: TCP port.
        path: URL path of the webhook (``/tg/hook``).
        secret: The secret Telegram must send; ``None`` accepts every request.
    """

    def __init__(
        self,
        bot: ExtBot[Any],
        update_queue: asyncio.Queue[object],
        *,
        listen: str,
        port: int,
        path: str,
        secret: str | None,
    ) -> None:
        self.bot = bot
        self.update_queue = update_queue
        self.listen = listen
        self.port = port
        self.path = "/" + path.strip("/")
        self._secret = secret
        self._runner: web.AppRunner | None = None

    async def start(self, *, webhook_url: str, allowed_updates: list[str]) -> None:
        """Listen, then tell Telegram where to deliver (``setWebhook`` with the secret).

        Args:
            webhook_url: The public HTTPS URL Telegram posts to.
            allowed_updates: Update types wanted.

        Raises:
            OSError: The address cannot be bound.
            telegram.error.TelegramError: ``setWebhook`` failed (the server is stopped again).
        """
        if is_public_listen(self.listen):
            log.warning(
                "the Telegram webhook listens on %r, a public address: anyone who can reach port %s can "
                "send it requests; put it behind a reverse proxy and listen on 127.0.0.1 or a private address",
                self.listen,
                self.port,
            )
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_post(self.path, self._handle)
        if self.path != "/":
            app.router.add_post(self.path + "/", self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.listen or None, self.port).start()
            await self.bot.set_webhook(url=webhook_url, secret_token=self._secret, allowed_updates=allowed_updates)
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner

    async def stop(self) -> None:
        """Stop listening (the webhook stays set, as with PTB). Idempotent."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        if self._secret is not None and not secret_matches(request.headers.get(SECRET_HEADER), self._secret):
            log.debug("webhook request refused: wrong or missing secret")
            return web.Response(status=HTTPStatus.FORBIDDEN)
        if request.content_type != "application/json":
            return web.Response(status=HTTPStatus.FORBIDDEN)
        try:
            data = await request.json()
        except ValueError:
            return web.Response(status=HTTPStatus.BAD_REQUEST)
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return web.Response(status=HTTPStatus.BAD_REQUEST)
        update = parse_update(data, self.bot)
        if update is not None:
            await self.update_queue.put(update)
        return web.Response(status=HTTPStatus.OK)
