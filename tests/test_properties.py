"""Property-based tests (hypothesis) for the pure parts of the bot (issue 10, item 8).

Covered:

* File-name and terminal cleaning (:mod:`bot.cleaning`, :class:`bot.boundary.Attachment`):
  for any text the file name is never empty, at most ``limit`` characters, has no path
  separator, no control, format or unassigned character, no leading/trailing dot or space,
  one kind of whitespace, and cleaning is idempotent; a cut name keeps its short extension
  and is cut no more than needed. Terminal text has no escape sequence and no control
  character but newline and tab, is idempotent, and coloured text comes out as the text.
* The intent router (:func:`bot.intents.route`): total on any text (huge, control,
  zero-width, bidi marks); whitespace and invisible format characters alone are EMPTY;
  commands route with any ``@botname`` suffix, case and surrounding whitespace, with the
  argument stripped; unknown commands name themselves; the agent's ``arg`` is the message
  (stripped, nothing added); long messages always reach the agent whatever keywords they
  hold; attachments always mean UPLOAD.
* The SSE decoder (:class:`bot.nemo.sse.SSEDecoder`): the same bytes give the same messages
  (and the same ``id``/``retry`` state) however they are chunked, including inside UTF-8
  characters, the BOM and ``\\r\\n``; the size limits trip the same way however the bytes
  are chunked; encoded messages decode back exactly; arbitrary payloads raise nothing but
  :class:`bot.nemo.sse.SSEProtocolError` in :func:`bot.nemo.sse.events_from_message`.
* The converters (:mod:`adapters.telegram.converters`, :mod:`adapters.discord.converters`,
  :meth:`bot.boundary.Button.from_payload`, :mod:`bot.links`): Telegram updates built with
  ``Update.de_json`` and Discord messages built from raw payloads convert without raising,
  with clean attachment names, pasted links that are http(s) URLs of the text and gone from
  it; group commands for another bot are not ours; forged callback data or custom ids map
  to no button unless they are exactly a genuine one (HMAC key included); genuine keyboard
  buttons come back only in their chat and for their presser; media links are URLs of the
  text, and pasting one link does not depend on (or damage) its neighbours.

No network: every platform object is built offline from raw payloads.
"""

from __future__ import annotations

import functools
import json
import re
import string
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import PurePosixPath
from typing import Any

import discord
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from telegram import Bot, Message, Update

from adapters.discord.converters import (
    CUSTOM_ID_PREFIX,
    command_of_custom_id,
    custom_id,
    message_to_incoming,
)
from adapters.discord.converters import text_of as discord_text_of
from adapters.telegram.converters import (
    CALLBACK_PREFIX,
    button_key,
    command_of_callback,
    is_for_bot,
    keyboard,
    to_incoming,
)
from adapters.telegram.converters import text_of as telegram_text_of
from bot.boundary import Attachment, Button, IncomingMessage
from bot.cleaning import MAX_FILENAME_CHARS, clean_filename, clean_terminal
from bot.intents import COMMANDS, MENU, Intent, IntentKind, route
from bot.links import media_links, pasted
from bot.nemo.events import AgentError, Heartbeat, PartialText, StateChanged, TextAnswer, ToolCall, ToolResult
from bot.nemo.sse import SSEDecoder, SSEMessage, SSEProtocolError, events_from_message
from bot.uploads import ACCEPTED_EXTENSIONS
from tests.fakes.discord import attachment_payload, guild_payload, message_payload, user_payload

# No example database: the tests write nothing to the tree.
CHEAP = settings(max_examples=150, deadline=None, database=None)
HEAVY = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
"""Control, format (zero-width, bidi), surrogate, private-use and unassigned characters."""

NASTY = (
    "/\\.  \t\n\r\x00\x07\x1b\x7f\x85\x9b\xa0\xad\u034f\u061c\u180e\u200b\u200c\u200d\u200e\u200f"
    "\u2028\u2029\u202a\u202e\u2060\u2066\u2069\u3000\ufeff\ufff9\U000e0001"
    "aZ09_-@:<>\"'[]()…é中🎬"
)
"""Characters that break naive cleaning: separators, controls, zero-width and bidi marks, quotes."""

ANY_TEXT = st.text(st.sampled_from(NASTY) | st.characters())
"""Any surrogate-free text, biased towards :data:`NASTY` characters."""

HUGE = "\u202e\u200b/\\\x1b[2J" + "x" * 100_000 + "\r\n.mp4"


def _unsafe(text: str) -> list[str]:
    return [ch for ch in text if unicodedata.category(ch) in UNSAFE_CATEGORIES]


def _assert_clean_name(name: str, limit: int = MAX_FILENAME_CHARS) -> None:
    assert name, "a cleaned name is never empty"
    assert len(name) <= limit
    assert "/" not in name and "\\" not in name
    assert not _unsafe(name), f"invisible or control characters left in {name!r}"
    assert name == name.strip(" ."), "no leading or trailing dot or space"
    assert all(ch == " " for ch in name if ch.isspace()) and "  " not in name


# --- 1. File-name and terminal cleaning -------------------------------------------------------


