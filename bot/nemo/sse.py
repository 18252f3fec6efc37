"""A pure decoder for NemoVideo's ``/run_sse`` agent stream (contract section 3).

Two layers, neither of which does any I/O:

1. :class:`SSEDecoder` turns raw byte chunks, split anywhere, into :class:`SSEMessage`
   objects, following the WHATWG "server-sent events" parsing rules
   (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):
   lines end in ``\\n``, ``\\r\\n`` or ``\\r``; a blank line dispatches the message; several
   ``data:`` lines are joined with ``\\n``; one space after the colon is stripped; a leading
   UTF-8 BOM is dropped; bytes are decoded as UTF-8 with replacement characters.
2. :func:`parse_event` / :func:`events_from_message` turn one message into the typed events of
   :mod:`bot.nemo.events` (ADK Events serialized with camelCase keys; snake_case is accepted
   too, since ADK accepts both).

Deliberate differences from a browser ``EventSource``:

- A ``:`` comment line yields ``SSEMessage(data=None, comment=True)`` at once, because the
  contract (section 3) counts keep-alive comments as "still working" heartbeats.
- Memory is bounded: an unterminated line longer than ``max_line_bytes`` or one message whose
  ``data`` lines add up to more than ``max_message_bytes`` raises :class:`SSEProtocolError`.

End of stream follows the spec: an unterminated message (no final blank line) is discarded by
:meth:`SSEDecoder.flush`; the contract (section 3) separates every event by a blank line and
ADK's server writes ``data: <json>\\n\\n`` for each one, so nothing complete is lost.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from bot.nemo.events import (
    AgentError,
    AgentEvent,
    Heartbeat,
    PartialText,
    StateChanged,
    TextAnswer,
    ToolCall,
    ToolResult,
)

__all__ = [
    "DEFAULT_MAX_LINE_BYTES",
    "DEFAULT_MAX_MESSAGE_BYTES",
    "SSEDecoder",
    "SSEMessage",
    "SSEProtocolError",
    "events_from_message",
    "parse_event",
]

DEFAULT_MAX_LINE_BYTES = 8 * 1024 * 1024
"""Longest accepted line, in bytes (8 MiB); longer raises :class:`SSEProtocolError`."""

DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""Largest accepted ``data`` of one message, in bytes (16 MiB), summed over its lines."""

_EOL = re.compile(rb"\r\n|\r|\n")
_BOM = b"\xef\xbb\xbf"
_CLIP = 200


class SSEProtocolError(ValueError):
    """The stream or one event in it cannot be read.

    Raised by :meth:`SSEDecoder.feed` for an oversize line or message (the stream is then
    unusable) and by :func:`parse_event` for a payload that is not a JSON object (only that
    event is unusable). The message quotes at most ~200 characters of the payload.
    """


@dataclass(frozen=True, slots=True)
class SSEMessage:
    """One decoded server-sent message.

    Attributes:
        data: The ``data`` lines joined with ``\\n`` (``""`` for an empty ``data:`` line), or
            ``None`` for a comment.
        comment: ``True`` for a ``:`` comment line (a keep-alive, contract section 3).
        event: The ``event:`` field, or ``None`` when absent or empty. NemoVideo sends none.
        id: The last event id seen on the stream (``id:`` field, which persists across
            messages per the spec), or ``None``. NemoVideo sends none.
    """

    data: str | None
    comment: bool = False
    event: str | None = None
    id: str | None = None


