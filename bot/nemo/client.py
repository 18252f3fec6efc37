"""The NemoVideo API client: :class:`NemoClient`, the facade over every endpoint of the contract.

Methods are named after the API operations (design notes, "What crosses the boundaries"); only
:class:`~bot.nemo.errors.NemoError` subclasses leave it. The work is done by :mod:`.transport`
(session, headers, one exchange, error mapping), :mod:`.auth` (anonymous tokens, refresh after
an auth failure), :mod:`.retry` (the one retry policy: GETs retry 5xx/connection/timeout with
back-off; any call retries once after 429 and once after an auth failure; ``/run_sse`` never
once the stream started, section 3), :mod:`.uploads`, :mod:`.renders` (through
:mod:`.render_calls`) and :mod:`.agent`.

Identities: the client built with ``NemoClient(...)`` (the *root*) owns the HTTP session and
has one identity (install-wide: ``NEMO_TOKEN`` or one anonymous token). :meth:`NemoClient.bound`
gives lightweight clients with an identity of their own (one per person) over the same
session and retry policy; each sends only its own token and ``X-Client-Id``.

Names other modules import from here (``UploadSource``, ``PollPolicy``, ``StoredToken``,
``MemoryTokenStore``...) are re-exported.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from bot.nemo.agent import run_agent
from bot.nemo.auth import MemoryTokenStore, StoredToken, TokenManager, TokenStore
from bot.nemo.errors import NemoError, NemoIdentityUnavailable, NemoServerError
from bot.nemo.events import AgentEvent
from bot.nemo.models import Attribution, Credits, RenderOutcome, RenderStatus, SessionInfo, SessionState, UploadedFile
from bot.nemo.render_calls import RenderCalls
from bot.nemo.renders import DOWNLOAD_ATTEMPTS, PollPolicy, ProgressCallback, Renders, new_render_id
from bot.nemo.retry import RetryPolicy
from bot.nemo.transport import Transport, data_of
from bot.nemo.uploads import Uploads, UploadSource
from bot.outbound import FetchPolicy


class NemoClient(RenderCalls):
    """Async client of the NemoVideo API (contract sections 1-8).

    Args:
        api_url: API base, e.g. ``https://mega-api-prod.nemovideo.ai``.
        web_url: Web app base for claim links, e.g. ``https://nemovideo.com``.
        token_store: Where the anonymous identity lives (ignored with ``fixed_token``).
        fixed_token: ``NEMO_TOKEN``: use this bearer and never ask for anonymous tokens.
        client_id: ``NEMO_CLIENT_ID``: the anonymous client id to use.
        default_attribution: Headers used when a call passes none.
        http_timeout_s: Timeout of one non-streaming call (s).
        rate_limit_wait_s: Wait after HTTP 429 without ``Retry-After`` (s; contract: 30).
        get_retries: Extra attempts for idempotent GETs on 5xx / connection errors / timeouts.
        backoff_s: First back-off between GET retries (s), doubled each time.
        retry_policy: The whole retry policy; when given, ``rate_limit_wait_s``,
            ``get_retries`` and ``backoff_s`` are ignored.
        download_attempts: Attempts of one output download (:meth:`download`).
        fetch_policy: The outbound rules of output downloads (:mod:`bot.outbound`); by
            default only the API's host is trusted.
        max_connections: Connections open to NemoVideo at once (``NEMO_MAX_CONNECTIONS``;
            each agent run holds one for its SSE stream).

    Every call of an anonymous identity may raise
    :class:`~bot.nemo.errors.NemoIdentityUnavailable` when no token could be had for it
    (section 2); the call itself was then not sent.
    """

    def __init__(
        self,
        api_url: str,
        web_url: str = "https://nemovideo.com",
        *,
        token_store: TokenStore | None = None,
        fixed_token: str | None = None,
        client_id: str | None = None,
        default_attribution: Attribution | None = None,
        http_timeout_s: float = 60.0,
        rate_limit_wait_s: float = 30.0,
        get_retries: int = 3,
        backoff_s: float = 0.5,
        retry_policy: RetryPolicy | None = None,
        download_attempts: int = DOWNLOAD_ATTEMPTS,
        fetch_policy: FetchPolicy | None = None,
        max_connections: int = 1000,
    ) -> None:
        self.web_url = web_url.rstrip("/")
        self.default_attribution = default_attribution or Attribution("video-leaderboard", "1.0.0", "console")
        self.retry_policy = retry_policy or RetryPolicy(
            transient_attempts=get_retries + 1, backoff_s=backoff_s, rate_limit_wait_s=rate_limit_wait_s
        )
        self._transport = Transport(
            api_url, self.default_attribution, http_timeout_s, fetch_policy, max_connections=max_connections
        )
        self._download_attempts = download_attempts
        self._root: NemoClient | None = None
        self._use(token_store, fixed_token, client_id)

    def _use(self, token_store: TokenStore | None, fixed_token: str | None, client_id: str | None) -> None:
        """Give this client its identity: a token manager, and the endpoint helpers calling through it."""
        self._tokens = TokenManager(
            self._transport,
            token_store or MemoryTokenStore(),
            self.retry_policy,
            fixed_token=fixed_token,
            client_id=client_id,
        )
        self._call = self._tokens.call
        self._uploads = Uploads(self._call)
        self._renders = Renders(self._call, self._transport, self._tokens, download_attempts=self._download_attempts)

    def bound(
        self, token_store: TokenStore | None = None, *, fixed_token: str | None = None, client_id: str | None = None
    ) -> NemoClient:
        """A client with its own identity over this client's HTTP session (one per person).

        The new client shares the root's transport (one aiohttp session), retry policy,
        URLs, timeouts, download attempts and default attribution, and has its own token
        manager: its own ``X-Client-Id``, token and refresh after 1001/1010/1011/401
        (contract sections 2 and 7). Every endpoint method works on it as on the root; it
        never sends another identity's token. Creating one makes no call: the identity is
        loaded from ``token_store`` (or a token fetched) on its first call.

        Args:
            token_store: Where this identity lives. ``None``: in memory only, so each bound
                client without a store is a new anonymous user (each new one counts
                against the backend's limit of anonymous tokens per IP, section 2).
            fixed_token: A bearer of this person's own account; no anonymous token is
                ever asked for.
            client_id: The ``X-Client-Id`` to use (a kept identity with another one is
                replaced, as for the root).

        Returns:
            The bound client. Binding a bound client binds from its root. Its
            :meth:`close` leaves the shared session open; closing the root closes it for
            every bound client (their calls then raise ``NemoConnectionError``).
        """
        root = self._root or self
        child = type(root).__new__(type(root))  # not __init__: share, don't rebuild, the root's parts
        child.web_url = root.web_url
        child.default_attribution = root.default_attribution
        child.retry_policy = root.retry_policy
        child._transport = root._transport
        child._download_attempts = root._download_attempts
        child._root = root
        child._use(token_store, fixed_token, client_id)
        return child

    @property
    def is_bound(self) -> bool:
        """True for a client made by :meth:`bound` (it does not own the HTTP session)."""
        return self._root is not None

    @property
    def api_url(self) -> str:
        """The API base, without a trailing slash."""
        return self._transport.api_url

    @property
    def http_timeout_s(self) -> float:
        """Timeout of one non-streaming call (s)."""
        return self._transport.http_timeout_s

    async def close(self) -> None:
        """Close the HTTP session. Idempotent; later calls raise ``NemoConnectionError``.

        On a bound client this does nothing: the session is the root's (and its other
        bound clients'); only the root closes it.
        """
        if self._root is None:
            await self._transport.close()

    async def __aenter__(self) -> NemoClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def user_id(self) -> str | None:
        """This identity's anonymous ``user_id`` (``anon_...``) once known, for registration links."""
        return self._tokens.user_id

    @property
    def is_anonymous(self) -> bool:
        """True when this identity uses anonymous tokens (no fixed token / ``NEMO_TOKEN``)."""
        return self._tokens.is_anonymous

    @property
    def client_id(self) -> str | None:
        """This identity's ``X-Client-Id`` (contract section 2), or ``None`` before it is known.

        Known once given or after the first call (loaded from the store or created);
        always ``None`` with a fixed token. It can fetch tokens for the same user: never log it.
        """
        return self._tokens.client_id

    async def _token(self) -> str:
        """This identity's current bearer token (for tools and tests; never log it).

        Raises:
            NemoIdentityUnavailable: No anonymous token could be had.
        """
        return await self._tokens.token()

    async def create_session(self, language: str = "en", *, attribution: Attribution | None = None) -> SessionInfo:
        """Create a project session (endpoint 2). A POST: retried only after 429 or an auth failure.

        Args:
            language: The user's language (``en``, ``zh-CN``, ``ja``...).
            attribution: Attribution headers for this call.

        Returns:
            ``task_id`` and ``session_id`` (and ``user_id`` when the backend sends it).

        Raises:
            NemoError: Any API or transport failure.
        """
        body = await self._call(
            "POST",
            "/api/tasks/me/with-session/nemo_agent",
            attribution=attribution,
            json_body={"task_name": "project", "language": language},
        )
        return SessionInfo.model_validate(data_of(body))

    async def claim_link(self, task_id: str, session_id: str, *, attribution: Attribution | None = None) -> str:
        """The web-editor link of a project (endpoint 3, contract section 8).

        Returns:
            ``<web>/workspace/claim?ct=<claim_token>``. The bearer token is never in it.

        Raises:
            NemoServerError: The answer had no ``claim_token``. NemoError: other failures.
        """
        body = await self._call(
            "POST",
            "/api/auth/claim-token",
            attribution=attribution,
            json_body={"task_id": task_id, "session_id": session_id},
        )
        claim = data_of(body).get("claim_token")
        if not claim:
            raise NemoServerError("claim-token answer had no claim_token", body=body)
        return f"{self.web_url}/workspace/claim?ct={claim}"

    def registration_link(self) -> str:
        """``https://nemovideo.com/register?bind=<user_id>`` (contract section 7, code 2001)."""
        if self.user_id:
            return f"{self.web_url}/register?bind={self.user_id}"
        return f"{self.web_url}/register"

    async def credits(self, *, attribution: Attribution | None = None) -> Credits:
        """The credit balance (endpoint 6); both answer shapes of section 9 are read.

        Raises:
            NemoError: Any failure left after the GET retries.
        """
        body = await self._call("GET", "/api/credits/balance/simple", attribution=attribution)
        return Credits.model_validate(data_of(body))

    async def state(self, session_id: str, *, attribution: Attribution | None = None) -> SessionState:
        """The session's latest state (endpoint 7, section 4).

        Raises:
            NemoSessionNotFound: Code 1002. NemoError: other failures after the GET retries.
        """
        body = await self._call("GET", f"/api/state/nemo_agent/me/{session_id}/latest", attribution=attribution)
        return SessionState.model_validate(data_of(body))

    async def upload_files(
        self, session_id: str, files: Sequence[UploadSource], *, attribution: Attribution | None = None
    ) -> list[UploadedFile]:
        """Upload one or more files in one multipart call (endpoint 5, field ``files``).

        Bytes are streamed from the file or the async iterator in 256 KiB chunks; a whole
        file is never held in memory. The call is retried (after 429 or an auth failure)
        only when every source can be replayed: paths always, stream factories never; 5xx
        is not retried (the bytes may have been accepted).

        Args:
            session_id: The session to attach the files to.
            files: The sources; several go up together.
            attribution: Attribution headers for this call.

        Returns:
            One :class:`UploadedFile` per file (``duration`` in seconds).

        Raises:
            NemoUnsupportedFile: Code 4001. NemoFileTooLarge: Code 4002 (over 500 MB,
            section 8). ValueError: A source has neither path nor stream. NemoError: others.
        """
        return await self._uploads.files(session_id, files, attribution=attribution)

    async def upload_urls(
        self, session_id: str, urls: Sequence[str], *, attribution: Attribution | None = None
    ) -> list[UploadedFile]:
        """Upload files by public URL (endpoint 5, JSON mode). Only URLs holding no secret (section 8).

        Raises:
            NemoUnsupportedFile: Code 4001. NemoFileTooLarge: Code 4002. NemoError: others.
        """
        return await self._uploads.urls(session_id, urls, attribution=attribution)

    def run(
        self,
        session_id: str,
        text: str,
        *,
        attribution: Attribution | None = None,
        idle_timeout_s: float = 600.0,
        hard_timeout_s: float = 900.0,
    ) -> AsyncIterator[AgentEvent]:
        """Send one message to the agent and yield its events (endpoint 4, section 3).

        The message is sent exactly once. Before the stream starts, a 401/1001 is retried
        once with a fresh token and a 429 once after the wait (the message was not
        accepted); 5xx and connection errors are not retried, and after the stream started
        nothing is.

        Args:
            session_id: The session.
            text: The user's message.
            attribution: Attribution headers for this call.
            idle_timeout_s: Time with only heartbeats (or nothing) before giving up (s; 600).
            hard_timeout_s: Hard limit of the whole run (s; 900).

        Yields:
            Typed events; the last one is :class:`~bot.nemo.events.RunEnd` after a normal close.

        Raises:
            NemoSessionNotFound: HTTP 404 / code 1002. NemoOutOfCredits: code 2001.
            NemoStreamDropped: The stream broke after the message was accepted.
            NemoTimeoutError: The idle or hard limit passed.
        """
        return run_agent(
            self._transport,
            self._tokens,
            session_id,
            text,
            attribution=attribution,
            idle_timeout_s=idle_timeout_s,
            hard_timeout_s=hard_timeout_s,
        )


__all__ = ["MemoryTokenStore", "NemoClient", "NemoError", "NemoIdentityUnavailable", "PollPolicy"]
__all__ += ["ProgressCallback", "RenderOutcome", "RenderStatus", "RetryPolicy", "StoredToken", "TokenStore"]
__all__ += ["UploadSource", "new_render_id"]