@CHEAP
@given(name=ANY_TEXT, limit=st.integers(16, 300))
@example(name=HUGE, limit=MAX_FILENAME_CHARS)
@example(name="clip\r\n.mp4", limit=MAX_FILENAME_CHARS)
@example(name=" ../..\\ . ", limit=16)
def test_clean_filename_is_safe_and_idempotent(name: str, limit: int) -> None:
    cleaned = clean_filename(name, limit)
    _assert_clean_name(cleaned, limit)
    assert clean_filename(cleaned, limit) == cleaned


SHORT_EXTENSIONS = st.sampled_from(sorted(ACCEPTED_EXTENSIONS)) | st.text(
    string.ascii_letters + string.digits, min_size=1, max_size=9
)


@CHEAP
@given(
    head=ANY_TEXT,
    tail=st.text(st.characters(exclude_characters="/\\.") | st.sampled_from(" \u200b\x00")),
    ext=SHORT_EXTENSIONS,
    limit=st.integers(16, 300),
)
def test_cut_filename_keeps_its_short_extension(head: str, tail: str, ext: str, limit: int) -> None:
    name = f"{head}{'v' * limit}{tail}.{ext}"
    whole = clean_filename(name, limit=10**9)
    assert len(whole) > limit  # the name really is cut
    cut = clean_filename(name, limit)
    assert cut.endswith(f"….{ext}")
    assert whole.startswith(cut[: -len(ext) - 2]), "the kept part is the start of the name"
    assert limit - 1 <= len(cut) <= limit, "cut no more than needed (one trailing space at most)"


@CHEAP
@given(name=ANY_TEXT)
@example(name="a/b\\\u202eevil.mp4\r\n")
def test_attachment_cleans_its_filename(name: str) -> None:
    att = Attachment(filename=name, public_url="https://example.com/x.mp4")
    assert att.filename == clean_filename(name)
    _assert_clean_name(att.filename)


def _ansi(final_chars: str = "@ABCDHJKmsu~") -> st.SearchStrategy[str]:
    csi = st.builds(
        lambda params, final: f"\x1b[{params}{final}",
        st.text("0123456789;?", max_size=6),
        st.sampled_from(final_chars),
    )
    osc = st.builds(
        lambda body, end: f"\x1b]{body}{end}",
        st.text(st.characters(exclude_characters="\x07\x1b"), max_size=10),
        st.sampled_from(["\x07", "\x1b\\"]),
    )
    two = st.sampled_from([f"\x1b{ch}" for ch in "@ABCDEFGHMNOPQRSTUVWXYZ\\^_"])
    return csi | osc | two


TERMINAL_PLAIN = st.text(st.characters(exclude_categories=["Cc", "Cf", "Cs", "Co", "Cn"]) | st.sampled_from("\n\t"))


@CHEAP
@given(text=st.lists(ANY_TEXT | _ansi() | st.sampled_from(["\x1b", "\x1b[", "\x1b]", "\r\n", "\r"])).map("".join))
@example(text="\x1b]0;title\x1b[31mred\x1b[0m\r\n\x9b2J\x07")
def test_clean_terminal_leaves_no_escape_and_is_idempotent(text: str) -> None:
    cleaned = clean_terminal(text)
    assert "\x1b" not in cleaned
    assert not [ch for ch in cleaned if unicodedata.category(ch) in UNSAFE_CATEGORIES and ch not in "\n\t"]
    assert clean_terminal(cleaned) == cleaned


@CHEAP
@given(pieces=st.lists(st.tuples(_ansi(), TERMINAL_PLAIN), max_size=6), first=TERMINAL_PLAIN)
def test_clean_terminal_keeps_the_text_around_escape_sequences(pieces: list[tuple[str, str]], first: str) -> None:
    plain = first + "".join(text for _, text in pieces)
    coloured = first + "".join(seq + text for seq, text in pieces)
    assert clean_terminal(plain) == plain
    assert clean_terminal(coloured) == plain


# --- 2. The intent router ---------------------------------------------------------------------

PREPENDED_MARKS = "\u0600\u0601\u0602\u0603\u0604\u0605\u06dd\u070f\u0890\u0891\u08e2\U000110bd\U000110cd"
"""Format (Cf) characters that are drawn (Arabic number signs...): not invisible."""

BLANK = st.text(
    st.characters(categories=["Zs", "Zl", "Zp", "Cf"], exclude_characters=PREPENDED_MARKS)
    | st.sampled_from("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x85")
)
"""Whitespace and invisible format characters (zero-width, bidi marks and isolates, BOM...)."""


@CHEAP
@given(text=BLANK)
@example(text="\u200b\u200c\u200d\ufeff \u2060\n\u00ad")
@example(text="\u200e\u200f")
def test_blank_and_invisible_text_is_empty(text: str) -> None:
    assert route(text) == Intent(IntentKind.EMPTY)
    assert route(text, has_attachments=True) == Intent(IntentKind.UPLOAD), "no invisible request next to files"


def _is_subsequence(part: str, whole: str) -> bool:
    rest = iter(whole)
    return all(ch in rest for ch in part)