class SSEDecoder:
    """Incremental, line-based SSE decoder fed with raw byte chunks.

    Chunks may be split anywhere: inside a UTF-8 character, between ``\\r`` and ``\\n``, inside
    the leading BOM. Lines are split on bytes (``\\r``/``\\n`` never occur inside a UTF-8
    multi-byte sequence) and decoded whole, so a split character is never mangled.

    Example::

        decoder = SSEDecoder()
        for chunk in chunks:
            for message in decoder.feed(chunk):
                handle(events_from_message(message))
        decoder.flush()  # end of stream: discards an unterminated message

    Attributes:
        last_event_id: The last ``id:`` value seen, or ``None``.
        retry_ms: The last valid ``retry:`` value in milliseconds, or ``None``.
    """

    def __init__(
        self,
        *,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        """Create a decoder at the start of a stream.

        Args:
            max_line_bytes: Longest accepted line in bytes, without its line ending.
            max_message_bytes: Largest accepted sum of one message's ``data`` values in bytes.
        """
        self.max_line_bytes = max_line_bytes
        self.max_message_bytes = max_message_bytes
        self.last_event_id: str | None = None
        self.retry_ms: int | None = None
        self._reset()

    def _reset(self) -> None:
        self._buf = bytearray()
        self._scanned = 0  # bytes of _buf already known to hold no line ending
        self._at_start = True  # a BOM may still have to be dropped
        self._skip_lf = False  # the previous chunk ended in "\r": drop a leading "\n"
        self._data: list[str] = []
        self._data_bytes = 0
        self._has_data = False
        self._event = ""

    def feed(self, chunk: bytes) -> list[SSEMessage]:
        """Decode one chunk of the stream.

        Args:
            chunk: The next raw bytes, of any length (``b""`` is a no-op).

        Returns:
            The messages completed by this chunk, in stream order (possibly none).

        Raises:
            SSEProtocolError: A line exceeds ``max_line_bytes`` or a message's data exceeds
                ``max_message_bytes``. The decoder should not be fed further.
        """
        if not chunk:
            return []
        buf = self._buf
        buf += chunk
        if self._at_start:
            if len(buf) < len(_BOM) and _BOM.startswith(buf):
                return []  # could still be a BOM split across chunks
            if buf.startswith(_BOM):
                del buf[: len(_BOM)]
            self._at_start = False
        if self._skip_lf and buf:
            if buf[0] == 0x0A:  # "\r" | "\n" split across chunks: one line ending
                del buf[0]
            self._skip_lf = False

        messages: list[SSEMessage] = []
        pos = 0
        search_from = self._scanned
        while True:
            match = _EOL.search(buf, search_from)
            if match is None:
                break
            if match.start() - pos > self.max_line_bytes:
                raise SSEProtocolError(f"SSE line longer than {self.max_line_bytes} bytes")
            line = bytes(buf[pos : match.start()])
            pos = search_from = match.end()
            if pos == len(buf) and match.group() == b"\r":
                self._skip_lf = True
            message = self._process_line(line)
            if message is not None:
                messages.append(message)
        del buf[:pos]
        if len(buf) > self.max_line_bytes:
            raise SSEProtocolError(f"SSE line longer than {self.max_line_bytes} bytes")
        self._scanned = len(buf)
        return messages

    def flush(self) -> list[SSEMessage]:
        """End the stream.

        Per the WHATWG spec, an unterminated line and a message without its final blank line
        are discarded ("the incomplete event is not dispatched"); the contract (section 3)
        says nothing otherwise. The decoder is reset and can read a new stream (the
        ``last_event_id`` and ``retry_ms`` are kept).

        Returns:
            Always ``[]``; a list so that callers can treat ``feed`` and ``flush`` alike.
        """
        self._reset()
        return []

    def _process_line(self, raw: bytes) -> SSEMessage | None:
        if not raw:
            return self._dispatch()
        line = raw.decode("utf-8", errors="replace")
        if line.startswith(":"):
            return SSEMessage(data=None, comment=True, id=self.last_event_id)
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data_bytes += len(raw)
            if self._data_bytes > self.max_message_bytes:
                raise SSEProtocolError(f"SSE message data larger than {self.max_message_bytes} bytes")
            self._data.append(value)
            self._has_data = True
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self.last_event_id = value or None
        elif name == "retry" and value.isascii() and value.isdigit():
            self.retry_ms = int(value)
        # any other field name is ignored (spec)
        return None

    def _dispatch(self) -> SSEMessage | None:
        if not self._has_data:  # spec: no data line -> nothing is dispatched
            self._event = ""
            return None
        message = SSEMessage(
            data="\n".join(self._data),
            event=self._event or None,
            id=self.last_event_id,
        )
        self._data = []
        self._data_bytes = 0
        self._has_data = False
        self._event = ""
        return message


def _clip(text: str) -> str:
    """Quote at most ~200 characters of a payload for an error message."""
    if len(text) <= _CLIP:
        return repr(text)
    return repr(text[:_CLIP]) + f"... ({len(text)} chars)"


def _get(obj: dict[str, Any], camel: str, snake: str) -> Any:
    """Read ``camel`` or, when absent or ``None``, ``snake`` (ADK accepts both spellings)."""
    value = obj.get(camel)
    return obj.get(snake) if value is None else value


def _error_event(obj: dict[str, Any]) -> AgentError | None:
    code = _get(obj, "errorCode", "error_code")
    if code is not None:
        message = _get(obj, "errorMessage", "error_message")
        return AgentError(code=str(code), message="" if message is None else str(message))
    error = obj.get("error")
    if error is None:
        return None
    details = _get(obj, "error_details", "errorDetails")
    details = details if isinstance(details, dict) else {}
    code = _get(details, "error_type", "errorType") or "ERROR"
    message = _get(details, "error_message", "errorMessage")
    if not message:
        if isinstance(error, dict):
            message = error.get("message") or json.dumps(error, ensure_ascii=False)
        else:
            message = str(error)
    return AgentError(code=str(code), message=str(message))


def _part_events(part: dict[str, Any], *, role: Any, partial: bool, author: str | None) -> list[AgentEvent]:
    events: list[AgentEvent] = []
    text = part.get("text")
    if isinstance(text, str) and text and part.get("thought") is not True and role in (None, "model"):
        text = well_formed(text)
        events.append(PartialText(text) if partial else TextAnswer(text, author))
    call = _get(part, "functionCall", "function_call")
    if isinstance(call, dict):
        args = call.get("args")
        events.append(
            ToolCall(
                name=str(call.get("name") or ""),
                call_id=_str_or_none(call.get("id")),
                args=args if isinstance(args, dict) else {},
            )
        )
    response = _get(part, "functionResponse", "function_response")
    if isinstance(response, dict):
        body = response.get("response")
        if body is None:
            body = {}
        elif not isinstance(body, dict):
            body = {"result": body}  # ADK wraps non-dict tool results the same way
        events.append(
            ToolResult(
                name=str(response.get("name") or ""),
                call_id=_str_or_none(response.get("id")),
                response=body,
            )
        )
    return events


def well_formed(text: str) -> str:
    """``text`` with lone surrogates (a JSON ``"\\ud83d"`` escape without its pair) replaced by
    U+FFFD: they cannot be encoded as UTF-8, so no platform could be sent the text."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def parse_event(data: str) -> list[AgentEvent]:
    """Turn one ``data:`` payload of the agent stream into typed events (contract section 3).

    Rules, in order:

    - Empty or whitespace-only data, or ``{"type":"heartbeat"}``: ``[Heartbeat()]``.
    - ``errorCode``/``error_code``: ``[AgentError(code, errorMessage or "")]``.
    - A top-level ``error``: ``[AgentError(error_details.error_type or "ERROR",
      error_details.error_message or str(error))]``.
    - Otherwise one event per ``content.parts`` entry, in order: a text part gives
      :class:`PartialText` when the event is ``"partial": true``, else
      :class:`TextAnswer` (text only from role ``"model"`` or no role; ``"thought": true``
      parts and empty texts are skipped); ``functionCall`` gives :class:`ToolCall`;
      ``functionResponse`` gives :class:`ToolResult`. Other part kinds are ignored.
    - Then :class:`StateChanged` when ``actions.stateDelta`` is a non-empty object.

    Unknown shapes degrade to ``[]``. camelCase and snake_case keys are both accepted.

    Args:
        data: The message data (the ``data:`` lines joined with ``\\n``).

    Returns:
        The events, possibly none.

    Raises:
        SSEProtocolError: The data is not JSON, or not a JSON object.
    """
    if not data.strip():
        return [Heartbeat()]
    try:
        obj = json.loads(data)
    except json.JSONDecodeError as exc:
        raise SSEProtocolError(f"agent event is not JSON ({exc.msg} at char {exc.pos}): {_clip(data)}") from None
    except RecursionError:
        raise SSEProtocolError(f"agent event is nested too deeply: {_clip(data)}") from None
    except ValueError:  # e.g. an integer of more than 4,300 digits (sys.int_info.str_digits_check_threshold)
        raise SSEProtocolError(f"agent event holds an unreadable value: {_clip(data)}") from None
    if not isinstance(obj, dict):
        raise SSEProtocolError(f"agent event is a JSON {type(obj).__name__}, not an object: {_clip(data)}")

    if obj.get("type") == "heartbeat":
        return [Heartbeat()]
    error = _error_event(obj)
    if error is not None:
        return [error]

    events: list[AgentEvent] = []
    author = obj.get("author")
    author = author if isinstance(author, str) else None
    partial = obj.get("partial") is True
    content = obj.get("content")
    if isinstance(content, dict):
        parts = content.get("parts")
        role = content.get("role")
        if isinstance(parts, list):
            for part in parts:
                if isinstance(part, dict):
                    events.extend(_part_events(part, role=role, partial=partial, author=author))
    actions = obj.get("actions")
    if isinstance(actions, dict):
        delta = _get(actions, "stateDelta", "state_delta")
        if isinstance(delta, dict) and delta:
            events.append(StateChanged(keys=tuple(delta), delta=delta))
    return events


def events_from_message(msg: SSEMessage) -> list[AgentEvent]:
    """Turn one decoded message into typed events (contract section 3).

    A ``:`` comment and an empty ``data:`` both mean "still working".

    Args:
        msg: A message from :class:`SSEDecoder`.

    Returns:
        ``[Heartbeat()]`` for a comment or empty data, else :func:`parse_event` of the data.

    Raises:
        SSEProtocolError: The data is not a JSON object (see :func:`parse_event`).
    """
    if msg.comment or not msg.data:
        return [Heartbeat()]
    return parse_event(msg.data)
