"""A fake Telegram Bot API server for offline end-to-end tests.

:class:`FakeTelegram` is a small aiohttp server on ``127.0.0.1`` that python-telegram-bot
(PTB) reaches exactly like the real Bot API, via
``Application.builder().token(tg.token).base_url(f"{tg.url}/bot").base_file_url(f"{tg.url}/file/bot")``
(or ``telegram.Bot(tg.token, base_url=..., base_file_url=...)``). Tests inject what users do
(:meth:`FakeTelegram.user_text`, :meth:`FakeTelegram.user_media`,
:meth:`FakeTelegram.press_button`), the bot picks the updates up through ``getUpdates`` long
polling (or :meth:`FakeTelegram.push_webhook`), and everything the bot does is recorded
(:attr:`FakeTelegram.calls`, :attr:`FakeTelegram.messages`, :attr:`FakeTelegram.uploaded`,
:attr:`FakeTelegram.commands`, :attr:`FakeTelegram.webhook`).

Wire format, as PTB speaks it:

* Methods are ``POST {base_url}{token}/{method}``: PTB appends the token to ``base_url``
  unless it contains ``{token}``, then adds ``/{method}``.
* Parameters come as ``application/x-www-form-urlencoded`` (no files) or
  ``multipart/form-data`` (files). Strings are sent verbatim, every other value is JSON encoded
  (ints as ``"5"``, bools as ``"true"``, ``reply_markup`` as a JSON object). An uploaded file
  is a multipart part named after its parameter (``video``) or, for thumbnails and media
  groups, after an ``attach://<name>`` reference. A JSON body is accepted too.
* Files download from ``GET {base_file_url}{token}/{file_path}``; PTB percent-encodes the
  path, so the ``:`` of the token arrives as ``%3A``.
* With a local Bot API server (``local_mode``), ``getFile`` returns an absolute path on disk
  that PTB reads directly, and PTB sends local files as ``file:///...`` URIs instead of
  uploading them.

Platform limits enforced (see ``/work/shared/design.md``, "Platform facts"): messages 4096
characters and captions 1024 (after entity parsing), ``getFile`` 20 MB unless ``local_mode``,
uploads 50 MB (2000 MB in ``local_mode``), 429 answers carry ``retry_after`` (via
:meth:`FakeTelegram.fail`). Errors use Telegram's envelope
``{"ok": false, "error_code": N, "description": "..."}`` and Telegram's wording.

Uploaded and registered files are kept under ``files_dir`` (a temporary directory removed
when the :class:`FakeTelegram` object is garbage collected, unless you pass your own).
"""

from __future__ import annotations

import asyncio
import html
import json
import mimetypes
import re
import shutil
import tempfile
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import aiohttp
from aiohttp import web

MB = 1024 * 1024
MAX_MESSAGE_CHARS = 4096
MAX_CAPTION_CHARS = 1024
MAX_DOWNLOAD_BYTES = 20 * MB
MAX_UPLOAD_BYTES = 50 * MB
MAX_LOCAL_UPLOAD_BYTES = 2000 * MB
MAX_POLL_WAIT_S = 1.0
"""Cap on how long a ``getUpdates`` long poll waits, whatever ``timeout`` asks, so tests stay fast."""

_CHUNK = 256 * 1024

# Form values that are plain strings (never JSON decoded), whatever they look like; the media
# fields carry file_id / URL / attach:// / file:// strings.
_STRING_PARAMS = frozenset(
    ["text", "caption", "parse_mode", "action", "callback_query_id", "url", "secret_token", "ip_address", "language_code", "file_id", "inline_message_id", "business_connection_id", "message_effect_id", "emoji", "name", "title", "performer", "description", "short_description", "query_id", "video", "document", "photo", "audio", "animation", "voice", "video_note", "sticker", "thumbnail", "cover"]
)
# Parameters that are JSON objects/arrays even inside a JSON body (Telegram accepts both).
_JSON_PARAMS = frozenset(
    ["reply_markup", "reply_parameters", "link_preview_options", "entities", "caption_entities", "commands", "scope", "allowed_updates", "media"]
)
_CHAT_ACTIONS = frozenset(
    ["typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice", "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note"]
)
_HTML_TAGS = frozenset(
    ["b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "code", "pre", "blockquote", "tg-emoji", "tg-time"]
)
_HTML_TAG_RE = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)(\s[^<>]*)?>")
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_MENTION_RE = re.compile(r"(?<![\w@])@([A-Za-z][A-Za-z0-9_]{3,31})\b")
_LEADING_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z][A-Za-z0-9_]{3,31})?(?![\w@])")