@CHEAP
@given(text=st.none() | ANY_TEXT, has_attachments=st.booleans())
@example(text=HUGE, has_attachments=False)
@example(text="export " * 20_000, has_attachments=False)
@example(text="/export@" + "b" * 50_000, has_attachments=False)
def test_route_is_total_and_arg_is_the_message(text: str | None, has_attachments: bool) -> None:
    intent = route(text, has_attachments)
    assert isinstance(intent.kind, IntentKind) and isinstance(intent.arg, str)
    assert intent.arg == intent.arg.strip()
    assert _is_subsequence(intent.arg, text or ""), "arg is the message, with characters dropped at most"
    if has_attachments:
        assert intent.kind is IntentKind.UPLOAD
    elif intent.kind is IntentKind.AGENT:
        assert intent.arg, "the agent never gets an empty request"
        if not any(unicodedata.category(ch) in ("Cf", "Mn") for ch in text or ""):
            assert intent.arg == (text or "").strip()


KEYWORDS = (
    "export",
    "please export",
    "render",
    "download",
    "send me the video",
    "credits",
    "my balance",
    "how many credits",
    "status",
    "show tracks",
    "upload",
    "cancel",
    "stop",
    "导出",
    "积分",
    "状态",
    "上传",
    "取消",
)
WORD = st.text(string.ascii_letters + string.digits + "'.,!?-中文视频", min_size=1, max_size=12)


@CHEAP
@given(words=st.lists(st.sampled_from(KEYWORDS) | WORD, min_size=1, max_size=20), pad=st.sampled_from(["", "x" * 61]))
def test_plain_messages_are_routed_with_a_confidence(words: list[str], pad: str) -> None:
    """Any plain message is the agent's, one of the commands words can ask for, or a question
    about one of them; the agent and a question keep the whole text; confidences are in [0, 1]."""
    text = " ".join([*words, pad]).strip()
    assume(not text.startswith("/"))
    intent = route(text)
    assert 0.0 <= intent.confidence <= 1.0
    assert intent.kind in {
        IntentKind.AGENT,
        IntentKind.CONFIRM,
        IntentKind.EXPORT,
        IntentKind.CREDITS,
        IntentKind.STATUS,
        IntentKind.UPLOAD,
        IntentKind.CANCEL,
    }
    if intent.kind in {IntentKind.AGENT, IntentKind.CONFIRM}:
        assert intent.arg == text
    assert (intent.suggested is not None) is (intent.kind is IntentKind.CONFIRM)


USERNAME = st.from_regex(r"[A-Za-z0-9_]{1,32}", fullmatch=True)
SEPARATOR = st.text(st.sampled_from(" \t\n\u00a0\u3000"), min_size=1, max_size=3)
AROUND = st.text(st.sampled_from(" \t\n\u200b\u200e\u200f\u2060\ufeff\u00ad"), max_size=4)
ARGUMENT = st.text(st.characters(exclude_categories=["Cc", "Cf", "Cs", "Mn"]) | st.sampled_from(" \n\t"), max_size=40)
CASES: tuple[Callable[[str], str], ...] = (str.lower, str.upper, str.capitalize)


@CHEAP
@given(
    name=st.sampled_from(sorted(COMMANDS)),
    case=st.sampled_from(CASES),
    bot=st.none() | USERNAME,
    sep=SEPARATOR,
    arg=ARGUMENT,
    before=AROUND,
    after=AROUND,
)
def test_commands_route_with_any_bot_suffix(
    name: str, case: Callable[[str], str], bot: str | None, sep: str, arg: str, before: str, after: str
) -> None:
    suffix = f"@{bot}" if bot else ""
    assert route(f"{before}/{case(name)}{suffix}{after}") == Intent(COMMANDS[name])
    assert route(f"{before}/{case(name)}{suffix}{sep}{arg}{after}") == Intent(COMMANDS[name], arg.strip())


@CHEAP
@given(
    name=st.from_regex(r"[A-Za-z_]{1,20}", fullmatch=True).filter(lambda n: n.lower() not in COMMANDS),
    bot=st.none() | USERNAME,
    sep=SEPARATOR,
    arg=ARGUMENT,
)
def test_unknown_commands_name_themselves(name: str, bot: str | None, sep: str, arg: str) -> None:
    suffix = f"@{bot}" if bot else ""
    assert route(f"/{name}{suffix}{sep}{arg}") == Intent(IntentKind.UNKNOWN_COMMAND, name.lower())


# --- 3. The SSE decoder -----------------------------------------------------------------------

