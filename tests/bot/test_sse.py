"""Tests for the pure SSE decoder and the agent-event parser (contract section 3)."""

from __future__ import annotations

import itertools
import json
import random

import pytest

from bot.nemo.events import (
    AgentError,
    Heartbeat,
    PartialText,
    StateChanged,
    TextAnswer,
    ToolCall,
    ToolResult,
)
from bot.nemo.sse import (
    DEFAULT_MAX_LINE_BYTES,
    SSEDecoder,
    SSEMessage,
    SSEProtocolError,
    events_from_message,
    parse_event,
)

# --- The example lines of contract section 3 ------------------------------------------------
# Copied from /work/shared/nemovideo-api.md; the elisions ("e-5c1f...", "args":{...},
# "actions":{...}, "timestamp":..., "draft":{...}) are filled in with plausible values so the
# lines are valid JSON. The verbatim (elided) lines are checked separately below.

EX_PARTIAL = (
    '{"content":{"parts":[{"text":"Adding the leaderboard."}],"role":"model"},"partial":true,'
    '"invocationId":"e-5c1f0a","author":"nemo_agent","actions":{"stateDelta":{},"artifactDelta":{}},'
    '"id":"Xk3p9QaZ","timestamp":1773423613.6}'
)
EX_CALL = (
    '{"content":{"parts":[{"functionCall":{"id":"adk-1a2b","name":"edit_multitrack",'
    '"args":{"instruction":"add a leaderboard"}}}],"role":"model"},"invocationId":"e-5c1f0a",'
    '"author":"nemo_agent","actions":{"stateDelta":{},"artifactDelta":{}},"id":"b7Tq2LmN",'
    '"timestamp":1773423614.1}'
)
EX_RESPONSE = (
    '{"content":{"parts":[{"functionResponse":{"id":"adk-1a2b","name":"edit_multitrack",'
    '"response":{"status":"success"}}}],"role":"user"},"actions":{"stateDelta":{"draft":{"t":[],"d":0}}},'
    '"invocationId":"e-5c1f0a","author":"nemo_agent","id":"c8Ur3MoP","timestamp":1773423620.0}'
)
EX_ERROR_CODE = (
    '{"errorCode":"MALFORMED_FUNCTION_CALL","errorMessage":"Malformed function call: edit(","id":"d9Vs4NpQ"}'
)
EX_ERROR = (
    '{"error":"ValueError: bad draft","error_details":{"error_type":"ValueError",'
    '"error_message":"bad draft","timestamp":1773423625.0}}'
)
EX_HEARTBEAT = '{"type":"heartbeat"}'

# Verbatim lines with "{...}" / "..." elisions: not JSON, so they must raise.
EX_VERBATIM_CALL = (
    '{"content":{"parts":[{"functionCall":{"id":"adk-1a2b","name":"edit_multitrack","args":{...}}}],'
    '"role":"model"},"invocationId":"e-5c1f...","author":"nemo_agent","actions":{...},"id":"b7Tq2LmN","timestamp":...}'
)
EX_VERBATIM_ERROR_CODE = '{"errorCode":"MALFORMED_FUNCTION_CALL","errorMessage":"...",...}'


def ev(**fields: object) -> str:
    """Serialize an ADK-like event compactly (non-ASCII kept, as a server would send it)."""
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


# --- parse_event ---------------------------------------------------------------------------

