"""Switches of the local NemoVideo emulator.

Every field is read at request time, so tests may change them on a running emulator
(``emu.config.silent_share = 1.0``) or swap the whole object (``emu.config = EmulatorConfig(...)``).
The defaults describe a well-behaved backend that answers in the contract's primary dialect
(``/work/shared/nemovideo-api.md``); the other values reproduce the variants listed in the
contract's section 9 and the failures the bot must survive.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AuthFailure", "CreditsShape", "EmulatorConfig", "HeartbeatStyle", "RenderShape"]

#: How an invalid, unknown or expired bearer token is answered (contract section 9):
#: ``"1001"`` HTTP 401 with ``{"code":1001,"message":...}``; ``"1010"`` / ``"1011"`` HTTP 200
#: with that envelope code; ``"http401"`` a bare HTTP 401 (plain-text body, no envelope).
AuthFailure = Literal["1001", "1010", "1011", "http401"]
#: ``"json"``: ``data: {"type":"heartbeat"}``; ``"empty"``: an empty ``data:`` line;
#: ``"comment"``: ``: keep-alive``.
HeartbeatStyle = Literal["json", "empty", "comment"]
#: Render status answer shape A, B or C (contract section 5).
RenderShape = Literal["A", "B", "C"]
#: ``"total"``: ``{available, frozen, total}``; ``"granted"``:
#: ``{available, frozen, total_granted, total_consumed}`` (contract sections 2 and 9).
CreditsShape = Literal["total", "granted"]


class EmulatorConfig(BaseModel):
    """Runtime switches of the emulator (all times in seconds, all sizes in bytes).

    Attributes:
        token_ttl_s: Lifetime of an anonymous token; ``expires_at`` is now + this (default
            7 days, contract section 2).
        token_max_calls: When set, a token stops working after this many authenticated
            calls (call N+1 gets the auth failure), to test "token expired in the middle
            of a conversation". ``None``: unlimited.
        auth_failure: Dialect of the auth failure answer, see :data:`AuthFailure`.
        initial_credits: Credits granted to a new anonymous user (contract: 100).
        run_cost: Credits one ``/run_sse`` run freezes while it runs and consumes at its
            end (refunded when the run fails with an injected error). A run with fewer
            available credits gets code 2001.
        credits_shape: Shape of ``GET /api/credits/balance/simple``, see :data:`CreditsShape`.
        session_user_id: Add ``user_id`` to the session creation answer.
        max_upload_bytes: Per-file upload cap, counted while streaming (default 500 MB,
            contract section 8); over it -> code 4002.
        allow_remote_urls: URL uploads may fetch from hosts other than loopback. Off by
            default so the emulator never touches the network.
        url_fetch_timeout_s: Total timeout of one URL-upload download.
        public_url: Base URL written into ``cdn_url``/``outputUrl`` links; ``None`` uses
            the scheme and host the request came in on.
        step_delay_s: Pause between two agent events (paces the stream).
        heartbeat_style: Wire form of heartbeats, see :data:`HeartbeatStyle`.
        heartbeat_interval_s: A heartbeat is sent every this many seconds while a tool works.
        silent_share: Share of edit runs that end without any text (contract section 3:
            about 30%). Decided per run with ``random.Random(f"{seed}:{session_id}:{run_index}")``;
            0.0 and 1.0 are exact. Runs that change nothing always answer in text.
        seed: Seed of every per-run random decision (silence, thoughts).
        thought_share: Share of runs that start with a ``"thought": true`` part.
        gui_phrasing: Answers use web-editor GUI phrasing for some requests (export
            requests, leaderboards, highlight reels, music, titles), as the real backend does.
        trailing_issue_text: Edit runs that answer in text append a second, spurious
            "I encountered a temporary issue" text event (contract section 3).
        renders_need_paid_plan: Every render submission is refused with HTTP 402 (a free
            plan that cannot export).
        cut_run_before_answer: The next ``/run_sse`` is accepted (its run goes on) and the
            connection is closed before any answer (a POST whose outcome the client cannot
            know); one-shot.
        drop_stream_after: Close the ``/run_sse`` connection abruptly after this many ADK
            events (heartbeats do not count); the run still completes server-side and its
            edit lands in the state a moment later. ``None``: never.
        fail_next_run_with: The next run fails: ``"errorCode"`` emits
            ``{"errorCode":"MALFORMED_FUNCTION_CALL",...}``, ``"error"`` emits
            ``{"error":"ValueError: ...","error_details":{...}}``. Reset to ``None`` once used.
        render_shape: Shape of ``GET /api/render/proxy/lambda/<id>``, see :data:`RenderShape`.
        render_pending_s: How long a render stays ``pending`` before ``processing``.
        render_preset: x264 preset the renderer uses.
        fail_first_render: The first render attempt of every session fails.
        omit_output_url: Completed renders carry no output URL; clients must fall back to
            ``GET /api/render/proxy/<id>/download``.
        rate_limit_next: The next this many API calls (``/api/...`` and ``/run_sse``, not the
            media files) get HTTP 429 ``{"code":429,...}`` with ``Retry-After``; counts down.
        rate_limit_retry_after_s: The ``Retry-After`` value of those answers, whole seconds.
        fault_rate: Share of API calls (``/api/...`` and ``/run_sse``) answered with an
            injected failure, one of ``fault_statuses`` (429 carries ``Retry-After``).
        fault_statuses: The HTTP statuses injected failures use.
        slow_rate: Share of API calls delayed by ``slow_s`` seconds before they are handled.
        slow_s: The delay of a slow call.
        stall_s: Every agent run sends only heartbeats for this long before its work (a
            heartbeat-only stall).
        break_downloads: The first download of every render output (``outputUrl`` or the
            download endpoint) breaks off half-way.
    """

    model_config = ConfigDict(validate_assignment=True, extra="forbid")

    # auth and credits
    token_ttl_s: float = Field(default=7 * 24 * 3600, gt=0)
    token_max_calls: int | None = Field(default=None, ge=0)
    auth_failure: AuthFailure = "1001"
    initial_credits: int = Field(default=100, ge=0)
    run_cost: int = Field(default=1, ge=0)
    credits_shape: CreditsShape = "total"
    session_user_id: bool = False

    # uploads
    max_upload_bytes: int = Field(default=500 * 1024 * 1024, gt=0)
    allow_remote_urls: bool = False
    url_fetch_timeout_s: float = Field(default=60.0, gt=0)
    public_url: str | None = None

    # agent stream
    step_delay_s: float = Field(default=0.05, ge=0)
    heartbeat_style: HeartbeatStyle = "json"
    heartbeat_interval_s: float = Field(default=0.5, gt=0)
    silent_share: float = Field(default=0.3, ge=0, le=1)
    seed: int = 0
    thought_share: float = Field(default=0.5, ge=0, le=1)
    gui_phrasing: bool = True
    trailing_issue_text: bool = False
    drop_stream_after: int | None = Field(default=None, ge=0)
    cut_run_before_answer: bool = False
    renders_need_paid_plan: bool = False
    fail_next_run_with: Literal["errorCode", "error"] | None = None

    # renders
    render_shape: RenderShape = "A"
    render_pending_s: float = Field(default=0.2, ge=0)
    render_preset: str = "veryfast"
    fail_first_render: bool = False
    omit_output_url: bool = False

    # throttling
    rate_limit_next: int = Field(default=0, ge=0)
    rate_limit_retry_after_s: int = Field(default=1, ge=0)

    # fault injection (seeded by ``seed``; ``faults`` counts what was injected)
    fault_rate: float = Field(default=0.0, ge=0, le=1)
    fault_statuses: tuple[int, ...] = (429, 500, 502, 503)
    slow_rate: float = Field(default=0.0, ge=0, le=1)
    slow_s: float = Field(default=0.5, ge=0)
    stall_s: float = Field(default=0.0, ge=0)
    break_downloads: bool = False