BOM = b"\xef\xbb\xbf"
VALUE_BYTES = st.lists(
    st.sampled_from(
        [
            b" ",
            b":",
            b"x",
            b"12",
            b"\x00",
            BOM,
            BOM[:1],
            BOM[:2],
            "é".encode(),
            "中".encode(),
            "🎬".encode(),
            "🎬".encode()[:2],
            b"\xff",
            b"\x80",
            b'{"type":"heartbeat"}',
            b'{"content":{"parts":[{"text":"hi"}]}}',
        ]
    )
    | st.binary(max_size=4).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
    max_size=4,
).map(b"".join)
"""Field values: broken UTF-8, partial BOMs, NULs, JSON; never a line ending."""
FIELD = st.sampled_from([b"", b"data", b"data:", b"data: ", b":", b"id:", b"id: ", b"event: ", b"retry: ", b"x: "])
RAW_EOL = st.sampled_from([b"\n", b"\r\n", b"\r", b"\n\n", b"\r\r", b""])
RAW_STREAM = st.one_of(
    st.tuples(
        st.sampled_from([b"", BOM, BOM[:2]]),
        st.lists(st.tuples(FIELD, VALUE_BYTES, RAW_EOL).map(b"".join), max_size=12).map(b"".join),
    ).map(b"".join),
    st.binary(max_size=64),
)
"""Bytes that look like an event stream, with garbage: split EOLs, partial BOMs, broken UTF-8."""

Outcome = tuple[list[SSEMessage], str | None, int | None]


def _decode(chunks: Sequence[bytes], **limits: int) -> Outcome:
    decoder = SSEDecoder(**limits)
    messages: list[SSEMessage] = []
    for chunk in chunks:
        messages += decoder.feed(chunk)
    messages += decoder.flush()
    return messages, decoder.last_event_id, decoder.retry_ms


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted(cuts)
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


KNOWN_EVENTS = (AgentError, Heartbeat, PartialText, StateChanged, TextAnswer, ToolCall, ToolResult)


@CHEAP
@given(stream=RAW_STREAM, data=st.data())
def test_sse_messages_do_not_depend_on_chunking(stream: bytes, data: st.DataObject) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=12), label="cuts")
    whole = _decode([stream])
    assert _decode(_split(stream, cuts)) == whole
    assert _decode([stream[i : i + 1] for i in range(len(stream))]) == whole
    for message in whole[0]:
        try:
            events = events_from_message(message)
        except SSEProtocolError:
            continue
        assert all(isinstance(event, KNOWN_EVENTS) for event in events)


@CHEAP
@given(stream=RAW_STREAM, data=st.data(), max_line=st.integers(2, 24), max_message=st.integers(1, 48))
def test_sse_limits_do_not_depend_on_chunking(
    stream: bytes, data: st.DataObject, max_line: int, max_message: int
) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=12), label="cuts")

    def outcome(chunks: Sequence[bytes]) -> Outcome | str:
        try:
            return _decode(chunks, max_line_bytes=max_line, max_message_bytes=max_message)
        except SSEProtocolError:
            return "too large"

    whole = outcome([stream])
    assert outcome(_split(stream, cuts)) == whole
    lines = re.split(rb"\r\n|\r|\n", stream.removeprefix(BOM))  # the last one may be unterminated
    if max(map(len, lines)) > max_line:
        assert whole == "too large", "a line longer than max_line_bytes, terminated or not, is refused"
    if isinstance(whole, tuple):
        assert all(len((m.data or "").encode()) <= max_message for m in whole[0])


LINE_BYTES = st.text(st.characters(exclude_characters="\r\n", exclude_categories=["Cs"]), max_size=12).map(
    str.encode
) | st.binary(max_size=8).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
"""One line's value: text, or any bytes (decoded with replacement characters)."""
EOL = st.sampled_from([b"\n", b"\r\n", b"\r"])


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


@st.composite
def sse_streams(draw: st.DrawFn) -> tuple[bytes, list[SSEMessage]]:
    """An encoded stream of messages, comments and ids, and the messages it must decode to."""
    out = bytearray(draw(st.sampled_from([b"", BOM])))
    expected: list[SSEMessage] = []
    last_id: str | None = None
    previous_eol = b""

    def line(raw: bytes) -> None:
        nonlocal previous_eol
        eol = draw(EOL)
        if previous_eol == b"\r" and not raw and eol == b"\n":
            eol = b"\r\n"  # "\r" then "\n" would be one line ending, not a blank line
        out.extend(raw + eol)
        previous_eol = eol

    for _ in range(draw(st.integers(0, 5))):
        if draw(st.booleans()):
            line(b":" + draw(LINE_BYTES))
            expected.append(SSEMessage(data=None, comment=True, id=last_id))
        if draw(st.booleans()):
            value = draw(LINE_BYTES)
            line(b"id: " + value)
            if b"\0" not in value:  # an id with NUL is ignored (spec)
                last_id = _text(value) or None
        event = draw(st.none() | LINE_BYTES)
        if event is not None:
            line(b"event: " + event)
        values = draw(st.lists(LINE_BYTES, min_size=1, max_size=3))
        for value in values:
            prefix = draw(st.sampled_from([b"data: ", b"data:"] if not value.startswith(b" ") else [b"data: "]))
            line(b"data" if not value and draw(st.booleans()) else prefix + value)
        line(b"")
        data = "\n".join(map(_text, values))
        expected.append(SSEMessage(data=data, event=_text(event or b"") or None, id=last_id))
    if draw(st.booleans()):
        out.extend(b"data: never finished" + draw(st.sampled_from([b"", b"\n"])))
    return bytes(out), expected


