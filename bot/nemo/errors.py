"""Typed NemoVideo errors and the one function that maps answers to them.

Only :class:`NemoError` subclasses leave :mod:`bot.nemo`; aiohttp exceptions are wrapped in
:class:`NemoConnectionError` (``raise ... from exc``). Codes follow contract section 7.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.nemo.models import RenderStatus


class NemoError(Exception):
    """Base of every NemoVideo error.

    Attributes:
        message: A short, token-free description (safe to log).
        status: The HTTP status, or ``None`` for transport errors.
        code: The envelope ``code`` (e.g. 1001), or ``None``.
        retry_after: Seconds to wait before retrying (HTTP 429 ``Retry-After``), or ``None``.
        body: The decoded answer body (dict, str or ``None``).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | None = None,
        retry_after: float | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.retry_after = retry_after
        self.body = body

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status}, code={self.code})"


class NemoConnectionError(NemoError):
    """The API could not be reached, or the connection broke mid-answer."""


class NemoTimeoutError(NemoError):
    """A call or a run took longer than allowed (HTTP timeout, SSE idle/hard limit, render limit)."""


class NemoStreamDropped(NemoConnectionError):
    """The agent stream closed abnormally after the message was accepted (never re-send)."""


class NemoAuthError(NemoError):
    """Token expired or invalid: code 1001/1010/1011 or HTTP 401."""


class NemoClientIdMissing(NemoError):
    """HTTP 400 for an anonymous-token call without ``X-Client-Id``."""


class NemoSessionNotFound(NemoError):
    """Code 1002 or ``/run_sse`` HTTP 404: the session is gone."""


class NemoOutOfCredits(NemoError):
    """Code 2001: the account has no credits left for an agent run."""


class NemoUnsupportedFile(NemoError):
    """Code 4001: the file type is not accepted."""


class NemoFileTooLarge(NemoError):
    """Code 4002: the file is over the size cap (500 MB, contract section 8)."""


class NemoPaymentRequired(NemoError):
    """HTTP 402: export blocked on the free plan, or missing attribution headers."""


class NemoRateLimited(NemoError):
    """HTTP 429 (after the client's single retry, or at once when ``Retry-After`` is too long)."""


class NemoRenderFailed(NemoError):
    """A render ended ``failed`` or ``cancelled`` (contract section 5).

    The client never resubmits a failed render: whether to (section 5 step 4) is the render
    tracker's decision, made from :attr:`status`.

    Attributes:
        status: The final :class:`~bot.nemo.models.RenderStatus` (``status.status`` is
            ``failed`` or ``cancelled``; ``status.error`` the backend's text), or ``None``
            when there was none. Unlike other errors, this is not an HTTP status: a render
            failure has none.
    """

    status: RenderStatus | None  # type: ignore[assignment]  # a render's status, not an HTTP one

    def __init__(self, message: str, *, status: RenderStatus | None = None, body: Any = None) -> None:
        super().__init__(message, body=body)
        self.status = status

    def __repr__(self) -> str:
        state = self.status.status if self.status is not None else None
        return f"{type(self).__name__}({self.message!r}, render={state})"