PARSE_CASES = [
    # contract examples
    pytest.param(EX_PARTIAL, [PartialText("Adding the leaderboard.")], id="contract-partial-text"),
    pytest.param(
        EX_PARTIAL.replace('"partial":true', '"partial":false'),
        [TextAnswer("Adding the leaderboard.", "nemo_agent")],
        id="contract-final-text",
    ),
    pytest.param(
        EX_CALL,
        [ToolCall("edit_multitrack", "adk-1a2b", {"instruction": "add a leaderboard"})],
        id="contract-function-call",
    ),
    pytest.param(
        EX_RESPONSE,
        [
            ToolResult("edit_multitrack", "adk-1a2b", {"status": "success"}),
            StateChanged(("draft",), {"draft": {"t": [], "d": 0}}),
        ],
        id="contract-function-response-with-state-delta",
    ),
    pytest.param(
        EX_ERROR_CODE,
        [AgentError("MALFORMED_FUNCTION_CALL", "Malformed function call: edit(")],
        id="contract-error-code",
    ),
    pytest.param(EX_ERROR, [AgentError("ValueError", "bad draft")], id="contract-error"),
    pytest.param(EX_HEARTBEAT, [Heartbeat()], id="contract-heartbeat-json"),
    pytest.param("", [Heartbeat()], id="contract-empty-data"),
    pytest.param("  \n\t", [Heartbeat()], id="whitespace-data"),
    # text: final vs partial, roles, thoughts
    pytest.param(
        ev(content={"parts": [{"text": "好的，已添加排行榜。"}], "role": "model"}, author="nemo_agent"),
        [TextAnswer("好的，已添加排行榜。", "nemo_agent")],
        id="final-text-no-partial-key",
    ),
    pytest.param(
        ev(content={"parts": [{"text": "hi"}]}),
        [TextAnswer("hi", None)],
        id="text-missing-role-and-author",
    ),
    pytest.param(
        ev(content={"parts": [{"text": "echo of user"}], "role": "user"}, author="user"),
        [],
        id="text-from-user-role-ignored",
    ),
    pytest.param(
        ev(content={"parts": [{"text": "thinking...", "thought": True}], "role": "model"}),
        [],
        id="thought-hidden",
    ),
    pytest.param(
        ev(content={"parts": [{"text": "thinking...", "thought": True}], "role": "model"}, partial=True),
        [],
        id="partial-thought-hidden",
    ),
    pytest.param(
        ev(
            content={"parts": [{"text": "plan", "thought": True}, {"text": "Done."}], "role": "model"},
            author="nemo_agent",
        ),
        [TextAnswer("Done.", "nemo_agent")],
        id="thought-then-answer",
    ),
    pytest.param(
        ev(content={"parts": [{"text": "shown", "thought": False}], "role": "model"}),
        [TextAnswer("shown")],
        id="thought-false-shown",
    ),
    pytest.param(
        ev(content={"parts": [{"text": ""}], "role": "model"}),
        [],
        id="empty-text-skipped",
    ),
    pytest.param(
        ev(content={"parts": [{"text": "a"}, {"text": "b"}], "role": "model"}, partial=True),
        [PartialText("a"), PartialText("b")],
        id="partial-two-parts",
    ),
    # multiple parts, in order
    pytest.param(
        ev(
            content={
                "parts": [
                    {"text": "Generating the clip."},
                    {"functionCall": {"id": "c1", "name": "generate_video", "args": {"prompt": "cat"}}},
                    {"functionCall": {"id": "c2", "name": "music_add"}},
                    {"text": "Then music."},
                ],
                "role": "model",
            },
            author="nemo_agent",
        ),
        [
            TextAnswer("Generating the clip.", "nemo_agent"),
            ToolCall("generate_video", "c1", {"prompt": "cat"}),
            ToolCall("music_add", "c2", {}),
            TextAnswer("Then music.", "nemo_agent"),
        ],
        id="multiple-parts-in-order",
    ),
    pytest.param(
        ev(
            content={
                "parts": [
                    {"functionResponse": {"id": "c1", "name": "generate_video", "response": {"url": "u"}}},
                    {"functionResponse": {"id": "c2", "name": "music_add", "response": {"ok": True}}},
                ],
                "role": "user",
            },
            actions={"stateDelta": {"draft": {"t": [1]}, "generated_media": [2]}},
        ),
        [
            ToolResult("generate_video", "c1", {"url": "u"}),
            ToolResult("music_add", "c2", {"ok": True}),
            StateChanged(("draft", "generated_media"), {"draft": {"t": [1]}, "generated_media": [2]}),
        ],
        id="two-responses-then-state",
    ),
    pytest.param(
        ev(content={"parts": [{"inlineData": {"mimeType": "image/png", "data": "AAAA"}}, "junk", 3]}),
        [],
        id="unknown-part-kinds-ignored",
    ),
    # tool call/response edge shapes
    pytest.param(
        ev(content={"parts": [{"functionCall": {"name": "analyze_video"}}], "role": "model"}),
        [ToolCall("analyze_video", None, {})],
        id="call-without-id-or-args",
    ),
    pytest.param(
        ev(content={"parts": [{"functionCall": {"name": "edit", "id": "x", "args": None}}]}),
        [ToolCall("edit", "x", {})],
        id="call-args-null",
    ),
    pytest.param(
        ev(content={"parts": [{"functionResponse": {"name": "edit", "id": "x"}}], "role": "user"}),
        [ToolResult("edit", "x", {})],
        id="response-without-body",
    ),
    pytest.param(
        ev(content={"parts": [{"functionResponse": {"name": "edit", "response": "ok"}}], "role": "user"}),
        [ToolResult("edit", None, {"result": "ok"})],
        id="response-non-dict-wrapped",
    ),
    # snake_case variants
    pytest.param(
        ev(
            content={
                "parts": [{"function_call": {"id": "s1", "name": "edit_draft", "args": {"a": 1}}}],
                "role": "model",
            }
        ),
        [ToolCall("edit_draft", "s1", {"a": 1})],
        id="snake-function-call",
    ),
    pytest.param(
        ev(
            content={"parts": [{"function_response": {"id": "s1", "name": "edit_draft", "response": {"s": 1}}}]},
            actions={"state_delta": {"draft": {}}},
        ),
        [ToolResult("edit_draft", "s1", {"s": 1}), StateChanged(("draft",), {"draft": {}})],
        id="snake-function-response-and-state-delta",
    ),
    pytest.param(
        ev(error_code="SAFETY", error_message="blocked"),
        [AgentError("SAFETY", "blocked")],
        id="snake-error-code",
    ),
    pytest.param(
        ev(error="boom", errorDetails={"errorType": "RuntimeError", "errorMessage": "boom!"}),
        [AgentError("RuntimeError", "boom!")],
        id="camel-error-details",
    ),
    # errors
    pytest.param(ev(errorCode="MAX_TOKENS"), [AgentError("MAX_TOKENS", "")], id="error-code-without-message"),
    pytest.param(
        ev(errorCode="X", errorMessage="m", content={"parts": [{"text": "partial answer"}], "role": "model"}),
        [AgentError("X", "m")],
        id="error-code-wins-over-content",
    ),
    pytest.param(ev(error="ValueError: oops"), [AgentError("ERROR", "ValueError: oops")], id="error-without-details"),
    pytest.param(
        ev(error="ValueError: oops", error_details={"error_type": "ValueError"}),
        [AgentError("ValueError", "ValueError: oops")],
        id="error-details-without-message",
    ),
    pytest.param(
        ev(error={"message": "upstream down", "code": 503}),
        [AgentError("ERROR", "upstream down")],
        id="error-as-object",
    ),
    # state delta
    pytest.param(
        ev(author="nemo_agent", actions={"stateDelta": {"canvas_config": {"width": 1080}, "draft": {"t": []}}}),
        [StateChanged(("canvas_config", "draft"), {"canvas_config": {"width": 1080}, "draft": {"t": []}})],
        id="state-delta-only",
    ),
    pytest.param(ev(actions={"stateDelta": {}, "artifactDelta": {}}), [], id="empty-state-delta"),
    pytest.param(ev(actions={"stateDelta": ["not", "a", "dict"]}), [], id="state-delta-not-dict"),
    # unknown shapes degrade to []
    pytest.param("{}", [], id="empty-object"),
    pytest.param(ev(author="nemo_agent", actions={}), [], id="no-content-empty-actions"),
    pytest.param(ev(content={"role": "model"}), [], id="content-without-parts"),
    pytest.param(ev(content="text?", actions="x"), [], id="content-and-actions-wrong-types"),
    pytest.param(ev(type="ping"), [], id="unknown-type"),
]