@CHEAP
@given(encoded=sse_streams(), data=st.data())
@example(encoded=(BOM + "data: é中🎬\r\n\r\n".encode(), [SSEMessage(data="é中🎬")]), data=None)
def test_sse_encoded_messages_decode_back_exactly(
    encoded: tuple[bytes, list[SSEMessage]], data: st.DataObject | None
) -> None:
    stream, expected = encoded
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=12), label="cuts") if data else [len(stream) - 2]
    assert _decode(_split(stream, cuts))[0] == expected


JSON_KEYS = st.sampled_from(
    [
        "content",
        "parts",
        "role",
        "text",
        "thought",
        "partial",
        "functionCall",
        "function_call",
        "functionResponse",
        "function_response",
        "name",
        "id",
        "args",
        "response",
        "actions",
        "stateDelta",
        "state_delta",
        "errorCode",
        "error_code",
        "errorMessage",
        "error",
        "error_details",
        "errorDetails",
        "error_type",
        "error_message",
        "type",
        "author",
    ]
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8) | st.just("model"),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(JSON_KEYS | st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=15,
)


@CHEAP
@given(payload=st.text() | JSON_VALUES.map(json.dumps) | st.text(st.sampled_from('{}[]":,0 1e-.tnul\\'), max_size=30))
@example(payload="[" * 100_000)
@example(payload='{"content": {"parts": [{"text": "\ud800"}]}}')
def test_agent_events_raise_only_protocol_errors(payload: str) -> None:
    try:
        events = events_from_message(SSEMessage(data=payload))
    except SSEProtocolError:
        return
    assert all(isinstance(event, KNOWN_EVENTS) for event in events)


JSON_NUMBER_AT = st.sampled_from(["{}", '{{"errorCode": {}}}', '{{"content": {{"parts": [{{"text": {}}}]}}}}'])


@CHEAP
@given(digits=st.integers(1, 6000), where=JSON_NUMBER_AT)
@example(digits=4301, where="{}")
def test_json_numbers_of_any_length_raise_only_protocol_errors(digits: int, where: str) -> None:
    """JSON sets no limit on a number's length; an event holding a huge one is at worst unreadable."""
    try:
        events = events_from_message(SSEMessage(data=where.format("7" * digits)))
    except SSEProtocolError:
        return
    assert all(isinstance(event, KNOWN_EVENTS) for event in events)


# --- 4. Converters and links ------------------------------------------------------------------

BOT_ID, BOT_NAME = 777, "nemo_test_bot"
TG_BOT = Bot("123:abc")  # only for de_json: never started, no network
USER = {"id": 1001, "is_bot": False, "first_name": "Ana", "username": "ana", "language_code": "zh-hans"}
BOT_USER = {"id": BOT_ID, "is_bot": True, "first_name": "Nemo", "username": BOT_NAME}
PRIVATE = {"id": 1001, "type": "private", "first_name": "Ana"}
GROUP = {"id": -100200, "type": "supergroup", "title": "Clips"}
FORUM = {"id": -100300, "type": "supergroup", "title": "Studio", "is_forum": True}
ENTITY_TYPES = ["mention", "bot_command", "url", "hashtag", "bold", "email", "spoiler", "code"]

URL_TOKEN = st.builds(
    lambda scheme, host, folder, stem, ext, query, punct: f"{scheme}{host}/{folder}{stem}{ext}{query}{punct}",
    st.sampled_from(["http://", "https://", "HTTPS://"]),
    st.sampled_from(["a.io", "cdn.example.com", "x.org:8080", "[::1]", "["]),
    st.sampled_from(["", "v/", "a%2Fb/"]),
    st.lists(
        st.sampled_from(["clip", "a", "match%201", ".", "%20", "%2E", "x" * 120, "%E2%80%AE", "%00", "%0A"]),
        min_size=1,
        max_size=3,
    ).map("".join),
    st.sampled_from([".mp4", ".MOV", ".webm", ".jpg", ".html", ".txt", "", ".mp4.html", ".mp4/"]),
    st.sampled_from(["", "?x=1", "#t=3", "?name=b.mp4"]),
    st.sampled_from(["", ".", ")", "!", "),"]),
)
"""http(s) links, media or not, with the punctuation people type after them."""
PLAIN_WORD = st.text(string.ascii_letters + string.digits + "'.,!?()@/中文🎬", min_size=1, max_size=10)
"""A word without ``:`` (so never a link) and without whitespace."""
LINK_TEXT = st.lists(
    URL_TOKEN | PLAIN_WORD | st.sampled_from([f"@{BOT_NAME}", "/export", f"/export@{BOT_NAME}"]), max_size=8
).map(" ".join)


def _message(body: dict[str, Any], message_id: int = 10) -> Message:
    data = {"message_id": message_id, "date": 1_773_400_000, "from": USER, "chat": PRIVATE, **body}
    message = Update.de_json({"update_id": message_id, "message": data}, TG_BOT).message
    assert message is not None
    return message


