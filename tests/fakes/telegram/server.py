"""A fake Telegram Bot API server for offline end-to-end tests.

:class:`FakeTelegram` is a small aiohttp server on ``127.0.0.1`` that python-telegram-bot
(PTB) reaches exactly like the real Bot API, via
``Application.builder().token(tg.token).base_url(f"{tg.url}/bot").base_file_url(f"{tg.url}/file/bot")``
(or ``telegram.Bot(tg.token, base_url=..., base_file_url=...)``). Tests inject what users do
(``user_text``, ``user_media``, ``press_button``), the bot picks the updates up through
``getUpdates`` long polling (or ``push_webhook``), and everything the bot does is recorded
(``calls``, ``messages``, ``uploaded``, ``commands``, ``webhook``, ``callback_answers``).

It emulates the Bot API methods nemobot uses and nothing else: ``getMe``, ``setMyCommands``,
``setWebhook``, ``deleteWebhook``, ``getUpdates``, ``sendMessage``, ``editMessageText``,
``sendChatAction``, ``sendVideo``, ``sendPhoto``, ``answerCallbackQuery``, ``getFile`` and file downloads.
Other methods answer 404 as unknown ones do on Telegram.

Wire format, as PTB speaks it:

* Methods are ``POST {base_url}{token}/{method}``: PTB appends the token to ``base_url``
  unless it contains ``{token}``, then adds ``/{method}``. Method names are case-insensitive.
* Parameters come as ``application/x-www-form-urlencoded`` (no files) or
  ``multipart/form-data`` (files). Strings are sent verbatim, every other value is JSON encoded
  (ints as ``"5"``, bools as ``"true"``, ``reply_markup`` as a JSON object). An uploaded file
  is a multipart part named after its parameter (``video``).

The class is built in layers, one module per concern, each a subclass of the one below:
:mod:`~tests.fakes.telegram.state` (chats, users, records) <- :mod:`~tests.fakes.telegram.files`
<- :mod:`~tests.fakes.telegram.updates` <- :mod:`~tests.fakes.telegram.messages` <-
:mod:`~tests.fakes.telegram.webhooks` <- :mod:`~tests.fakes.telegram.commands` <- this module
(HTTP dispatch and faults). Limits are in :mod:`~tests.fakes.telegram.limits`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from aiohttp import web

from tests.fakes.base import Fault, UploadedFile, json_response
from tests.fakes.telegram.commands import TelegramCommands
from tests.fakes.telegram.limits import MAX_LOCAL_UPLOAD_BYTES, MAX_UPLOAD_BYTES, MB, ApiError
from tests.fakes.telegram.model import Call, RawFault

METHODS = (
    "getMe",
    "setMyCommands",
    "setWebhook",
    "deleteWebhook",
    "getUpdates",
    "sendMessage",
    "editMessageText",
    "sendChatAction",
    "sendVideo",
    "sendPhoto",
    "answerCallbackQuery",
    "getFile",
)
"""The Bot API methods the fake answers (each by ``_m_<name>``)."""

# Form values that are plain strings (never JSON decoded), whatever they look like.
_STRING_PARAMS = frozenset(
    [
        "text",
        "caption",
        "parse_mode",
        "action",
        "callback_query_id",
        "url",
        "secret_token",
        "ip_address",
        "language_code",
        "file_id",
        "inline_message_id",
        "business_connection_id",
        "message_effect_id",
        "video",
        "photo",
        "thumbnail",
    ]
)

Handler = Callable[[dict[str, Any], dict[str, UploadedFile]], Awaitable[Any]]


class FakeTelegram(TelegramCommands):
    """A fake Telegram Bot API server (see the module docstring).

    Args:
        token: Bot token the fake accepts; other tokens get 401.
        bot_username: The bot's username (without ``@``).
        local_mode: Behave like a local Bot API server: no 20 MB ``getFile`` limit, absolute
            ``file_path`` values, 2000 MB uploads, ``file://`` media references.
        files_dir: Where uploaded and registered files are stored; a temporary directory
            (removed with this object) if ``None``.

    Attributes:
        url: Base URL ``http://127.0.0.1:PORT`` once started.
        token: The bot token.
        bot_id: The bot's user id (the token's number).
        bot_username: The bot's username.
        bot_user: The bot's ``User`` object.
        calls: Every Bot API request in order, except ``getUpdates`` (counted in
            :attr:`get_updates_calls`).
        messages: ``chat_id -> message_id -> BotMessage`` for the bot's messages.
        uploaded: Every file the bot uploaded, in order.
        commands: ``setMyCommands`` lists by ``language_code`` (``None`` for the default).
        webhook: Last ``setWebhook`` parameters, ``None`` after ``deleteWebhook``.
        callback_answers: ``answerCallbackQuery`` parameters in order.
        get_updates_calls: How many ``getUpdates`` requests the bot made (failed ones too).
        confirmed_offset: Highest ``offset`` the bot confirmed through ``getUpdates``.
        max_poll_wait: Longest a ``getUpdates`` long poll waits, in seconds (1 s by default,
            whatever ``timeout`` the bot asks for).
    """

    max_body_bytes = 64 * MB

    @functools.cached_property
    def _handlers(self) -> dict[str, tuple[str, Handler]]:
        """``lower-case method name -> (Telegram's spelling, handler)``."""
        return {name.lower(): (name, getattr(self, f"_m_{name}")) for name in METHODS}

    # ------------------------------------------------------------------ lifecycle

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._dispatch)

    def _on_started(self, port: int) -> None:
        self._closing = False

    async def _on_stopping(self) -> None:
        self._closing = True  # pending long polls answer at once
        self._wakeup.set()

    # ------------------------------------------------------------------ faults

    def fail(self, method: str, *, times: int = 1, retry_after: int | None = None, status: int = 429) -> None:
        """Make the next ``times`` calls of ``method`` fail (after they are recorded).

        The answer has Telegram's usual wording: ``"Too Many Requests: retry after N"`` with
        ``parameters.retry_after`` for 429, ``"Forbidden: bot was blocked by the user"`` for
        403, the HTTP reason otherwise. A later ``fail()`` of the same method replaces this one.

        Args:
            method: Bot API method name (any case).
            times: How many calls fail.
            retry_after: ``parameters.retry_after``; 1 by default for 429.
            status: HTTP status / ``error_code``.
        """
        if status == 429 and retry_after is None:
            retry_after = 1
        self._arm(Fault(method.lower(), None, times, status, retry_after), replace=True)

    def fail_raw(self, method: str, body: bytes | str, *, times: int = 1, status: int = 200) -> None:
        """Make the next ``times`` calls of ``method`` answer ``body`` verbatim (after they are
        recorded), e.g. an HTML page from a broken proxy, or JSON that is not the Bot API's
        envelope. It is checked before :meth:`fail`'s failures; a later ``fail_raw()`` of the
        same method replaces this one.

        Args:
            method: Bot API method name (any case).
            body: The answer's bytes (``str`` is UTF-8 encoded).
            times: How many calls get it.
            status: HTTP status.
        """
        data = body.encode() if isinstance(body, str) else body
        self._raw_faults = [f for f in self._raw_faults if f.method != method.lower()]
        self._raw_faults.append(RawFault(method.lower(), times, status, data))

    def _take_raw_fault(self, method: str) -> RawFault | None:
        for fault in self._raw_faults:
            if fault.times > 0 and fault.method == method:
                fault.times -= 1
                return fault
        return None

    @staticmethod
    def _fault_error(fault: Fault) -> ApiError:
        if fault.status == 429:
            description = f"Too Many Requests: retry after {fault.retry_after}"
        elif fault.status == 403:
            description = "Forbidden: bot was blocked by the user"
        else:
            try:
                description = HTTPStatus(fault.status).phrase
            except ValueError:
                description = "Error"
        parameters = {"retry_after": fault.retry_after} if fault.retry_after is not None else None
        return ApiError(fault.status, description, parameters)

    # ------------------------------------------------------------------ HTTP plumbing

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path  # percent-decoded: PTB quotes the token's ':' in file URLs
        if path.startswith("/file/bot"):
            token, _, file_path = path[len("/file/bot") :].partition("/")
            if token != self.token:
                return json_response(401, ApiError(401, "Unauthorized").body())
            return self._download(file_path)
        if not path.startswith("/bot"):
            return json_response(404, ApiError(404, "Not Found").body())
        token, _, method = path[len("/bot") :].partition("/")
        if token != self.token:
            return json_response(401, ApiError(401, "Unauthorized").body())
        entry = self._handlers.get(method.lower())
        if entry is None or "/" in method:
            return json_response(404, ApiError(404, "Not Found").body())
        name, handler = entry
        call = Call(name, {}, {})
        if name == "getUpdates":
            self.get_updates_calls += 1
        try:
            try:
                call.params, call.files = await self._read_params(request)
            finally:  # recorded once its parameters are read, even if the upload was too big
                if name != "getUpdates":
                    self.calls.append(call)
            raw = self._take_raw_fault(name.lower())
            if raw is not None:
                call.status = raw.status
                self._touch()
                return web.Response(status=raw.status, body=raw.body, content_type="text/html")
            fault = self._take_fault(name.lower())
            if fault is not None:
                raise self._fault_error(fault)
            result = await handler(call.params, call.files)
            body: dict[str, Any] = {"ok": True, "result": result}
        except ApiError as err:
            call.status, body = err.status, err.body()
        call.response = body
        self._touch()
        return json_response(call.status, body)

    async def _read_params(self, request: web.Request) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
        """The parameters of a form or multipart body (PTB sends no others), files by part name."""
        if request.content_type == "multipart/form-data":
            limit = MAX_LOCAL_UPLOAD_BYTES if self.local_mode else MAX_UPLOAD_BYTES
            fields, uploads, too_big = await self._read_multipart(request, limit, per_file=False)
            if too_big:
                raise ApiError(413, "Request Entity Too Large")
            return {k: _decode(k, v) for k, v in fields.items()}, {u.field: u for u in uploads}
        if request.body_exists:
            form = await request.post()
            return {k: _decode(k, v) for k, v in form.items() if isinstance(v, str)}, {}
        return {}, {}


def _decode(key: str, value: str) -> Any:
    """Decode one form value: strings stay strings, other values were JSON encoded by PTB."""
    if key in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value
