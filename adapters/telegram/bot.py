"""The adapter's PTB bot: an ``ExtBot`` whose long polling a bad update or a failing Bot API
cannot stall.

Why (python-telegram-bot 22.8): ``Bot.get_updates`` de-jsons the whole ``result`` list at
once, so one update it cannot parse (a ``poll`` from an older Bot API server, whose options
lack ``persistent_id``; any malformed object) raises for the whole batch. ``Updater`` then
logs the batch (update contents included) at CRITICAL and asks again at once with the same
``offset``: with ``poll_interval=0`` that is hundreds of requests a second, and nobody in
the batch is answered. Answers that are not the Bot API's envelope (``{"ok": true}`` without
``result``) spin the same way; errors PTB does count (502, non-JSON) are retried after 1 s
growing to 30 s, each logged at ERROR with a traceback and the answer's text.

:class:`PollingBot` overrides :meth:`~telegram.Bot.get_updates` (the public method the
``Updater`` calls; the bot is handed to ``Application.builder().bot(...)``):

* each update is de-jsoned on its own (:func:`parse_update`); one that fails is logged once
  (update id and error type, never its content) and handed on as a bare
  ``Update(update_id)`` that no handler takes, so the ``Updater`` confirms it with its batch;
* a failed long poll is logged (one WARNING per run of failures, then one a minute) and
  answered with no updates after a back-off (:func:`backoff_delay`: 0.5 s doubling to 5 s),
  so PTB's own retry loop never spins. ``RetryAfter`` and ``InvalidToken`` still reach PTB,
  which waits ``retry_after`` or stops polling.

It reads the raw ``result`` through ``Bot._post``, the one protected method it uses: PTB has
no public way to get the undecoded list (``do_api_request("getUpdates")`` warns that the
endpoint has a method). Its requests are :class:`QuietRequest`, which does not log an
answer that is not JSON (PTB logs the whole body at ERROR).
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import logging
from collections.abc import Sequence
from typing import Any

from telegram import Update
from telegram.error import InvalidToken, RetryAfter, TelegramError
from telegram.ext import BaseRateLimiter, ExtBot
from telegram.request import BaseRequest, HTTPXRequest

log = logging.getLogger(__name__)

BACKOFF_FIRST_S = 0.5
"""Wait after the first failed poll of a run, in seconds."""
BACKOFF_MAX_S = 5.0
"""Longest wait between failed polls, in seconds: a recovered Bot API is used again soon."""
WARN_EVERY_S = 60.0
"""While polls keep failing, a WARNING at most this often (seconds); DEBUG in between."""

_DEFAULT = BaseRequest.DEFAULT_NONE


def backoff_delay(failures: int) -> float:
    """Seconds to wait after the ``failures``-th failed poll in a row.

    Args:
        failures: Failed polls in a row, 1 for the first.

    Returns:
        0.5, 1, 2, 4, then :data:`BACKOFF_MAX_S` (5 s).
    """
    return min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2.0 ** min(max(failures - 1, 0), 16))


def parse_update(data: object, bot: ExtBot[Any]) -> Update | None:
    """One update from its JSON object, or ``None`` if PTB cannot parse it.

    A failure is logged as one WARNING with the update's id and the error type; the update's
    content (users' messages) and the error's text (which may quote it) are not logged.

    Args:
        data: One item of ``getUpdates``' ``result``, or a webhook request's body.
        bot: The bot the update is bound to.

    Returns:
        The ``Update``, or ``None``.
    """
    try:
        if not isinstance(data, dict):
            raise TypeError("an update is a JSON object")
        update = Update.de_json(data, bot)
        bot.insert_callback_data(update)
    except Exception as exc:  # noqa: BLE001  (whatever PTB raises: the update is skipped, not the batch)
        update_id = data.get("update_id") if isinstance(data, dict) else None
        log.warning(
            "Telegram update %s skipped: cannot parse it (%s)",
            update_id if isinstance(update_id, int) else "without id",
            type(exc).__name__,
        )
        return None
    return update


class QuietRequest(HTTPXRequest):
    """PTB's ``HTTPXRequest`` that does not log an answer which is not JSON.

    ``BaseRequest.parse_json_payload`` logs the whole body at ERROR (an HTML error page from a
    proxy, or a truncated answer with users' messages); PTB documents overriding it.
    """

    __slots__ = ()

    @staticmethod
    def parse_json_payload(payload: bytes) -> dict[str, Any]:
        """The JSON of an answer.

        Raises:
            TelegramError: The answer is not JSON (its text is not logged).
        """
        try:
            return json.loads(payload.decode("utf-8", "replace"))
        except ValueError:
            raise TelegramError("Invalid server response (not JSON)") from None


def _seconds(timeout: float | dtm.timedelta | None) -> float:
    if isinstance(timeout, dtm.timedelta):
        return timeout.total_seconds()
    return float(timeout or 0)


class PollingBot(ExtBot[Any]):
    """PTB's ``ExtBot`` with a ``getUpdates`` that skips unparsable updates and backs off
    after failures (see the module docstring).

    Args:
        token: The bot token.
        api_url: A Bot API server's root (``http://host:port``, the local ``telegram-bot-api``
            or a fake) instead of ``https://api.telegram.org``.
        local_mode: The server is a local Bot API server (file paths on disk).
        rate_limiter: PTB's rate limiter for the bot's requests (never for ``getUpdates``).
    """

    __slots__ = ("_poll_failures", "_poll_request", "_poll_warned_at")

    def __init__(
        self,
        token: str,
        *,
        api_url: str | None = None,
        local_mode: bool = False,
        rate_limiter: BaseRateLimiter[Any] | None = None,
    ) -> None:
        # the pool sizes PTB's ApplicationBuilder uses: 256 for requests, 1 for getUpdates
        self._poll_request = QuietRequest(connection_pool_size=1)
        self._poll_failures = 0
        self._poll_warned_at = 0.0
        root = api_url or "https://api.telegram.org"
        super().__init__(
            token,
            base_url=f"{root}/bot",
            base_file_url=f"{root}/file/bot",
            request=QuietRequest(connection_pool_size=256),
            get_updates_request=self._poll_request,
            local_mode=local_mode,
            rate_limiter=rate_limiter,
        )

    async def get_updates(
        self,
        offset: int | None = None,
        limit: int | None = None,
        timeout: float | dtm.timedelta | None = None,  # noqa: ASYNC109  (Bot.get_updates' signature)
        allowed_updates: Sequence[str] | None = None,
        *,
        read_timeout: Any = _DEFAULT,
        write_timeout: Any = _DEFAULT,
        connect_timeout: Any = _DEFAULT,
        pool_timeout: Any = _DEFAULT,
        api_kwargs: dict[str, Any] | None = None,
    ) -> tuple[Update, ...]:
        """``getUpdates``, as ``Bot.get_updates``, but an unparsable update does not fail the
        batch and a failed long poll does not raise.

        Args:
            offset: First update id wanted (confirms the ones below it).
            limit: At most this many updates (1-100).
            timeout: Long polling wait, seconds or a ``timedelta``; 0 or ``None`` for a short
                poll (PTB's last confirming call when it stops).
            allowed_updates: Update types wanted.
            read_timeout: Added to ``timeout`` for the HTTP read, seconds (the request's
                default if not given).
            write_timeout: As in PTB.
            connect_timeout: As in PTB.
            pool_timeout: As in PTB.
            api_kwargs: Extra Bot API parameters.

        Returns:
            The updates; an unparsable one as a bare ``Update(update_id)``; none after a failed
            long poll (returned once the back-off delay has passed).

        Raises:
            RetryAfter: Telegram asked to wait (PTB waits, then polls again).
            InvalidToken: The token was refused (PTB stops polling).
            TelegramError: A short poll failed.
        """
        data: dict[str, Any] = {
            "timeout": timeout,
            "offset": offset,
            "limit": limit,
            "allowed_updates": allowed_updates,
        }
        wait = _seconds(timeout)
        base_read = self._poll_request.read_timeout if read_timeout is _DEFAULT else read_timeout
        try:
            result = await self._post(
                "getUpdates",
                data,
                read_timeout=(base_read or 0) + wait,
                write_timeout=write_timeout,
                connect_timeout=connect_timeout,
                pool_timeout=pool_timeout,
                api_kwargs=api_kwargs,
            )
            if not isinstance(result, list):
                raise TelegramError("getUpdates answered no list")
        except (RetryAfter, InvalidToken):
            raise
        except Exception as exc:  # KeyError, TypeError... from an answer that is not the Bot API's
            if wait <= 0:
                if isinstance(exc, TelegramError):
                    raise
                raise TelegramError(f"getUpdates failed: {type(exc).__name__}") from None
            await self._back_off(type(exc).__name__)
            return ()
        updates = []
        for item in result:
            update_id = item.get("update_id") if isinstance(item, dict) else None
            if not isinstance(update_id, int):
                log.debug("getUpdates answered an item without update_id: ignored")
                continue
            update = parse_update(item, self)
            if update is None:  # confirmed with its batch; no handler takes an empty update
                update = Update(update_id=update_id)
                update.set_bot(self)
            updates.append(update)
        if result and not updates and wait > 0:
            await self._back_off("no update with an update_id")
            return ()
        if self._poll_failures:
            log.info("Telegram getUpdates works again after %d failed attempts", self._poll_failures)
            self._poll_failures = 0
        return tuple(updates)

    async def _back_off(self, error: str) -> None:
        """Log a failed long poll (rate limited) and wait :func:`backoff_delay` seconds."""
        self._poll_failures += 1
        delay = backoff_delay(self._poll_failures)
        now = asyncio.get_running_loop().time()
        first = self._poll_failures == 1
        level = logging.WARNING if first or now - self._poll_warned_at >= WARN_EVERY_S else logging.DEBUG
        if level == logging.WARNING:
            self._poll_warned_at = now
        log.log(
            level,
            "Telegram getUpdates failed (%s, %d in a row); polling again in %.1f s",
            error,
            self._poll_failures,
            delay,
        )
        await asyncio.sleep(delay)
