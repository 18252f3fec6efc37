"""The one retry policy of :mod:`bot.nemo`, built on tenacity (design habit 3, contract sections 3, 5, 7).

Every retry in the client goes through :func:`retrying` / :func:`retry_call`:

- transient failures (:class:`~bot.nemo.errors.NemoServerError` (5xx),
  :class:`~bot.nemo.errors.NemoConnectionError`, :class:`~bot.nemo.errors.NemoTimeoutError`,
  HTTP 408) are retried only for idempotent calls (GETs, polls, output downloads), with
  exponential back-off: ``backoff_s``, ``2 * backoff_s``, ``4 * backoff_s``... capped at
  ``backoff_max_s``;
- HTTP 429 (:class:`~bot.nemo.errors.NemoRateLimited`) is retried once for any call whose
  body can be sent again, after ``Retry-After`` or, without it, ``rate_limit_wait_s``
  (section 7: 30 s). A ``Retry-After`` longer than ``max_retry_after_s`` is not waited for:
  the error is raised at once so the user hears about it instead of waiting in silence;
- an auth failure (:class:`~bot.nemo.errors.NemoAuthError`: 1001/1010/1011/HTTP 401) is
  retried once, right away, after the caller's ``on_auth_error`` fetched a fresh anonymous
  token (section 7);
- a :class:`~bot.nemo.errors.NemoIdentityUnavailable` (no anonymous token could be had) is
  never retried: the token call already went through this policy on its own
  (:meth:`bot.nemo.auth.TokenManager.token`), and nesting would multiply the attempts;
- nothing else is retried. ``/run_sse`` uses this policy only for its first POST, as a
  non-idempotent call (429 and auth once, never 5xx), and never once the stream started
  (section 3: a re-sent message duplicates the work and charges twice).

Example::

    status = await retry_call(lambda: fetch_status(rid), policy, idempotent=True, what="GET status")
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, cast

import tenacity

from bot.nemo.errors import (
    NemoAuthError,
    NemoBadRequest,
    NemoConnectionError,
    NemoIdentityUnavailable,
    NemoRateLimited,
    NemoServerError,
    NemoTimeoutError,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

Sleep = Callable[[float], Awaitable[None]]
"""An awaitable sleep taking seconds, like :func:`asyncio.sleep` (injectable for tests)."""

AuthRefresh = Callable[[NemoAuthError], Awaitable[None]]
"""Awaited before the retry that follows an auth failure; gets a fresh token (may raise)."""

Kind = Literal["transient", "rate_limited", "auth"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How much and how long to retry (the numbers; the rules are in the module docstring).

    Attributes:
        transient_attempts: Total attempts of an idempotent call on transient failures
            (1 means no retry). The client's default is 4 (``get_retries=3``); output
            downloads use 3.
        backoff_s: First back-off after a transient failure (s), doubled each time.
        backoff_max_s: Longest back-off (s).
        rate_limit_wait_s: Wait after HTTP 429 without ``Retry-After`` (s; section 7: 30).
        max_retry_after_s: Longest ``Retry-After`` honoured (s); a longer one is raised at
            once (``rate_limit_wait_s`` itself is never capped).
        rate_limit_retries: Retries after HTTP 429 (section 7: once).
        auth_retries: Retries after an auth failure, each with a fresh token (section 7: once).
        sleep: The sleep used between attempts (seconds); tests inject a recorder.
    """

    transient_attempts: int = 4
    backoff_s: float = 0.5
    backoff_max_s: float = 30.0
    rate_limit_wait_s: float = 30.0
    max_retry_after_s: float = 120.0
    rate_limit_retries: int = 1
    auth_retries: int = 1
    sleep: Sleep = field(default=asyncio.sleep)


def is_transient(exc: BaseException) -> bool:
    """True for failures an idempotent call may retry: 5xx, connection, timeout, HTTP 408.

    A :class:`~bot.nemo.errors.NemoIdentityUnavailable` is not, even when it is also a
    connection error or a timeout: its own call was retried already.
    """
    if isinstance(exc, NemoIdentityUnavailable):
        return False
    if isinstance(exc, NemoServerError | NemoConnectionError | NemoTimeoutError):
        return True
    return isinstance(exc, NemoBadRequest) and exc.status == 408