class ApiError(Exception):
    """A Bot API error answer; raised inside method handlers.

    Args:
        status: HTTP status and ``error_code``.
        description: Telegram's ``description``.
        parameters: Optional ``ResponseParameters`` (``retry_after``, ...).
    """

    def __init__(self, status: int, description: str, parameters: dict | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def body(self) -> dict:
        """The JSON envelope Telegram answers with."""
        body: dict[str, Any] = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad_request(what: str) -> ApiError:
    return ApiError(400, f"Bad Request: {what}")


@dataclass
class UploadedFile:
    """A file the bot sent, saved to disk.

    Attributes:
        field: Multipart part name (``video``, ``document``, an ``attach://`` name) or the
            parameter of a ``file://`` / URL reference.
        filename: File name the client gave (``None`` for URLs).
        content_type: MIME type of the part (guessed from the name for ``file://`` paths).
        path: Where the bytes are (under ``files_dir``; the original path for ``file://``
            references in ``local_mode``); ``None`` for URLs, which the fake does not fetch.
        size: Size in bytes.
        url: The URL, when the bot sent a URL instead of bytes.
    """

    field: str
    filename: str | None
    content_type: str | None
    path: Path | None
    size: int
    url: str | None = None

    def read_bytes(self) -> bytes:
        """The uploaded bytes."""
        if self.path is None:
            raise ValueError(f"{self.field} was sent by URL ({self.url}); the fake has no bytes")
        return self.path.read_bytes()


@dataclass
class Call:
    """One Bot API request the bot made.

    Attributes:
        method: Method name as Telegram spells it (``sendMessage``), whatever case was used.
        params: Decoded parameters: JSON strings (``reply_markup``, ints, bools) parsed.
        files: Uploaded files by multipart part name.
        status: HTTP status the fake answered (200, or the error code).
        response: The JSON body the fake answered.
    """

    method: str
    params: dict
    files: dict[str, UploadedFile] = field(default_factory=dict)
    status: int = 200
    response: dict | None = None

    @property
    def ok(self) -> bool:
        """Whether the call succeeded."""
        return self.status == 200


@dataclass
class BotMessage:
    """A message the bot sent, with its current state.

    Attributes:
        text: Current text as the bot sent it (markup included, e.g. ``<b>``), ``None`` for media.
        caption: Current caption, as sent.
        reply_markup: Current reply markup (parsed JSON), ``None`` if none.
        kind: ``"text"``, ``"video"`` or ``"document"``.
        thread_id: ``message_thread_id`` it was sent to.
        edits: Text (or caption) of every successful edit, in order.
        file: The uploaded file on disk (media messages).
        params: Parameters of the sending call.
        message_id: Its id in the chat.
        chat_id: The chat.
        raw: The Telegram ``Message`` object as last answered (what callback queries carry).
        deleted: Whether ``deleteMessage`` removed it.
        upload: The :class:`UploadedFile` for media messages.
    """

    text: str | None
    caption: str | None = None
    reply_markup: dict | None = None
    kind: str = "text"
    thread_id: int | None = None
    edits: list[str] = field(default_factory=list)
    file: Path | None = None
    params: dict = field(default_factory=dict)
    message_id: int = 0
    chat_id: int = 0
    raw: dict = field(default_factory=dict)
    deleted: bool = False
    upload: UploadedFile | None = None


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    path: Path
    size: int
    file_path: str
    file_name: str | None
    mime_type: str | None


@dataclass
class _Failure:
    times: int
    status: int
    description: str
    parameters: dict | None


@dataclass
class _Queued:
    update: dict
    forced: bool = False  # redelivered: delivered once even if below the confirmed offset


class FakeTelegram:
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
        confirmed_offset: Highest ``offset`` the bot confirmed through ``getUpdates``.
        max_poll_wait: Longest a ``getUpdates`` long poll waits, in seconds (1 s by default,
            whatever ``timeout`` the bot asks for).
    """

    def __init__(
        self,
        token: str = "123456:TEST-token",
        *,
        bot_username: str = "nemo_test_bot",
        local_mode: bool = False,
        files_dir: Path | None = None,
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.local_mode = local_mode
        self.bot_user: dict = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Nemo Test",
            "username": bot_username,
        }
        if files_dir is None:
            files_dir = Path(tempfile.mkdtemp(prefix="fake-telegram-"))
            weakref.finalize(self, shutil.rmtree, files_dir, True)
        self.files_dir = Path(files_dir).resolve()
        self.url = ""

        self.calls: list[Call] = []
        self.messages: dict[int, dict[int, BotMessage]] = {}
        self.uploaded: list[UploadedFile] = []
        self.commands: dict[str | None, list[dict]] = {}
        self.webhook: dict | None = None
        self.callback_answers: list[dict] = []
        self.get_updates_calls = 0
        self.confirmed_offset = 0
        self.max_poll_wait = MAX_POLL_WAIT_S

        self._chats: dict[int, dict] = {}
        self._chat_users: dict[int, dict] = {}
        self._users: dict[int, dict] = {}
        self._next_message_id: dict[int, int] = {}
        self._user_message_ids: dict[int, set[int]] = {}
        self._queue: list[_Queued] = []
        self._next_update_id = 10001
        self._wakeup = asyncio.Event()
        self._call_event = asyncio.Event()
        self._poll_generation = 0
        self._closing = False
        self._files: dict[str, _StoredFile] = {}
        self._files_by_path: dict[str, _StoredFile] = {}
        self._file_counter = 0
        self._file_seq = 0
        self._callback_ids: set[str] = set()
        self._callback_counter = 0
        self._failures: dict[str, _Failure] = {}
        self._runner: web.AppRunner | None = None
        methods = ["getMe", "logOut", "close", "setWebhook", "deleteWebhook", "getWebhookInfo", "getUpdates", "sendMessage", "editMessageText", "editMessageCaption", "editMessageReplyMarkup", "deleteMessage", "sendChatAction", "getFile", "sendVideo", "sendDocument", "answerCallbackQuery", "setMyCommands", "getMyCommands", "deleteMyCommands"]
        self._method_names = {name.lower(): name for name in methods}
        self._handlers: dict[str, Callable[[dict, dict[str, UploadedFile]], Awaitable[Any]]] = {
            name.lower(): getattr(self, f"_m_{name}") for name in methods
        }

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> str:
        """Listen on ``127.0.0.1`` at a free port.

        Returns:
            The base URL ``http://127.0.0.1:PORT``.
        """
        app = web.Application(client_max_size=64 * MB)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        runner = web.AppRunner(
            app, access_log=None, handle_signals=False, handler_cancellation=True, shutdown_timeout=2.0
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", 0).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._closing = False
        self.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        return self.url

    async def stop(self) -> None:
        """Stop the server; pending long polls answer at once. Recorded data stays available."""
        self._closing = True
        self._wakeup.set()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def api_url(self) -> str:
        """``base_url`` to give PTB (``{url}/bot``)."""
        return f"{self.url}/bot"

    @property
    def file_url(self) -> str:
        """``base_file_url`` to give PTB (``{url}/file/bot``)."""
        return f"{self.url}/file/bot"

    # ------------------------------------------------------------------ chats and users

    def user(self, user_id: int = 1001, first_name: str = "Ana", language_code: str | None = "en") -> dict:
        """A (remembered) ``User`` object for a human.

        Args:
            user_id: The user's id.
            first_name: First name.
            language_code: IETF language tag of the user's client, or ``None``.

        Returns:
            The ``User`` dict.
        """
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if language_code is not None:
            user["language_code"] = language_code
        self._users[user_id] = user
        return user

    def private_chat(self, user_id: int = 1001, first_name: str = "Ana", language_code: str | None = "en") -> dict:
        """A private chat with a user; the user becomes the default sender in it.

        Args:
            user_id: The user's id (also the chat id).
            first_name: First name.
            language_code: IETF language tag of the user's client.

        Returns:
            The ``Chat`` dict.
        """
        chat = {"id": user_id, "type": "private", "first_name": first_name}
        self._chats[user_id] = chat
        self._chat_users[user_id] = self.user(user_id, first_name, language_code)
        return chat

    def group_chat(self, chat_id: int = -100200, title: str = "Clips", forum: bool = False) -> dict:
        """A group (a supergroup for ``-100...`` ids or forums).

        Args:
            chat_id: The chat id.
            title: Chat title.
            forum: Whether topics are enabled (messages then carry ``message_thread_id``).

        Returns:
            The ``Chat`` dict.
        """
        supergroup = forum or str(chat_id).startswith("-100")
        chat: dict[str, Any] = {"id": chat_id, "type": "supergroup" if supergroup else "group", "title": title}
        if forum:
            chat["is_forum"] = True
        self._chats[chat_id] = chat
        return chat

    # ------------------------------------------------------------------ injecting user actions

    def add_file(
        self,
        data: bytes | Path,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
        size: int | None = None,
    ) -> dict:
        """Register a file users can send and the bot can download.

        Args:
            data: The bytes (written under ``files_dir``) or an existing file (used in place).
            file_name: Name users' clients report; defaults to the path's name.
            mime_type: MIME type; guessed from the name if ``None``.
            size: Claimed ``file_size`` (e.g. 25 MB without real bytes); defaults to the real size.

        Returns:
            ``{"file_id", "file_unique_id", "file_size", "file_path"}``; pass it to
            :meth:`user_media`.
        """
        self._file_counter += 1
        n = self._file_counter
        if isinstance(data, Path):
            path = data.resolve()
            file_name = file_name or path.name
        else:
            suffix = Path(file_name).suffix if file_name else ""
            path = self.files_dir / "downloads" / f"file_{n}{suffix}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        if mime_type is None and file_name:
            mime_type = mimetypes.guess_type(file_name)[0]
        stored = self._store_file(path, size if size is not None else path.stat().st_size, file_name, mime_type)
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": stored.file_path,
        }

    def user_text(
        self,
        chat: dict,
        text: str,
        *,
        user: dict | None = None,
        thread_id: int | None = None,
        reply_to_bot_message_id: int | None = None,
        entities: list | None = None,
    ) -> dict:
        """Queue a text message from a user.

        Args:
            chat: Chat dict (from :meth:`private_chat` / :meth:`group_chat`).
            text: Message text. A leading ``/command`` gets a ``bot_command`` entity and each
                ``@username`` a ``mention`` entity, unless ``entities`` is given.
            user: Sender; the private chat's user or :meth:`user` by default.
            thread_id: Forum topic (``message_thread_id``).
            reply_to_bot_message_id: Make it a reply to this bot message.
            entities: Explicit ``MessageEntity`` dicts (replaces the automatic ones).

        Returns:
            The queued ``Update`` dict.
        """
        message = self._user_message(chat, user, thread_id, reply_to_bot_message_id)
        message["text"] = text
        if entities is None:
            entities = _auto_entities(text)
        if entities:
            message["entities"] = entities
        return self._queue_update({"message": message})

    def user_media(
        self,
        chat: dict,
        kind: str,
        file: dict,
        *,
        caption: str | None = None,
        media_group_id: str | None = None,
        thread_id: int | None = None,
        user: dict | None = None,
        duration: int = 5,
        width: int = 1280,
        height: int = 720,
    ) -> dict:
        """Queue a media message from a user.

        Args:
            chat: Chat dict.
            kind: ``"video"``, ``"document"``, ``"animation"``, ``"video_note"``, ``"audio"``,
                ``"photo"`` or ``"voice"``.
            file: What :meth:`add_file` returned.
            caption: Caption (not allowed for ``video_note``).
            media_group_id: Album id, shared by the messages of one album.
            thread_id: Forum topic.
            user: Sender.
            duration: Seconds, for timed media.
            width: Pixels, for visual media.
            height: Pixels, for visual media.

        Returns:
            The queued ``Update`` dict.
        """
        stored = self._files.get(file["file_id"])
        if stored is None:
            raise ValueError(f"unknown file {file!r}: register it with add_file()")
        base = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id, "file_size": stored.size}
        named = dict(base)
        if stored.file_name:
            named["file_name"] = stored.file_name
        if stored.mime_type:
            named["mime_type"] = stored.mime_type
        fields: dict[str, Any]
        if kind == "video":
            fields = {"video": {**named, "width": width, "height": height, "duration": duration}}
        elif kind == "document":
            fields = {"document": named}
        elif kind == "animation":
            # Telegram also sets ``document`` on animations, for backward compatibility.
            animation = {**named, "width": width, "height": height, "duration": duration}
            fields = {"animation": animation, "document": named}
        elif kind == "video_note":
            if caption is not None:
                raise ValueError("video notes have no caption")
            fields = {"video_note": {**base, "length": min(width, height), "duration": duration}}
        elif kind == "audio":
            fields = {"audio": {**named, "duration": duration}}
        elif kind == "voice":
            fields = {"voice": {**base, "duration": duration, "mime_type": stored.mime_type or "audio/ogg"}}
        elif kind == "photo":
            small_id = f"{stored.file_id}-s"
            small = replace(stored, file_id=small_id, file_unique_id=f"{stored.file_unique_id}s")
            self._files.setdefault(small_id, small)
            scale = 90 / max(width, height, 1)
            fields = {
                "photo": [
                    {
                        "file_id": small_id,
                        "file_unique_id": f"{stored.file_unique_id}s",
                        "file_size": min(stored.size, 1500),
                        "width": max(1, round(width * scale)),
                        "height": max(1, round(height * scale)),
                    },
                    {**base, "width": width, "height": height},
                ]
            }
        else:
            raise ValueError(f"unknown media kind {kind!r}")
        message = self._user_message(chat, user, thread_id, None)
        message.update(fields)
        if caption is not None:
            message["caption"] = caption
        if media_group_id is not None:
            message["media_group_id"] = media_group_id
        return self._queue_update({"message": message})

    def press_button(self, chat: dict, bot_message_id: int, data: str, *, user: dict | None = None) -> dict:
        """Queue a ``callback_query``: a user pressed an inline button on a bot message.

        Args:
            chat: The chat of the message.
            bot_message_id: The bot's message carrying the button.
            data: The button's ``callback_data``.
            user: Who pressed; default as in :meth:`user_text`.

        Returns:
            The queued ``Update`` dict.
        """
        bot_message = self.messages.get(chat["id"], {}).get(bot_message_id)
        if bot_message is None:
            raise ValueError(f"the bot sent no message {bot_message_id} in chat {chat['id']}")
        self._callback_counter += 1
        query_id = f"{self.bot_id}{self._callback_counter:06d}"
        self._callback_ids.add(query_id)
        query = {
            "id": query_id,
            "from": self._sender(chat, user),
            "chat_instance": f"ci{chat['id']}",
            "message": bot_message.raw,
            "data": data,
        }
        return self._queue_update({"callback_query": query})

    def redeliver(self, updates: list[dict]) -> None:
        """Queue updates again with their own ``update_id`` (as after a missed confirmation).

        They are delivered once even if the bot already confirmed them.

        Args:
            updates: ``Update`` dicts returned by the injecting methods.
        """
        self._queue.extend(_Queued(update, forced=True) for update in updates)
        self._wakeup.set()

    @property
    def pending_updates(self) -> list[dict]:
        """Queued updates the bot has not confirmed yet."""
        return [q.update for q in self._queue]

    # ------------------------------------------------------------------ faults

    def fail(
        self,
        method: str,
        *,
        times: int = 1,
        retry_after: int | None = None,
        status: int = 429,
        description: str | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail.

        Args:
            method: Bot API method name (any case).
            times: How many calls fail.
            retry_after: ``parameters.retry_after``; 1 by default for 429.
            status: HTTP status / ``error_code``.
            description: Error text; Telegram's usual wording by default
                (``"Too Many Requests: retry after N"`` for 429).
        """
        if status == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            if status == 429:
                description = f"Too Many Requests: retry after {retry_after}"
            elif status == 403:
                description = "Forbidden: bot was blocked by the user"
            else:
                try:
                    description = HTTPStatus(status).phrase
                except ValueError:
                    description = "Error"
        parameters = {"retry_after": retry_after} if retry_after is not None else None
        self._failures[method.lower()] = _Failure(times, status, description, parameters)

    # ------------------------------------------------------------------ inspecting

    def calls_of(self, method: str) -> list[Call]:
        """Calls of one method (any case), in order."""
        wanted = method.lower()
        return [c for c in self.calls if c.method.lower() == wanted]

    def bot_messages(self, chat_id: int, thread_id: int | None = None) -> list[BotMessage]:
        """The bot's messages in a chat (one topic if ``thread_id``), in sending order, not deleted."""
        found = self.messages.get(chat_id, {}).values()
        return [m for m in found if not m.deleted and (thread_id is None or m.thread_id == thread_id)]

    async def wait_for_calls(self, method: str, count: int = 1, *, timeout: float = 5.0) -> list[Call]:
        """Wait until ``method`` was called successfully at least ``count`` times.

        Args:
            method: Method name.
            count: How many successful calls to wait for.
            timeout: Seconds before ``TimeoutError``.

        Returns:
            All successful calls of ``method``.
        """
        await self.wait_until(lambda: len([c for c in self.calls_of(method) if c.ok]) >= count, timeout=timeout)
        return [c for c in self.calls_of(method) if c.ok]

    async def wait_until(self, predicate: Callable[[], bool], *, timeout: float = 5.0) -> None:
        """Wait until ``predicate()`` holds; it is checked after every recorded call.

        Args:
            predicate: Condition over the recorded state.
            timeout: Seconds before ``TimeoutError``.
        """
        async with asyncio.timeout(timeout):
            while not predicate():
                self._call_event.clear()
                await self._call_event.wait()

    async def push_webhook(self) -> list[int]:
        """Deliver queued updates to the webhook set by ``setWebhook``, as Telegram would.

        Each update is POSTed as JSON with ``X-Telegram-Bot-Api-Secret-Token`` (if set);
        updates answered 2xx leave the queue.

        Returns:
            The HTTP status of each delivery.
        """
        if self.webhook is None:
            raise RuntimeError("no webhook set")
        headers = {}
        if self.webhook.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = str(self.webhook["secret_token"])
        statuses = []
        async with aiohttp.ClientSession() as session:
            for queued in list(self._queue):
                async with session.post(self.webhook["url"], json=queued.update, headers=headers) as resp:
                    await resp.read()
                    statuses.append(resp.status)
                if 200 <= resp.status < 300:
                    self._queue.remove(queued)
        return statuses

    # ------------------------------------------------------------------ HTTP plumbing

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path  # percent-decoded: PTB quotes the token's ':' in file URLs
        if path.startswith("/file/bot"):
            token, _, file_path = path[len("/file/bot") :].partition("/")
            if token != self.token:
                return _json_response(ApiError(401, "Unauthorized").body(), 401)
            return self._download(file_path)
        if not path.startswith("/bot"):
            return _json_response(ApiError(404, "Not Found").body(), 404)
        token, _, method = path[len("/bot") :].partition("/")
        if token != self.token:
            return _json_response(ApiError(401, "Unauthorized").body(), 401)
        handler = self._handlers.get(method.lower())
        if handler is None or "/" in method:
            return _json_response(ApiError(404, "Not Found").body(), 404)
        name = self._method_names[method.lower()]
        call = Call(name, {}, {})
        try:
            try:
                call.params, call.files = await self._read_params(request)
            finally:  # recorded once its parameters are read, even if the upload was too big
                if name != "getUpdates":
                    self.calls.append(call)
            failure = self._failures.get(name.lower())
            if failure is not None and failure.times > 0:
                failure.times -= 1
                raise ApiError(failure.status, failure.description, failure.parameters)
            result = await handler(call.params, call.files)
            body: dict = {"ok": True, "result": result}
        except ApiError as err:
            call.status, body = err.status, err.body()
        call.response = body
        self._call_event.set()
        return _json_response(body, call.status)

    async def _read_params(self, request: web.Request) -> tuple[dict, dict[str, UploadedFile]]:
        params: dict[str, Any] = {k: _decode(k, v) for k, v in request.query.items()}
        files: dict[str, UploadedFile] = {}
        ctype = request.content_type
        if ctype == "application/json":
            raw = await request.read()
            if raw.strip():
                try:
                    body = json.loads(raw)
                except ValueError:
                    raise _bad_request("can't parse JSON body") from None
                for key, value in body.items():
                    params[key] = json.loads(value) if key in _JSON_PARAMS and isinstance(value, str) else value
        elif ctype == "multipart/form-data":
            limit = MAX_LOCAL_UPLOAD_BYTES if self.local_mode else MAX_UPLOAD_BYTES
            total = 0
            too_big = False
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
                    continue
                if part.filename is None:
                    params[part.name] = _decode(part.name, await part.text())
                    continue
                if too_big:
                    await _drain(part)
                    continue
                self._file_counter += 1
                target = self.files_dir / "uploads" / f"{self._file_counter:04d}_{_safe_name(part.filename)}"
                target.parent.mkdir(parents=True, exist_ok=True)
                size = 0
                with target.open("wb") as out:
                    while chunk := await part.read_chunk(_CHUNK):
                        size += len(chunk)
                        if total + size > limit:
                            too_big = True
                            break
                        out.write(chunk)
                if too_big:
                    target.unlink(missing_ok=True)
                    await _drain(part)
                    continue
                total += size
                content_type = part.headers.get(aiohttp.hdrs.CONTENT_TYPE)
                files[part.name] = UploadedFile(part.name, part.filename, content_type, target, size)
            if too_big:
                raise ApiError(413, "Request Entity Too Large")
        elif request.body_exists:
            form = await request.post()
            params.update({k: _decode(k, v) for k, v in form.items() if isinstance(v, str)})
        return params, files

    def _download(self, file_path: str) -> web.StreamResponse:
        stored = self._files_by_path.get(file_path) or self._files_by_path.get(unquote(file_path))
        if stored is None or not stored.path.is_file():
            return _json_response(ApiError(404, "Not Found").body(), 404)
        return web.FileResponse(stored.path, headers={"Content-Type": stored.mime_type or "application/octet-stream"})

    # ------------------------------------------------------------------ internal helpers

    def _store_file(self, path: Path, size: int, file_name: str | None, mime_type: str | None) -> _StoredFile:
        self._file_seq += 1
        n = self._file_seq
        folder = "videos" if (mime_type or "").startswith("video/") else "documents"
        suffix = Path(file_name).suffix if file_name else path.suffix
        file_path = str(path) if self.local_mode else f"{folder}/file_{n}{suffix}"
        stored = _StoredFile(
            file_id=f"BAACAgIAAx{n:06d}{self.bot_id}",
            file_unique_id=f"AgAD{n:06d}",
            path=path,
            size=size,
            file_path=file_path,
            file_name=file_name,
            mime_type=mime_type,
        )
        self._files[stored.file_id] = stored
        self._files_by_path[file_path] = stored
        return stored

    def _chat(self, chat_id: Any) -> dict:
        chat = self._chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None:
            raise _bad_request("chat not found")
        return chat

    def _sender(self, chat: dict, user: dict | None) -> dict:
        if user is not None:
            self._users[user["id"]] = user
            return user
        return self._chat_users.get(chat["id"]) or self._users.get(1001) or self.user()

    def _new_message_id(self, chat_id: int) -> int:
        message_id = self._next_message_id.get(chat_id, 0) + 1
        self._next_message_id[chat_id] = message_id
        return message_id

    def _user_message(
        self, chat: dict, user: dict | None, thread_id: int | None, reply_to_bot_message_id: int | None
    ) -> dict:
        self._chats.setdefault(chat["id"], chat)
        message_id = self._new_message_id(chat["id"])
        self._user_message_ids.setdefault(chat["id"], set()).add(message_id)
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": chat,
            "from": self._sender(chat, user),
        }
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            if chat.get("is_forum"):
                message["is_topic_message"] = True
        if reply_to_bot_message_id is not None:
            replied = self.messages.get(chat["id"], {}).get(reply_to_bot_message_id)
            if replied is None:
                raise ValueError(f"the bot sent no message {reply_to_bot_message_id} in chat {chat['id']}")
            message["reply_to_message"] = replied.raw
        return message

    def _queue_update(self, body: dict) -> dict:
        update = {"update_id": self._next_update_id, **body}
        self._next_update_id += 1
        self._queue.append(_Queued(update))
        self._wakeup.set()
        return update

    def _confirm(self, offset: int) -> None:
        if offset < 0:
            keep = -offset
            self._queue = [q for q in self._queue if q.forced] + [q for q in self._queue if not q.forced][-keep:]
            return
        self.confirmed_offset = max(self.confirmed_offset, offset)
        self._queue = [q for q in self._queue if q.forced or q.update["update_id"] >= offset]

    def _bot_message(self, chat_id: Any, message_id: Any, *, what: str) -> BotMessage:
        chat = self._chat(chat_id)
        message = self.messages.get(chat["id"], {}).get(message_id) if isinstance(message_id, int) else None
        if message is None or message.deleted:
            raise _bad_request(f"message to {what} not found")
        return message

    def _new_bot_message(self, params: dict, kind: str, fields: dict, upload: UploadedFile | None = None) -> dict:
        chat = self._chat(params.get("chat_id"))
        thread_id = params.get("message_thread_id")
        message_id = self._new_message_id(chat["id"])
        raw: dict[str, Any] = {"message_id": message_id, "date": int(time.time()), "chat": chat, "from": self.bot_user}
        if thread_id is not None:
            raw["message_thread_id"] = thread_id
            if chat.get("is_forum"):
                raw["is_topic_message"] = True
        raw.update(fields)
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            raw["reply_markup"] = markup  # only inline keyboards show up on the Message
        self.messages.setdefault(chat["id"], {})[message_id] = BotMessage(
            text=params.get("text") if kind == "text" else None,
            caption=params.get("caption"),
            reply_markup=markup,
            kind=kind,
            thread_id=thread_id,
            file=upload.path if upload else None,
            params=params,
            message_id=message_id,
            chat_id=chat["id"],
            raw=raw,
            upload=upload,
        )
        return raw

    # ------------------------------------------------------------------ Bot API methods

    async def _m_getMe(self, params: dict, files: dict) -> dict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _m_logOut(self, params: dict, files: dict) -> bool:
        return True

    async def _m_close(self, params: dict, files: dict) -> bool:
        return True

    async def _m_setWebhook(self, params: dict, files: dict) -> bool:
        if not params.get("url"):
            return await self._m_deleteWebhook(params, files)
        self.webhook = dict(params)
        if params.get("drop_pending_updates"):
            self._queue.clear()
        return True

    async def _m_deleteWebhook(self, params: dict, files: dict) -> bool:
        self.webhook = None
        if params.get("drop_pending_updates"):
            self._queue.clear()
        return True

    async def _m_getWebhookInfo(self, params: dict, files: dict) -> dict:
        info: dict[str, Any] = {
            "url": self.webhook["url"] if self.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }
        if self.webhook:
            for key in ("max_connections", "allowed_updates", "ip_address"):
                if key in self.webhook:
                    info[key] = self.webhook[key]
        return info

    async def _m_getUpdates(self, params: dict, files: dict) -> list[dict]:
        self.get_updates_calls += 1
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        self._poll_generation += 1
        generation = self._poll_generation
        self._wakeup.set()  # an older long poll still waiting is terminated
        if params.get("offset") is not None:
            self._confirm(int(params["offset"]))
        limit = max(1, min(100, int(params.get("limit") or 100)))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(float(params.get("timeout") or 0), self.max_poll_wait)
        while True:
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                )
            batch = self._queue[:limit]
            remaining = deadline - loop.time()
            if batch or self._closing or remaining <= 0:
                break
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except TimeoutError:
                pass
        for queued in batch:
            if queued.forced:
                self._queue.remove(queued)
        return [q.update for q in batch]

    async def _m_sendMessage(self, params: dict, files: dict) -> dict:
        self._chat(params.get("chat_id"))
        text = params.get("text")
        plain = self._parsed_text(text if isinstance(text, str) else "", params.get("parse_mode"))
        if not plain.strip():
            raise _bad_request("message text is empty")
        if len(plain) > MAX_MESSAGE_CHARS:
            raise _bad_request("message is too long")
        return self._new_bot_message(params, "text", {"text": plain})

    async def _m_editMessageText(self, params: dict, files: dict) -> dict:
        if params.get("inline_message_id"):
            raise _bad_request("inline messages are not supported by the fake")
        message = self._bot_message(params.get("chat_id"), params.get("message_id"), what="edit")
        text = params.get("text")
        plain = self._parsed_text(text if isinstance(text, str) else "", params.get("parse_mode"))
        if not plain.strip():
            raise _bad_request("message text is empty")
        if len(plain) > MAX_MESSAGE_CHARS:
            raise _bad_request("message is too long")
        if message.kind != "text":
            raise _bad_request("there is no text in the message to edit")
        markup = params.get("reply_markup")
        if text == message.text and markup == message.reply_markup:
            raise _bad_request(
                "message is not modified: specified new message content and reply markup are exactly "
                "the same as a current content and reply markup of the message"
            )
        message.text, message.reply_markup = text, markup
        message.edits.append(text)
        message.raw = {**message.raw, "text": plain, "edit_date": int(time.time())}
        message.raw.pop("reply_markup", None)
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message.raw["reply_markup"] = markup
        return message.raw

    async def _m_editMessageCaption(self, params: dict, files: dict) -> dict:
        message = self._bot_message(params.get("chat_id"), params.get("message_id"), what="edit")
        if message.kind == "text":
            raise _bad_request("there is no caption in the message to edit")
        caption = params.get("caption")
        plain = self._parsed_text(caption if isinstance(caption, str) else "", params.get("parse_mode"))
        if len(plain) > MAX_CAPTION_CHARS:
            raise _bad_request("message caption is too long")
        markup = params.get("reply_markup")
        if caption == message.caption and markup == message.reply_markup:
            raise _bad_request(
                "message is not modified: specified new message content and reply markup are exactly "
                "the same as a current content and reply markup of the message"
            )
        message.caption, message.reply_markup = caption, markup
        message.edits.append(caption or "")
        message.raw = {k: v for k, v in message.raw.items() if k not in ("caption", "reply_markup")}
        message.raw["edit_date"] = int(time.time())
        if plain:
            message.raw["caption"] = plain
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message.raw["reply_markup"] = markup
        return message.raw

    async def _m_editMessageReplyMarkup(self, params: dict, files: dict) -> dict:
        message = self._bot_message(params.get("chat_id"), params.get("message_id"), what="edit")
        markup = params.get("reply_markup")
        if markup == message.reply_markup:
            raise _bad_request(
                "message is not modified: specified new message content and reply markup are exactly "
                "the same as a current content and reply markup of the message"
            )
        message.reply_markup = markup
        message.raw = {k: v for k, v in message.raw.items() if k != "reply_markup"}
        message.raw["edit_date"] = int(time.time())
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message.raw["reply_markup"] = markup
        return message.raw

    async def _m_deleteMessage(self, params: dict, files: dict) -> bool:
        chat = self._chat(params.get("chat_id"))
        message_id = params.get("message_id")
        if message_id in self._user_message_ids.get(chat["id"], set()):
            self._user_message_ids[chat["id"]].discard(message_id)
            return True
        self._bot_message(chat["id"], message_id, what="delete").deleted = True
        return True

    async def _m_sendChatAction(self, params: dict, files: dict) -> bool:
        self._chat(params.get("chat_id"))
        if params.get("action") not in _CHAT_ACTIONS:
            raise _bad_request("wrong parameter action in request")
        return True

    async def _m_getFile(self, params: dict, files: dict) -> dict:
        stored = self._files.get(str(params.get("file_id")))
        if stored is None:
            raise _bad_request("invalid file_id")
        if stored.size > MAX_DOWNLOAD_BYTES and not self.local_mode:
            raise _bad_request("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": str(stored.path) if self.local_mode else stored.file_path,
        }

    async def _m_sendVideo(self, params: dict, files: dict) -> dict:
        return self._send_media("video", params, files)

    async def _m_sendDocument(self, params: dict, files: dict) -> dict:
        return self._send_media("document", params, files)

    def _send_media(self, kind: str, params: dict, files: dict[str, UploadedFile]) -> dict:
        self._chat(params.get("chat_id"))
        caption = params.get("caption")
        if caption is not None:
            plain_caption = self._parsed_text(str(caption), params.get("parse_mode"))
            if len(plain_caption) > MAX_CAPTION_CHARS:
                raise _bad_request("message caption is too long")
        upload, stored = self._media_input(kind, params, files)
        media: dict[str, Any] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
        }
        if upload.filename:
            media["file_name"] = upload.filename
        if upload.content_type:
            media["mime_type"] = upload.content_type
        if kind == "video":
            for key in ("width", "height", "duration"):
                media[key] = int(params.get(key) or 0)
        fields: dict[str, Any] = {kind: media}
        if caption is not None:
            fields["caption"] = plain_caption
        return self._new_bot_message(params, kind, fields, upload)

    def _media_input(self, kind: str, params: dict, files: dict[str, UploadedFile]) -> tuple[UploadedFile, _StoredFile]:
        """Resolve the media parameter: an uploaded part, a known file_id, a file:// path or a URL."""
        value = params.get(kind)
        if isinstance(value, str) and value.startswith("attach://"):
            value = files.get(value[len("attach://") :])
        elif value is None:
            value = files.get(kind)
        if isinstance(value, UploadedFile):
            upload = value
        elif isinstance(value, str) and value in self._files:  # re-sending a file_id: no upload
            stored = self._files[value]
            return UploadedFile(kind, stored.file_name, stored.mime_type, stored.path, stored.size), stored
        elif isinstance(value, str) and value.startswith("file://"):
            if not self.local_mode:
                raise _bad_request("wrong remote file identifier specified: can't unserialize it")
            path = Path(unquote(urlsplit(value).path))
            if not path.is_file():
                raise _bad_request("file not found")
            size = path.stat().st_size
            if size > MAX_LOCAL_UPLOAD_BYTES:
                raise ApiError(413, "Request Entity Too Large")
            upload = UploadedFile(kind, path.name, mimetypes.guess_type(path.name)[0], path, size)
        elif isinstance(value, str) and value.startswith(("http://", "https://")):
            upload = UploadedFile(kind, None, None, None, 0, url=value)
        elif value is None:
            raise _bad_request(f"there is no {kind} in the request")
        else:
            raise _bad_request("wrong file identifier/HTTP URL specified")
        self.uploaded.append(upload)
        if upload.path is None:  # a URL: Telegram would fetch it; the fake only invents an id
            self._file_seq += 1
            return upload, _StoredFile(f"URL{self._file_seq}", f"URL{self._file_seq}", Path(), 0, "", None, None)
        return upload, self._store_file(upload.path, upload.size, upload.filename, upload.content_type)

    async def _m_answerCallbackQuery(self, params: dict, files: dict) -> bool:
        query_id = str(params.get("callback_query_id"))
        if query_id not in self._callback_ids:
            raise _bad_request("query is too old and response timeout expired or query ID is invalid")
        self._callback_ids.discard(query_id)
        self.callback_answers.append(params)
        return True

    async def _m_setMyCommands(self, params: dict, files: dict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad_request("can't parse commands JSON object")
        for command in commands:
            if not isinstance(command, dict) or not _COMMAND_RE.fullmatch(str(command.get("command", ""))):
                raise _bad_request("BOT_COMMAND_INVALID")
            description = str(command.get("description", ""))
            if not description:
                raise _bad_request("command description is empty")
            if len(description) > 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[params.get("language_code") or None] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    async def _m_getMyCommands(self, params: dict, files: dict) -> list[dict]:
        return self.commands.get(params.get("language_code") or None, [])

    async def _m_deleteMyCommands(self, params: dict, files: dict) -> bool:
        self.commands.pop(params.get("language_code") or None, None)
        return True

    # ------------------------------------------------------------------ text checks

    @staticmethod
    def _parsed_text(text: str, parse_mode: Any) -> str:
        """The text Telegram would show (markup removed), or a 400 if the markup does not parse."""
        mode = str(parse_mode).lower() if parse_mode else ""
        if mode == "html":
            return _parse_html(text)
        if mode == "markdownv2":
            return _parse_markdown_v2(text)
        return text


# ---------------------------------------------------------------------- module helpers


def _json_response(body: dict, status: int) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")


def _decode(key: str, value: str) -> Any:
    """Decode one form value: strings stay strings, other values were JSON encoded by PTB."""
    if key in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


async def _drain(part: aiohttp.BodyPartReader) -> None:
    while await part.read_chunk(_CHUNK):
        pass


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", Path(name).name) or "file"


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _auto_entities(text: str) -> list[dict]:
    """``bot_command`` for a leading ``/command`` and ``mention`` for ``@usernames``, in UTF-16 offsets."""
    entities = []
    command_end = 0
    match = _LEADING_COMMAND_RE.match(text)
    if match:
        command_end = match.end()
        entities.append({"type": "bot_command", "offset": 0, "length": _utf16_len(match.group())})
    for mention in _MENTION_RE.finditer(text):
        if mention.start() < command_end:
            continue
        entities.append(
            {"type": "mention", "offset": _utf16_len(text[: mention.start()]), "length": _utf16_len(mention.group())}
        )
    return entities


def _entity_error(detail: str, text: str, index: int) -> ApiError:
    offset = len(text[:index].encode("utf-8"))
    return _bad_request(f"can't parse entities: {detail} at byte offset {offset}")


def _parse_html(text: str) -> str:
    """Check Telegram-HTML (known tags, balanced) and return the visible text."""
    stack: list[tuple[str, int]] = []
    plain: list[str] = []
    i = 0
    while True:
        lt = text.find("<", i)
        plain.append(text[i : lt if lt >= 0 else len(text)])
        if lt < 0:
            break
        match = _HTML_TAG_RE.match(text, lt)
        if match is None:
            raise _entity_error("Unsupported start tag", text, lt)
        closing, name = match.group(1) == "/", match.group(2).lower()
        if name not in _HTML_TAGS:
            raise _entity_error(f'Unsupported start tag "{name}"', text, lt)
        if closing:
            if not stack or stack[-1][0] != name:
                raise _entity_error(f'Unmatched end tag "{name}"', text, lt)
            stack.pop()
        else:
            stack.append((name, lt))
        i = match.end()
    if stack:
        name, where = stack[-1]
        raise _entity_error(f'Can\'t find end tag corresponding to start tag "{name}"', text, where)
    return html.unescape("".join(plain))


_MD_RESERVED = set("_*[]()~`>#+-=|{}.!")


def _parse_markdown_v2(text: str) -> str:
    """Check MarkdownV2 (reserved characters escaped, entities closed) and return the visible text."""
    stack: list[tuple[str, int]] = []
    plain: list[str] = []
    names = {"*": "Bold", "_": "Italic", "__": "Underline", "~": "Strikethrough", "||": "Spoiler", "[": "TextUrl"}
    i, n = 0, len(text)
    at_line_start = True
    while i < n:
        c = text[i]
        if c == "\\":
            if i + 1 < n:
                plain.append(text[i + 1])
            i += 2
            at_line_start = False
            continue
        if c == "`":
            fence = "```" if text.startswith("```", i) else "`"
            end = _find_unescaped(text, fence, i + len(fence))
            if end < 0:
                raise _entity_error(f"Can't find end of {'Pre' if fence == '```' else 'Code'} entity", text, i)
            plain.append(text[i + len(fence) : end].replace("\\`", "`").replace("\\\\", "\\"))
            i = end + len(fence)
            at_line_start = False
            continue
        marker = None
        if c == "_":
            marker = "__" if text.startswith("__", i) else "_"
        elif c in "*~":
            marker = c
        elif c == "|" and text.startswith("||", i):
            marker = "||"
        if marker is not None:
            if stack and stack[-1][0] == marker:
                stack.pop()
            else:
                stack.append((marker, i))
            i += len(marker)
            at_line_start = False
            continue
        if c == "[" or (c == "!" and text.startswith("![", i)):
            stack.append(("[", i))
            i += 1 if c == "[" else 2
            continue
        if c == "]" and stack and stack[-1][0] == "[":
            stack.pop()
            i += 1
            if text.startswith("(", i):
                end = _find_unescaped(text, ")", i + 1)
                if end < 0:
                    raise _entity_error("Can't find end of a URL", text, i)
                i = end + 1
            continue
        if c == ">" and at_line_start:
            i += 1
            continue
        if c in _MD_RESERVED:
            raise _bad_request(
                f"can't parse entities: Character '{c}' is reserved and must be escaped with the preceding '\\'"
            )
        plain.append(c)
        at_line_start = c == "\n"
        i += 1
    if stack:
        marker, where = stack[-1]
        raise _entity_error(f"Can't find end of {names[marker]} entity", text, where)
    return "".join(plain)


def _find_unescaped(text: str, needle: str, start: int) -> int:
    i = start
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text.startswith(needle, i):
            return i
        i += 1
    return -1