@pytest.mark.parametrize(("data", "expected"), PARSE_CASES)
def test_parse_event(data: str, expected: list[object]) -> None:
    assert parse_event(data) == expected


MALFORMED = [
    pytest.param("{", id="truncated"),
    pytest.param("not json", id="plain-text"),
    pytest.param("[DONE]", id="done-marker"),
    pytest.param("[1, 2]", id="array"),
    pytest.param('"text"', id="string"),
    pytest.param("42", id="number"),
    pytest.param("null", id="null"),
    pytest.param('{"a":1}\n{"b":2}', id="two-objects"),
    pytest.param(EX_VERBATIM_CALL, id="contract-verbatim-call-with-elision"),
    pytest.param(EX_VERBATIM_ERROR_CODE, id="contract-verbatim-error-with-elision"),
    pytest.param("[" * 100_000, id="deeply-nested"),
]


@pytest.mark.parametrize("data", MALFORMED)
def test_parse_event_malformed_raises(data: str) -> None:
    with pytest.raises(SSEProtocolError):
        parse_event(data)


def test_protocol_error_is_value_error_and_message_is_clipped() -> None:
    payload = "x" * 10_000
    with pytest.raises(ValueError) as info:
        parse_event(payload)
    assert isinstance(info.value, SSEProtocolError)
    assert len(str(info.value)) < 320
    assert "10000 chars" in str(info.value)