class _Rules:
    """Per-call budgets and waits; one instance per :func:`retrying` object."""

    def __init__(
        self, policy: RetryPolicy, *, idempotent: bool, replayable: bool, auth: bool, transient_attempts: int | None
    ) -> None:
        self.policy = policy
        attempts = policy.transient_attempts if transient_attempts is None else transient_attempts
        self.budget: dict[Kind, int] = {
            "transient": max(0, attempts - 1) if idempotent else 0,
            "rate_limited": policy.rate_limit_retries if replayable else 0,
            "auth": policy.auth_retries if replayable and auth else 0,
        }
        self.used: dict[Kind, int] = {"transient": 0, "rate_limited": 0, "auth": 0}

    @staticmethod
    def _kind(exc: BaseException | None) -> Kind | None:
        if isinstance(exc, NemoRateLimited):
            return "rate_limited"
        if isinstance(exc, NemoAuthError):
            return "auth"
        if exc is not None and is_transient(exc):
            return "transient"
        return None

    def _rate_wait(self, exc: NemoRateLimited) -> float:
        return exc.retry_after if exc.retry_after is not None else self.policy.rate_limit_wait_s

    def should_retry(self, state: tenacity.RetryCallState) -> bool:
        exc = _failure(state)
        kind = self._kind(exc)
        if kind is None or self.used[kind] >= self.budget[kind]:
            return False
        if (
            isinstance(exc, NemoRateLimited)
            and exc.retry_after is not None
            and exc.retry_after > self.policy.max_retry_after_s
        ):
            return False  # the server asks for longer than a chat user should wait in silence
        self.used[kind] += 1
        return True

    def wait(self, state: tenacity.RetryCallState) -> float:
        exc = _failure(state)
        if isinstance(exc, NemoRateLimited):
            return self._rate_wait(exc)
        if isinstance(exc, NemoAuthError):
            return 0.0
        step = self.used["transient"] - 1
        return float(min(self.policy.backoff_max_s, self.policy.backoff_s * (2**step)))


def _failure(state: tenacity.RetryCallState) -> BaseException | None:
    outcome = state.outcome
    if outcome is None or not outcome.failed:
        return None
    return outcome.exception()


def retrying(
    policy: RetryPolicy,
    *,
    idempotent: bool,
    replayable: bool = True,
    on_auth_error: AuthRefresh | None = None,
    transient_attempts: int | None = None,
    what: str = "NemoVideo call",
) -> tenacity.AsyncRetrying:
    """A tenacity ``AsyncRetrying`` applying the policy of this module to one call.

    Use it once per call (it keeps that call's budgets), either as
    ``await retrying(...)(fn)`` or ``async for attempt in retrying(...): with attempt: ...``.
    Errors that are not retried, and the last error when the budget is spent, are raised
    unchanged (``reraise=True``): callers see :class:`~bot.nemo.errors.NemoError`
    subclasses, never ``tenacity.RetryError``.

    Args:
        policy: The numbers (attempts, back-off, waits, the sleep function).
        idempotent: Retry transient failures (5xx, connection, timeout, 408). True only for
            calls safe to repeat: GETs, render polls, output downloads.
        replayable: The request can be sent again (False for a multipart upload streamed
            from a one-shot iterator): without it nothing is retried.
        on_auth_error: Awaited with the error before the retry after an auth failure; it
            must get a fresh token (and may raise, e.g. for a rejected fixed token).
            ``None`` means auth failures are not retried.
        transient_attempts: Overrides ``policy.transient_attempts`` for this call.
        what: Names the call in log lines (never include a token).

    Returns:
        A fresh ``tenacity.AsyncRetrying``.
    """
    rules = _Rules(
        policy,
        idempotent=idempotent,
        replayable=replayable,
        auth=on_auth_error is not None,
        transient_attempts=transient_attempts,
    )

    async def before_sleep(state: tenacity.RetryCallState) -> None:
        exc = _failure(state)
        log.warning("%s failed (%r); retry %d in %.2f s", what, exc, state.attempt_number, state.upcoming_sleep)
        if isinstance(exc, NemoAuthError) and on_auth_error is not None:
            await on_auth_error(exc)

    return tenacity.AsyncRetrying(
        sleep=policy.sleep,
        retry=rules.should_retry,
        wait=rules.wait,
        before_sleep=before_sleep,
        reraise=True,
    )


async def retry_call(
    fn: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    idempotent: bool,
    replayable: bool = True,
    on_auth_error: AuthRefresh | None = None,
    transient_attempts: int | None = None,
    what: str = "NemoVideo call",
) -> T:
    """Await ``fn()`` under :func:`retrying` (same arguments) and return its result.

    Raises:
        NemoError: The last failure, once it is not (or no longer) retried.
        Exception: Anything else ``fn`` raises, at once and unchanged.
    """
    runner = retrying(
        policy,
        idempotent=idempotent,
        replayable=replayable,
        on_auth_error=on_auth_error,
        transient_attempts=transient_attempts,
        what=what,
    )

    async def attempt() -> T:  # tenacity awaits only coroutine functions; ``fn`` may be a lambda
        return await fn()

    result: Any = await runner(attempt)
    return cast(T, result)


__all__ = ["AuthRefresh", "RetryPolicy", "Sleep", "is_transient", "retry_call", "retrying"]