class NemoIdentityUnavailable(NemoError):
    """No anonymous token could be had for an identity (endpoint 1, contract section 2).

    Raised when ``POST /api/auth/anonymous-token`` failed after its own retries (429 once,
    5xx / connection errors / timeouts with back-off): the backend refused (e.g. HTTP 429,
    its limit of anonymous tokens per IP), failed (5xx), could not be reached, or answered
    without a token. ``status``, ``code`` and ``retry_after`` are those of the last failure
    (``retry_after`` in seconds, from ``Retry-After``); the failure itself is
    ``__cause__``. The call that needed the token is not retried again.

    Attributes:
        advice: What the operator can do, for the log (never shown to users).
    """

    def __init__(self, message: str, *, advice: str = "", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.advice = advice


class NemoIdentityUnreachable(NemoIdentityUnavailable, NemoConnectionError):
    """:class:`NemoIdentityUnavailable` because NemoVideo could not be reached (also a connection error)."""


class NemoIdentityTimedOut(NemoIdentityUnavailable, NemoTimeoutError):
    """:class:`NemoIdentityUnavailable` because the token call timed out (also a timeout)."""


def identity_unavailable(cause: NemoError) -> NemoIdentityUnavailable:
    """The :class:`NemoIdentityUnavailable` for a failed anonymous-token call (raise it ``from cause``).

    Args:
        cause: The last failure of ``POST /api/auth/anonymous-token``.

    Returns:
        A :class:`NemoIdentityUnreachable` / :class:`NemoIdentityTimedOut` for transport
        failures, else a :class:`NemoIdentityUnavailable`; its message says what happened
        (token-free), ``advice`` what the operator can do.
    """
    kwargs: dict[str, Any] = {"status": cause.status, "code": cause.code, "retry_after": cause.retry_after}
    own_account = "set NEMO_TOKEN to serve users from your account"
    if isinstance(cause, NemoConnectionError | NemoTimeoutError):
        kind = NemoIdentityTimedOut if isinstance(cause, NemoTimeoutError) else NemoIdentityUnreachable
        return kind(
            f"NemoVideo could not be reached for a new anonymous token ({cause.message})",
            advice="check NEMO_API_URL and the network",
            **kwargs,
        )
    if cause.status == 429 or isinstance(cause, NemoRateLimited):
        wait = f", retry after {cause.retry_after:.0f} s" if cause.retry_after is not None else ""
        return NemoIdentityUnavailable(
            f"the backend refused a new anonymous token (HTTP 429{wait})",
            advice=f"{own_account}, or raise the limit",
            **kwargs,
        )
    if cause.status is not None and cause.status >= 500:
        return NemoIdentityUnavailable(
            f"the backend failed to issue a new anonymous token (HTTP {cause.status})",
            advice=f"retry later; if it persists, {own_account}",
            **kwargs,
        )
    what = f"HTTP {cause.status}" if cause.status is not None else "no HTTP status"
    return NemoIdentityUnavailable(
        f"the backend refused a new anonymous token ({what}: {cause.message})",
        advice=f"{own_account}, or check NEMO_API_URL",
        **kwargs,
    )


class NemoBadRequest(NemoError):
    """Any other 4xx, or an envelope error code nemobot has no special meaning for."""


class NemoServerError(NemoError):
    """HTTP 5xx."""


class NemoFetchRefused(NemoError):
    """A download URL breaks the outbound fetch rules (:mod:`bot.outbound`); nothing was fetched.

    Not retried. The message names the rule broken, never the URL.
    """


_CODE_CLASSES: dict[int, type[NemoError]] = {
    1001: NemoAuthError,
    1010: NemoAuthError,
    1011: NemoAuthError,
    1002: NemoSessionNotFound,
    2001: NemoOutOfCredits,
    4001: NemoUnsupportedFile,
    4002: NemoFileTooLarge,
}


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    """``Retry-After`` in seconds: delay-seconds or an HTTP-date (RFC 9110 section 10.2.3)."""
    if not headers:
        return None
    raw = headers.get("Retry-After")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _message_of(body: Any, default: str) -> str:
    if isinstance(body, Mapping):
        for key in ("message", "error", "detail", "msg"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value[:300]
    if isinstance(body, str) and body.strip():
        return body.strip()[:300]
    return default


def error_for(status: int, body: Any, headers: Mapping[str, str] | None = None) -> NemoError | None:
    """Map one answer to a typed error, or ``None`` when it is a success.

    The single place where HTTP statuses and both envelopes are interpreted (contract
    sections 1, 5 and 7): ``{"code": N}`` with ``N != 0`` is an error even with HTTP 200;
    ``{"success": false, "error": ...}`` is an error; any non-2xx status is an error.

    Args:
        status: HTTP status.
        body: The decoded JSON body (dict), text (str) or ``None``.
        headers: Response headers (for ``Retry-After``).

    Returns:
        The error to raise, or ``None``.
    """
    code: int | None = None
    if isinstance(body, Mapping):
        raw = body.get("code")
        if isinstance(raw, int) and not isinstance(raw, bool) and raw != 0:
            code = raw
        elif isinstance(raw, str) and raw.lstrip("-").isdigit() and int(raw) != 0:
            code = int(raw)
    success_false = isinstance(body, Mapping) and body.get("success") is False

    if 200 <= status < 300 and code is None and not success_false:
        return None

    kwargs = {"status": status, "code": code, "retry_after": _retry_after(headers), "body": body}
    if code in _CODE_CLASSES:
        return _CODE_CLASSES[code](_message_of(body, f"NemoVideo error {code}"), **kwargs)
    if status == 401:
        return NemoAuthError(_message_of(body, "token invalid"), **kwargs)
    if status == 402:
        return NemoPaymentRequired(_message_of(body, "payment required"), **kwargs)
    if status == 429:
        return NemoRateLimited(_message_of(body, "rate limited"), **kwargs)
    if status == 404 and isinstance(body, Mapping) and "Session not found" in str(body.get("detail", "")):
        return NemoSessionNotFound(_message_of(body, "session not found"), **kwargs)
    if status == 400 and "client" in _message_of(body, "").lower():
        return NemoClientIdMissing(_message_of(body, "missing X-Client-Id"), **kwargs)
    if status >= 500:
        return NemoServerError(_message_of(body, f"server error {status}"), **kwargs)
    if success_false and 200 <= status < 300:
        return NemoBadRequest(_message_of(body, "request failed"), **kwargs)
    return NemoBadRequest(_message_of(body, f"HTTP {status}"), **kwargs)