@st.composite
def telegram_bodies(draw: st.DrawFn, chat: dict[str, Any]) -> dict[str, Any]:
    """A message body: text or caption, entities anywhere, files with any names, maybe a reply."""
    text = draw(LINK_TEXT | ANY_TEXT)
    entities = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "type": st.sampled_from(ENTITY_TYPES),
                    "offset": st.integers(0, len(text) + 2),
                    "length": st.integers(0, len(text) + 2),
                }
            ),
            max_size=3,
        )
    )
    caption = draw(st.booleans())
    body: dict[str, Any] = {
        "chat": chat,
        "caption" if caption else "text": text,
        "caption_entities" if caption else "entities": entities,
    }
    file_name = st.none() | ANY_TEXT
    unique = ANY_TEXT.filter(bool)
    kind = draw(st.sampled_from(["none", "document", "video", "audio", "animation", "photo"]))
    if kind in ("document", "video", "audio", "animation"):
        media: dict[str, Any] = {"file_id": "F", "file_unique_id": draw(unique)}
        if (name := draw(file_name)) is not None:
            media["file_name"] = name
        if kind == "video" or kind == "animation":
            media.update(width=1, height=1, duration=1)
        if kind == "audio":
            media["duration"] = 1
        body[kind] = media
        if kind == "animation":
            body["document"] = {"file_id": "F", "file_unique_id": media["file_unique_id"]}
    elif kind == "photo":
        body["photo"] = [{"file_id": "P", "file_unique_id": draw(unique), "width": 9, "height": 9}]
    if chat is not PRIVATE and draw(st.booleans()):
        body["reply_to_message"] = {"message_id": 5, "date": 1, "chat": chat, "from": BOT_USER, "text": "Done."}
    return body


def _check_attachments(incoming: IncomingMessage, source: str) -> None:
    """Every name clean; pasted links are http(s) URLs of the text, gone from it; no token URL."""
    for att in incoming.attachments:
        _assert_clean_name(att.filename)
        if att.pasted:
            assert att.public_url is not None and re.match(r"https?://", att.public_url, re.I)
            assert att.public_url in source
            assert att.public_url not in incoming.text
            assert att.open is None


def _never_opened(ref: object) -> Callable[[], Any]:
    return lambda: None


@HEAVY
@given(data=st.data(), chat=st.sampled_from([PRIVATE, GROUP, FORUM]), album=st.integers(1, 3))
def test_telegram_to_incoming_is_total_and_clean(data: st.DataObject, chat: dict[str, Any], album: int) -> None:
    messages = [_message(data.draw(telegram_bodies(chat), label=f"body {i}"), 10 + i) for i in range(album)]
    for m in messages:
        for_bot = is_for_bot(m, bot_id=BOT_ID, bot_username=BOT_NAME)
        assert isinstance(for_bot, bool)
        assert for_bot or chat is not PRIVATE, "every private message is for the bot"
    incoming = to_incoming(messages, bot_username=BOT_NAME, opener=_never_opened)
    source = next((t for t in (telegram_text_of(m, BOT_NAME) for m in messages) if t), "")
    _check_attachments(incoming, source)
    for att in incoming.attachments:
        if not att.pasted:
            assert att.public_url is None and att.open is not None, "Telegram file URLs hold the bot token"


OTHER_BOTS = USERNAME | USERNAME.map(lambda s: BOT_NAME + s) | USERNAME.map(lambda s: s + BOT_NAME)
"""Other bots' usernames, including ones that merely start or end like ours."""
NO_AT = st.text(st.characters(exclude_characters="@"), max_size=20)


@HEAVY
@given(command=st.sampled_from(MENU), other=OTHER_BOTS, rest=NO_AT, case=st.sampled_from(CASES))
@example(command="export", other=BOT_NAME + "2", rest="", case=str.lower)
def test_group_commands_are_ours_only_when_addressed_to_us(
    command: str, other: str, rest: str, case: Callable[[str], str]
) -> None:
    assume(other.lower() != BOT_NAME.lower())
    for name, ours in ((other, False), (case(BOT_NAME), True)):
        head = f"/{command}@{name}"
        entities = [{"type": "bot_command", "offset": 0, "length": len(head)}]
        m = _message({"chat": GROUP, "text": head + rest, "entities": entities})
        assert is_for_bot(m, bot_id=BOT_ID, bot_username=BOT_NAME) is ours, head


@HEAVY
@given(before=NO_AT, after=NO_AT, other=OTHER_BOTS)
def test_group_messages_are_ours_only_when_they_mention_us(before: str, after: str, other: str) -> None:
    assume(other.lower() != BOT_NAME.lower() and not before.lstrip().startswith("/"))
    plain = _message({"chat": GROUP, "text": f"{before} {after}"})
    assert not is_for_bot(plain, bot_id=BOT_ID, bot_username=BOT_NAME)
    theirs = _message({"chat": GROUP, "text": f"{before} @{other} {after}"})
    assert not is_for_bot(theirs, bot_id=BOT_ID, bot_username=BOT_NAME)
    ours = _message({"chat": GROUP, "text": f"{before} @{BOT_NAME} {after}"})
    assert is_for_bot(ours, bot_id=BOT_ID, bot_username=BOT_NAME)