# --- events_from_message -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        pytest.param(SSEMessage(data=None, comment=True), [Heartbeat()], id="comment"),
        pytest.param(SSEMessage(data=None), [Heartbeat()], id="data-none"),
        pytest.param(SSEMessage(data=""), [Heartbeat()], id="data-empty"),
        pytest.param(SSEMessage(data=EX_HEARTBEAT), [Heartbeat()], id="heartbeat-json"),
        pytest.param(
            SSEMessage(data=EX_CALL, event="message"),
            [ToolCall("edit_multitrack", "adk-1a2b", {"instruction": "add a leaderboard"})],
            id="json",
        ),
    ],
)
def test_events_from_message(message: SSEMessage, expected: list[object]) -> None:
    assert events_from_message(message) == expected


def test_events_from_message_malformed_raises() -> None:
    with pytest.raises(SSEProtocolError):
        events_from_message(SSEMessage(data="{oops"))


# --- SSEDecoder: line-level rules -----------------------------------------------------------


def decode(stream: bytes, chunks: list[int] | None = None, **kwargs: int) -> list[SSEMessage]:
    """Decode a whole stream (optionally cut at the given offsets), then flush."""
    decoder = SSEDecoder(**kwargs)
    cuts = [0, *(chunks or []), len(stream)]
    out: list[SSEMessage] = []
    for start, end in itertools.pairwise(cuts):
        out += decoder.feed(stream[start:end])
    out += decoder.flush()
    return out


M = SSEMessage
COMMENT = SSEMessage(data=None, comment=True)

