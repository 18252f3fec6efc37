"""Tokens and authorised calls: the identity kept by the store, fetching a token, refreshing it on auth errors.

:meth:`TokenManager.call` is the one authorised API call of the client: token, one exchange
(:mod:`bot.nemo.transport`), the retry policy (:mod:`bot.nemo.retry`).

Contract section 2 (endpoint 1, anonymous tokens: 100 credits, 7-day expiry, one per client
id; after expiry ask again with the same ``X-Client-Id``) and section 7 (code 1001/1010/1011
or HTTP 401: get a new token with the same client id and retry once).

One :class:`TokenManager` is one identity; a client serves several over one transport
(:meth:`bot.nemo.client.NemoClient.bound`), and a manager only ever sends its own token.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from pydantic import ValidationError

from bot.nemo.errors import NemoAuthError, NemoError, NemoIdentityUnavailable, identity_unavailable
from bot.nemo.models import AnonymousToken, Attribution
from bot.nemo.retry import RetryPolicy, retry_call
from bot.nemo.transport import Transport, data_of
from bot.redact import register_secrets

log = logging.getLogger(__name__)

T = TypeVar("T")

EXPIRY_MARGIN = timedelta(seconds=60)
"""A token this close to its expiry is replaced before use."""


@dataclass(frozen=True, slots=True)
class StoredToken:
    """The anonymous identity kept by the store.

    Attributes:
        client_id: The ``X-Client-Id`` UUID, created once and kept (contract section 2).
        token: The bearer token, or ``None`` before the first call.
        user_id: ``anon_...`` user id, used for the registration link.
        expires_at: Token expiry (UTC), or ``None`` when unknown.
    """

    client_id: str
    token: str | None = None
    user_id: str | None = None
    expires_at: datetime | None = None


class TokenStore(Protocol):
    """Where the client keeps its anonymous identity (implemented by :mod:`store`)."""

    async def load_token(self) -> StoredToken | None:
        """The kept identity, or ``None`` before the first one."""
        ...

    async def save_token(self, token: StoredToken) -> None:
        """Keep ``token`` (replacing the previous identity)."""
        ...

    async def create_token(self, token: StoredToken) -> StoredToken:
        """Keep ``token`` unless an identity is kept already (another instance of the bot made
        one first); the identity kept."""
        ...


class MemoryTokenStore:
    """A :class:`TokenStore` in memory, for tools and tests."""

    def __init__(self) -> None:
        self.value: StoredToken | None = None

    async def load_token(self) -> StoredToken | None:
        """The kept identity."""
        return self.value

    async def save_token(self, token: StoredToken) -> None:
        """Keep ``token``."""
        self.value = token

    async def create_token(self, token: StoredToken) -> StoredToken:
        """Keep ``token`` unless one is kept; the one kept."""
        if self.value is None:
            self.value = token
        return self.value


class TokenManager:
    """The bearer token of every call (a fixed ``NEMO_TOKEN`` or an anonymous one), and the call itself.

    Args:
        transport: Sends the calls, ``POST /api/auth/anonymous-token`` (endpoint 1) included.
        store: Where the anonymous identity lives (ignored with ``fixed_token``).
        policy: The retry policy of :meth:`call` and :meth:`authorized`.
        fixed_token: ``NEMO_TOKEN``: use this bearer and never ask for anonymous tokens.
        client_id: ``NEMO_CLIENT_ID``: the anonymous client id to use (a stored identity
            with another client id is replaced).
    """

    def __init__(
        self,
        transport: Transport,
        store: TokenStore,
        policy: RetryPolicy,
        *,
        fixed_token: str | None,
        client_id: str | None,
    ) -> None:
        self._transport = transport
        self._store = store
        self.policy = policy
        self._fixed_token = fixed_token
        self._client_id = client_id
        register_secrets((fixed_token, client_id))  # never in a log line (bot/redact.py)
        self._identity: StoredToken | None = None
        self._lock = asyncio.Lock()

    @property
    def user_id(self) -> str | None:
        """The anonymous ``user_id`` (``anon_...``) once known."""
        return self._identity.user_id if self._identity else None

    @property
    def is_anonymous(self) -> bool:
        """True without ``NEMO_TOKEN``."""
        return self._fixed_token is None

    @property
    def client_id(self) -> str | None:
        """The ``X-Client-Id`` of this identity: the given one, or the kept one once loaded.

        ``None`` with a fixed token (none is sent), or before the first call when none was
        given. It can fetch tokens for the same user (contract section 2): never log it.
        """
        if self._fixed_token:
            return None
        return self._identity.client_id if self._identity else self._client_id

    async def token(self) -> str:
        """A token valid for at least another minute, fetched when needed.

        Raises:
            NemoIdentityUnavailable: No anonymous token could be had (see :meth:`_fetch`).
        """
        if self._fixed_token:
            return self._fixed_token
        async with self._lock:
            if self._identity is None:
                self._identity = await self._store.load_token()
                if self._identity is not None:
                    register_secrets((self._identity.token, self._identity.client_id))
                if self._identity is None:  # the first: whichever instance of the bot makes one first wins
                    fresh = StoredToken(client_id=self._client_id or str(uuid.uuid4()))
                    self._identity = await self._store.create_token(fresh)
                    if self._client_id and self._identity.client_id != self._client_id:
                        self._identity = fresh
                        await self._store.save_token(fresh)
                    register_secrets((self._identity.token, self._identity.client_id))
                elif self._client_id and self._identity.client_id != self._client_id:
                    self._identity = StoredToken(client_id=self._client_id)
                    await self._store.save_token(self._identity)
            ident = self._identity
            if ident.token and (ident.expires_at is None or ident.expires_at - EXPIRY_MARGIN > datetime.now(UTC)):
                return ident.token
            return await self._fetch()

    async def refresh(self, rejected: str) -> str:
        """A new token after ``rejected`` was refused (contract section 7, 1001/1010/1011/401).

        Concurrent refreshes of the same rejected token fetch one new token.

        Raises:
            NemoAuthError: With a fixed ``NEMO_TOKEN`` (it cannot be refreshed).
            NemoIdentityUnavailable: No new anonymous token could be had.
        """
        if self._fixed_token:
            raise NemoAuthError("NEMO_TOKEN was rejected by NemoVideo; set a valid token", status=401)
        async with self._lock:
            if self._identity and self._identity.token and self._identity.token != rejected:
                return self._identity.token  # another task refreshed already
            return await self._fetch()

    async def call(
        self,
        method: str,
        path: str,
        *,
        attribution: Attribution | None = None,
        json_body: Any = None,
        body_factory: Callable[[], Any] | None = None,
        replayable: bool = True,
    ) -> Any:
        """One authorised API call under the retry policy; GETs are the idempotent calls.

        Args:
            method: ``GET`` or ``POST``.
            path: Path under the API base.
            attribution: Attribution headers (the client's default when ``None``).
            json_body: A JSON body.
            body_factory: Builds a fresh body (multipart form) for each attempt.
            replayable: False when the body cannot be sent twice: nothing is retried.

        Returns:
            The decoded answer body (see :meth:`Transport.send`).

        Raises:
            NemoError: The last failure once it is no longer retried.
        """

        async def attempt(token: str) -> Any:
            data = body_factory() if body_factory else None
            return await self._transport.send(
                method, path, attribution=attribution, token=token, json_body=json_body, data=data
            )

        return await self.authorized(
            attempt, idempotent=method == "GET", replayable=replayable, what=f"{method} {path}"
        )

    async def authorized(
        self,
        attempt: Callable[[str], Awaitable[T]],
        *,
        idempotent: bool,
        replayable: bool = True,
        transient_attempts: int | None = None,
        what: str = "NemoVideo call",
    ) -> T:
        """Run ``attempt(token)`` under the retry policy, refreshing the token on auth errors.

        Each attempt gets the current token; after an auth failure the rejected token is
        refreshed (:meth:`refresh`) before the single retry. Other rules: see
        :func:`bot.nemo.retry.retrying` (same keyword arguments).

        Returns:
            What ``attempt`` returned.

        Raises:
            NemoError: The last failure once it is no longer retried.
        """
        used: list[str] = []

        async def once() -> T:
            token = await self.token()
            used.append(token)
            return await attempt(token)

        async def on_auth_error(_: NemoAuthError) -> None:
            await self.refresh(used[-1])

        return await retry_call(
            once,
            self.policy,
            idempotent=idempotent,
            replayable=replayable,
            on_auth_error=on_auth_error,
            transient_attempts=transient_attempts,
            what=what,
        )

    async def _fetch(self) -> str:
        """``POST /api/auth/anonymous-token`` with ``X-Client-Id`` (endpoint 1); call under the lock.

        The call goes through the retry policy as an idempotent one (the same client id
        gets the same user, section 2): 5xx, connection errors and timeouts with back-off,
        HTTP 429 once after the wait (section 7). The new identity is saved to the store.

        Returns:
            The new bearer token.

        Raises:
            NemoIdentityUnavailable: The call still failed, or answered without a token;
                ``status``, ``code`` and ``retry_after`` (s) are the last failure's. A
                WARNING tells the operator what to do (no token, no client id in it).
        """
        assert self._identity is not None
        client_id = self._identity.client_id

        async def ask() -> Any:
            return await self._transport.send(
                "POST", "/api/auth/anonymous-token", headers={"X-Client-Id": client_id}, attribution=None, token=None
            )

        try:
            body = await retry_call(ask, self.policy, idempotent=True, what="POST /api/auth/anonymous-token")
            data = AnonymousToken.model_validate(data_of(body))
        except NemoError as exc:
            err = identity_unavailable(exc)
            log.warning("%s; %s", err.message, err.advice)
            raise err from exc
        except ValidationError:  # the answer may hold a token with a bad field: not chained, not kept
            err = NemoIdentityUnavailable(
                "the backend answered the anonymous-token call without a usable token",
                advice="check that NEMO_API_URL points at NemoVideo",
            )
            log.warning("%s; %s", err.message, err.advice)
            raise err from None
        expires = data.expires_at
        if expires is not None and expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        register_secrets((data.token, client_id))
        self._identity = StoredToken(client_id, data.token, data.user_id, expires)
        await self._store.save_token(self._identity)
        log.info("got an anonymous NemoVideo token for user %s", data.user_id)
        return data.token