BUTTON_VALUES = st.sampled_from([b.value for b in Button])
CHAT_IDS = st.integers(-(10**13), 10**13)
USER_IDS = st.integers(1, 2**53)
CALLBACK_DATA = (
    ANY_TEXT
    | st.builds(lambda v, k: f"{CALLBACK_PREFIX}{v}:{k}", BUTTON_VALUES | ANY_TEXT, ANY_TEXT)
    | st.builds(
        lambda v, k: f"{CALLBACK_PREFIX}{v}:{k}", BUTTON_VALUES, st.text("0123456789abcdef", min_size=12, max_size=12)
    )
)


@CHEAP
@given(data=st.none() | CALLBACK_DATA, secret=st.binary(max_size=40), chat_id=CHAT_IDS, user_id=st.none() | USER_IDS)
@example(data="nb:export:é", secret=b"k" * 32, chat_id=-5, user_id=7)
def test_forged_callback_data_maps_to_no_button(
    data: str | None, secret: bytes, chat_id: int, user_id: int | None
) -> None:
    genuine = {
        f"{CALLBACK_PREFIX}{b.value}:{button_key(secret, chat_id, who, b)}": b.command
        for b in Button
        for who in (user_id, None)
    }
    expected = genuine.get(data) if data is not None else None
    assert command_of_callback(data, secret=secret, chat_id=chat_id, user_id=user_id) == expected


@CHEAP
@given(
    buttons=st.lists(st.sampled_from(list(Button)), min_size=1, max_size=4, unique=True),
    lang=st.sampled_from(["en", "zh"]),
    secret=st.binary(max_size=64),
    chat_id=CHAT_IDS,
    user_id=st.none() | USER_IDS,
    other=USER_IDS,
)
def test_keyboard_buttons_work_only_in_their_chat_and_hands(
    buttons: list[Button], lang: str, secret: bytes, chat_id: int, user_id: int | None, other: int
) -> None:
    assume(other != user_id)
    markup = keyboard(buttons, lang, secret=secret, chat_id=chat_id, user_id=user_id)
    assert markup is not None and all(len(row) <= 2 for row in markup.inline_keyboard)
    payloads = [b.callback_data for row in markup.inline_keyboard for b in row]
    for button, payload in zip(buttons, payloads, strict=True):
        assert isinstance(payload, str) and len(payload.encode()) <= 64
        assert command_of_callback(payload, secret=secret, chat_id=chat_id, user_id=user_id) == button.command
        assert command_of_callback(payload, secret=secret, chat_id=chat_id + 1, user_id=user_id) is None
        assert command_of_callback(payload, secret=secret + b"x", chat_id=chat_id, user_id=user_id) is None
        by_other = command_of_callback(payload, secret=secret, chat_id=chat_id, user_id=other)
        assert by_other == (button.command if user_id is None else None)


@CHEAP
@given(
    payload=st.none()
    | ANY_TEXT
    | st.tuples(st.sampled_from(["", "nb:", CUSTOM_ID_PREFIX]), BUTTON_VALUES).map("".join),
    prefix=st.sampled_from(["", CALLBACK_PREFIX, CUSTOM_ID_PREFIX]) | ANY_TEXT,
    case=st.sampled_from(CASES),
)
def test_button_payloads_parse_only_exact_values(payload: str | None, prefix: str, case: Callable[[str], str]) -> None:
    for candidate in (payload, case(payload) if payload else payload):
        expected = next((b for b in Button if candidate == prefix + b.value), None)
        assert Button.from_payload(candidate, prefix) is expected
        command = next((b.command for b in Button if candidate == custom_id(b)), None)
        assert command_of_custom_id(candidate) == command
    for button in Button:
        assert command_of_custom_id(custom_id(button)) == button.command


DISCORD_BOT_ID, GUILD, CHANNEL = 900000000000000001, 700000000000000001, 700000000000000011


@functools.cache
def _discord_channel() -> tuple[Any, Any]:
    """A guild channel on a never-connected client's state (built once, no network)."""
    client = discord.Client(intents=discord.Intents.default())
    state = client._connection
    bot_user: Any = user_payload(DISCORD_BOT_ID, "nemobot", bot=True)
    state.user = discord.ClientUser(state=state, data=bot_user)
    guild_data: Any = guild_payload(GUILD, channels=[CHANNEL], bot_user=bot_user)
    guild = discord.Guild(data=guild_data, state=state)
    state._add_guild(guild)
    return state, guild.get_channel(CHANNEL)


MENTION = st.sampled_from([f"<@{DISCORD_BOT_ID}>", f"<@!{DISCORD_BOT_ID}>"])


def _others_mentions(bot_id: int) -> st.SearchStrategy[str]:
    """Mentions of other users and roles, including ids that start or end like ``bot_id``."""
    ids = st.integers(0, 2**64) | st.integers(0, 999).map(lambda n: f"{bot_id}{n}") | st.just(str(bot_id)[:-1])
    return st.builds(lambda kind, who: f"<{kind}{who}>", st.sampled_from(["@", "@!", "@&", "#"]), ids)