DECODER_CASES = [
    pytest.param(b"data: hello\n\n", [M("hello")], id="simple"),
    pytest.param(b"data:hello\n\n", [M("hello")], id="no-space-after-colon"),
    pytest.param(b"data:  two\n\n", [M(" two")], id="only-one-space-stripped"),
    pytest.param(b"data: a\ndata: b\ndata:c\n\n", [M("a\nb\nc")], id="multi-line-data"),
    pytest.param(b"data: a\ndata:\ndata: b\n\n", [M("a\n\nb")], id="empty-line-inside-data"),
    pytest.param(b"data:\n\n", [M("")], id="empty-data-colon"),
    pytest.param(b"data: \n\n", [M("")], id="empty-data-space"),
    pytest.param(b"data\n\n", [M("")], id="data-field-without-colon"),
    pytest.param(b"data: x: y\n\n", [M("x: y")], id="colon-inside-value"),
    pytest.param(b": keep-alive comment\n\n", [COMMENT], id="comment"),
    pytest.param(b":\n", [COMMENT], id="bare-colon-comment"),
    pytest.param(b"data: a\n: ping\ndata: b\n\n", [COMMENT, M("a\nb")], id="comment-inside-message"),
    pytest.param(b"\n\n\n", [], id="blank-lines-only"),
    pytest.param(b"event: update\ndata: x\n\n", [M("x", event="update")], id="event-field-kept"),
    pytest.param(b"event: update\n\ndata: x\n\n", [M("x")], id="event-without-data-not-dispatched"),
    pytest.param(b"id: 7\ndata: x\n\ndata: y\n\n", [M("x", id="7"), M("y", id="7")], id="id-persists"),
    pytest.param(b"retry: 3000\ndata: x\n\n", [M("x")], id="retry-ignored"),
    pytest.param(b"foo: bar\ndata: x\nDATA: no\n\n", [M("x")], id="unknown-fields-ignored"),
    pytest.param(b"\xef\xbb\xbfdata: bom\n\n", [M("bom")], id="leading-bom-dropped"),
    pytest.param(b"\xef\xbb\xbf\xef\xbb\xbfdata: x\n\n", [], id="second-bom-makes-unknown-field"),
    pytest.param(b"data: \xef\xbb\xbfx\n\n", [M("\ufeffx")], id="bom-inside-value-kept"),
    pytest.param(b"data: caf\xc3\xa9 \xff!\n\n", [M("caf\u00e9 \ufffd!")], id="invalid-utf8-replaced"),
    pytest.param(b"data: a\r\rdata: b\r\n\r\ndata: c\n\n", [M("a"), M("b"), M("c")], id="mixed-line-endings"),
    pytest.param(b"data: a\n\r\n", [M("a")], id="lf-then-crlf"),
    pytest.param(b"data: a\r\n\r", [M("a")], id="crlf-then-cr"),
    pytest.param(b"data: a\n\ndata: trailing", [M("a")], id="unterminated-line-discarded"),
    pytest.param(b"data: a\n\ndata: trailing\n", [M("a")], id="message-without-blank-line-discarded"),
    pytest.param(b"data: a\n\n: tail", [M("a")], id="unterminated-comment-discarded"),
]


@pytest.mark.parametrize(("stream", "expected"), DECODER_CASES)
def test_decoder_rules(stream: bytes, expected: list[SSEMessage]) -> None:
    assert decode(stream) == expected


@pytest.mark.parametrize(("stream", "expected"), DECODER_CASES)
def test_decoder_rules_byte_by_byte(stream: bytes, expected: list[SSEMessage]) -> None:
    assert decode(stream, list(range(1, len(stream)))) == expected


def test_cr_lf_split_between_chunks_is_one_line_ending() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    # The "\n" completes "\r\n" of the data line, it is NOT the blank line: nothing yet.
    assert decoder.feed(b"\n") == []
    assert decoder.feed(b"\r") == [M("a")]
    assert decoder.feed(b"\n") == []  # again just the rest of "\r\n"
    assert decoder.feed(b"data: b\r\n\r\n") == [M("b")]
    assert decoder.flush() == []


def test_cr_then_cr_across_chunks_is_a_blank_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\r") == [M("a")]


def test_empty_chunks_are_harmless() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"") == []
    assert decoder.feed(b"\n") == []
    assert decoder.feed(b"") == []
    assert decoder.feed(b"\n") == [M("a")]


def test_bom_split_across_chunks() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"\xef") == []
    assert decoder.feed(b"\xbb") == []
    assert decoder.feed(b"\xbfdata: x\n\n") == [M("x")]


def test_comment_is_yielded_immediately() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b": ping\n") == [COMMENT]
    assert events_from_message(COMMENT) == [Heartbeat()]


def test_retry_and_last_event_id_are_recorded() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"retry: 1500\nid: abc\ndata: x\n\nretry: soon\n\n")
    assert decoder.retry_ms == 1500
    assert decoder.last_event_id == "abc"


def test_flush_discards_unterminated_message_and_resets() -> None:
    """Spec behaviour (the contract says nothing else): no final blank line, no dispatch."""
    decoder = SSEDecoder()
    assert decoder.feed(f"data: {EX_HEARTBEAT}\n\ndata: {EX_CALL}\n".encode()) == [M(EX_HEARTBEAT)]
    assert decoder.flush() == []
    # The decoder starts afresh: the discarded data line does not leak into the next message,
    # and a BOM is dropped again.
    assert decoder.feed(b"\xef\xbb\xbfdata: next\n\n") == [M("next")]
    assert decoder.flush() == []


def test_flush_on_clean_end_returns_nothing() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n\n") == [M("a")]
    assert decoder.flush() == []


# --- SSEDecoder: memory bounds --------------------------------------------------------------


def test_default_line_limit_is_8_mib() -> None:
    assert DEFAULT_MAX_LINE_BYTES == 8 * 1024 * 1024


def test_oversize_line_without_ending_raises() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: " + b"x" * (DEFAULT_MAX_LINE_BYTES - 6))  # exactly at the limit: fine
    with pytest.raises(SSEProtocolError, match="longer than"):
        decoder.feed(b"x")


def test_oversize_complete_line_in_one_chunk_raises() -> None:
    decoder = SSEDecoder(max_line_bytes=64)
    with pytest.raises(SSEProtocolError):
        decoder.feed(b"data: " + b"y" * 100 + b"\n\n")


def test_oversize_line_in_small_chunks_raises() -> None:
    decoder = SSEDecoder(max_line_bytes=1000)
    with pytest.raises(SSEProtocolError):
        for _ in range(200):
            decoder.feed(b"z" * 16)


def test_line_at_limit_is_accepted() -> None:
    line = b"data: " + b"q" * 58  # 64 bytes
    assert decode(line + b"\r\n\r\n", max_line_bytes=64) == [M("q" * 58)]


def test_oversize_message_data_raises() -> None:
    decoder = SSEDecoder(max_line_bytes=100, max_message_bytes=250)
    with pytest.raises(SSEProtocolError, match="larger than"):
        decoder.feed(b"".join(b"data: " + b"m" * 50 + b"\n" for _ in range(10)))


def test_long_line_in_many_chunks_is_decoded() -> None:
    payload = "长" * 200_000  # 600 kB of 3-byte characters, cut inside characters
    stream = f"data: {payload}\n\n".encode()
    decoder = SSEDecoder()
    out: list[SSEMessage] = []
    for start in range(0, len(stream), 1000):
        out += decoder.feed(stream[start : start + 1000])
    assert out == [M(payload)]


# --- SSEDecoder + parse_event: a realistic stream split everywhere --------------------------

CHINESE_ANSWER = "排行榜已添加到视频开头，时长 3 秒。要导出吗？🎬"

STREAM_EVENTS: list[str | None] = [
    # None stands for a ": keep-alive" comment line; every other item is one data payload.
    EX_HEARTBEAT,
    ev(
        content={"parts": [{"text": "用户想要排行榜", "thought": True}], "role": "model"},
        partial=True,
        author="nemo_agent",
    ),
    ev(content={"parts": [{"text": "正在添加排行榜"}], "role": "model"}, partial=True, author="nemo_agent"),
    EX_CALL,
    None,
    "",
    EX_RESPONSE,
    ev(
        content={"parts": [{"text": "思考", "thought": True}, {"text": CHINESE_ANSWER}], "role": "model"},
        author="nemo_agent",
        actions={"stateDelta": {}, "artifactDelta": {}},
    ),
    EX_ERROR_CODE,
]

STREAM_EXPECTED = [
    Heartbeat(),
    PartialText("正在添加排行榜"),
    ToolCall("edit_multitrack", "adk-1a2b", {"instruction": "add a leaderboard"}),
    Heartbeat(),
    Heartbeat(),
    ToolResult("edit_multitrack", "adk-1a2b", {"status": "success"}),
    StateChanged(("draft",), {"draft": {"t": [], "d": 0}}),
    TextAnswer(CHINESE_ANSWER, "nemo_agent"),
    AgentError("MALFORMED_FUNCTION_CALL", "Malformed function call: edit("),
]