@CHEAP
@given(data=st.data(), mention=MENTION, bot_id=st.integers(1, 2**64))
@example(data=None, mention=f"<@!{DISCORD_BOT_ID}>", bot_id=DISCORD_BOT_ID)
def test_discord_text_drops_only_our_mention(data: st.DataObject | None, mention: str, bot_id: int) -> None:
    any_piece = LINK_TEXT | ANY_TEXT | _others_mentions(bot_id)
    pieces = data.draw(st.lists(any_piece, min_size=1, max_size=4), label="pieces") if data else ["  ", "\t status  "]
    ours = (f"<@{bot_id}>", f"<@!{bot_id}>")
    assume(not any(m in piece for piece in pieces for m in ours))
    content = mention.replace(str(DISCORD_BOT_ID), str(bot_id)).join(pieces)
    text = discord_text_of(content, bot_id)
    assert not any(m in text for m in ours)
    assert text == text.strip() and discord_text_of(text, bot_id) == text
    assert "".join(text.split()) == "".join("".join(pieces).split()), "nothing but the mention and spaces is dropped"


@HEAVY
@given(
    content=LINK_TEXT | ANY_TEXT,
    mention=st.none() | MENTION,
    names=st.lists(ANY_TEXT, max_size=3),
)
@example(content="https://a.io/clip.mp4", mention=None, names=["../\u202eevil\r\n.mp4", ""])
def test_discord_message_to_incoming_is_total_and_clean(content: str, mention: str | None, names: list[str]) -> None:
    state, channel = _discord_channel()
    urls = [f"https://cdn.example/attachments/1/{i}/f.mp4?ex=1" for i in range(len(names))]
    payload: Any = message_payload(
        42,
        CHANNEL,
        f"{mention} {content}" if mention else content,
        author=user_payload(100000000000000001),
        guild_id=GUILD,
        attachments=[
            attachment_payload(i + 1, name, size=10, url=url)
            for i, (name, url) in enumerate(zip(names, urls, strict=True))
        ],
    )
    message = discord.Message(state=state, channel=channel, data=payload)
    incoming = message_to_incoming(message, bot_id=DISCORD_BOT_ID, opener=_never_opened)
    _check_attachments(incoming, discord_text_of(message.content, DISCORD_BOT_ID))
    uploaded = [att for att in incoming.attachments if not att.pasted]
    assert [att.public_url for att in uploaded] == urls
    assert [att.filename for att in uploaded] == [clean_filename(name) for name in names]
    assert f"<@{DISCORD_BOT_ID}>" not in incoming.text and f"<@!{DISCORD_BOT_ID}>" not in incoming.text


@CHEAP
@given(text=LINK_TEXT | ANY_TEXT | st.lists(URL_TOKEN | ANY_TEXT, max_size=4).map("".join))
@example(text="see http://x.org/a.txt and https://y.org/b.webm. https://[/v.mp4")
def test_media_links_are_urls_of_the_text(text: str) -> None:
    for url, name in media_links(text):
        assert url in text
        assert re.match(r"[a-z][a-z0-9+.\-]*://", url, re.I)  # any scheme: non-http ones are refused later
        assert not any(ch.isspace() or ch in "<>\"'" for ch in url)
        assert PurePosixPath(name).suffix.lower().lstrip(".") in ACCEPTED_EXTENSIONS


TOKEN = URL_TOKEN | PLAIN_WORD
LONGER = st.sampled_from(["", ".", ")", "?x=1", "#t", ".html", "/", "x"])
"""What follows when the same link is pasted again, or a longer link starts with it."""


@CHEAP
@given(first=URL_TOKEN, data=st.data())
@example(first="https://a.io/clip.mp4", data=None)
def test_pasting_one_link_leaves_its_neighbours_alone(first: str, data: st.DataObject | None) -> None:
    """``pasted`` on a text is ``pasted`` on each of its words: a link is taken out whole, the
    punctuation after it stays, and every other word (the same link again, a longer link that
    starts with it) reaches the agent untouched."""
    again = st.builds(lambda suffix: first + suffix, LONGER)
    tokens = data.draw(st.lists(TOKEN | again, max_size=6), label="tokens") if data else ["make", "it", "pop"]
    tokens = [first, *tokens]
    links = [media_links(token) for token in tokens]
    left = [token[len(found[0][0]) :] if found else token for token, found in zip(tokens, links, strict=True)]
    text, attachments = pasted(" ".join(tokens))
    assert text == " ".join(word for word in left if word)
    assert [att.public_url for att in attachments] == [url for found in links for url, _ in found]


@CHEAP
@given(token=URL_TOKEN)
@example(token="https://a.io/clip.mp4")
def test_pasted_media_links_keep_their_media_extension(token: str) -> None:
    """A link taken as a media file must still look like one after its name is cleaned
    (:func:`bot.uploads.check_attachment` judges by the cleaned name's extension)."""
    for att in pasted(token)[1]:
        assert PurePosixPath(att.filename).suffix.lower().lstrip(".") in ACCEPTED_EXTENSIONS, att