LINE_ENDINGS = [pytest.param("\n", id="LF"), pytest.param("\r\n", id="CRLF"), pytest.param("\r", id="CR")]


def build_stream(eol: str) -> bytes:
    out = []
    for item in STREAM_EVENTS:
        if item is None:
            out.append(f": keep-alive comment{eol}{eol}")
        elif item == "":
            out.append(f"data:{eol}{eol}")
        else:
            out.append(f"data: {item}{eol}{eol}")
    # A payload spread over several data: lines must decode the same (JSON allows the "\n").
    multi = EX_HEARTBEAT.replace(":", f":{eol}data: ", 1)
    out.insert(1, f"data: {multi}{eol}{eol}")
    return "".join(out).encode("utf-8")


def events_of(messages: list[SSEMessage]) -> list[object]:
    return [event for message in messages for event in events_from_message(message)]


EXPECTED_WITH_MULTI = [Heartbeat(), Heartbeat(), *STREAM_EXPECTED[1:]]


@pytest.mark.parametrize("eol", LINE_ENDINGS)
def test_stream_whole(eol: str) -> None:
    stream = build_stream(eol)
    assert "排行榜".encode() in stream
    assert events_of(decode(stream)) == EXPECTED_WITH_MULTI


@pytest.mark.parametrize("eol", LINE_ENDINGS)
def test_stream_split_at_every_offset(eol: str) -> None:
    stream = build_stream(eol)
    reference = decode(stream)
    assert events_of(reference) == EXPECTED_WITH_MULTI
    for offset in range(len(stream) + 1):
        assert decode(stream, [offset]) == reference, f"split at byte {offset}"


@pytest.mark.parametrize("eol", LINE_ENDINGS)
def test_stream_byte_by_byte(eol: str) -> None:
    stream = build_stream(eol)
    messages = decode(stream, list(range(1, len(stream))))
    assert events_of(messages) == EXPECTED_WITH_MULTI
    assert messages == decode(stream)


@pytest.mark.parametrize("eol", LINE_ENDINGS)
@pytest.mark.parametrize("seed", range(5))
def test_stream_random_chunks(eol: str, seed: int) -> None:
    stream = build_stream(eol)
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(stream)), 40))
    assert events_of(decode(stream, cuts)) == EXPECTED_WITH_MULTI


@pytest.mark.parametrize("eol", LINE_ENDINGS)
def test_stream_messages_are_yielded_as_soon_as_complete(eol: str) -> None:
    """Each message comes out of the feed() that delivers its blank line, not later."""
    stream = build_stream(eol)
    decoder = SSEDecoder()
    boundary = (eol + eol).encode()
    first_end = stream.index(boundary) + len(boundary)
    # With "\r" endings the decoder cannot know yet that no "\n" follows, but the blank line
    # itself is complete, so the message is out.
    assert events_of(decoder.feed(stream[:first_end])) == [Heartbeat()]


def test_stream_with_bom_and_trailing_unterminated_event() -> None:
    stream = b"\xef\xbb\xbf" + build_stream("\r\n") + f"data: {EX_ERROR}\r\n".encode()
    for offset in range(0, len(stream) + 1, 7):
        assert events_of(decode(stream, [offset])) == EXPECTED_WITH_MULTI


def test_a_lone_surrogate_in_agent_text_becomes_a_replacement_character():
    """JSON may escape half an emoji (``\\ud83d``); UTF-8 cannot carry it, so no platform could be sent it."""
    [answer] = parse_event('{"content": {"role": "model", "parts": [{"text": "GG \\ud83d and \\ud83d\\ude00"}]}}')
    assert answer.text == "GG \ufffd and \U0001f600"
    answer.text.encode("utf-8")  # sendable
