"""People and their NemoVideo identities.

A *person* is one human across platforms (``telegram:123`` and, after ``/connect``,
``discord:456``). Each person's calls go out under one NemoVideo identity, chosen here:

* a personal token stored by ``/login`` (encrypted at rest; needs ``NEMOBOT_SECRET_KEY``);
* otherwise, in ``per_user`` mode (the default without ``NEMO_TOKEN``), the person's own
  anonymous identity: own ``X-Client-Id``, token, credits and expiry (contract section 2),
  created on first need and kept in the store under the person's id;
* otherwise (``shared`` mode) the install's identity: ``NEMO_TOKEN`` or one anonymous token.

The client bound to an identity never carries another person's token
(:meth:`bot.nemo.client.NemoClient.bound`).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.nemo.auth import StoredToken
from bot.nemo.client import NemoClient
from bot.redact import register_secret
from bot.settings import Settings
from store.base import ConnectCodeTaken, Identity, Store, utcnow

log = logging.getLogger(__name__)

CONNECT_CODE_TTL = timedelta(minutes=10)
"""How long a ``/connect`` code is valid."""
CONNECT_CODE_DRAWS = 5
"""Codes drawn at most when they collide with other people's live codes."""

CLIENT_CACHE = 1024
"""Bound clients kept in memory (least recently used go first; they are cheap to rebuild)."""


class PersonTokenStore:
    """The :class:`bot.nemo.auth.TokenStore` of one person's anonymous identity (store key: the person id)."""

    def __init__(self, store: Store, person: str) -> None:
        self.store = store
        self.person = person

    async def load_token(self) -> StoredToken | None:
        """The person's anonymous identity, or ``None`` before the first call."""
        ident = await self.store.load_identity(self.person)
        if ident is None or ident.kind != "anonymous":
            return None
        return StoredToken(ident.client_id, ident.token, ident.user_id, ident.expires_at)

    async def save_token(self, token: StoredToken) -> None:
        """Keep a new or refreshed anonymous token."""
        await self.store.save_identity(
            Identity(token.client_id, token.token, token.user_id, token.expires_at, kind="anonymous"), self.person
        )

    async def create_token(self, token: StoredToken) -> StoredToken:
        """Keep the person's first anonymous identity unless another instance kept one first."""
        kept = await self.store.create_identity(
            Identity(token.client_id, token.token, token.user_id, token.expires_at, kind="anonymous"), self.person
        )
        if kept.kind != "anonymous":  # they connected a NemoVideo account meanwhile: it is not ours to replace
            return token
        return StoredToken(kept.client_id, kept.token, kept.user_id, kept.expires_at)


class Identities:
    """Resolves people and the client each one's calls go through.

    Args:
        client: The root client (the install's identity, and the shared HTTP session).
        store: People, accounts, identities, connect codes.
        settings: ``NEMO_IDENTITY`` and friends.
    """

    def __init__(self, client: NemoClient, store: Store, settings: Settings) -> None:
        self.client = client
        self.store = store
        self.settings = settings
        self._clients: OrderedDict[str, NemoClient] = OrderedDict()

    async def person_of(self, account: str) -> str:
        """The person behind a platform account (``telegram:123``), created on first contact."""
        return await self.store.ensure_person(account)

    async def known_person(self, account: str) -> str | None:
        """The person behind ``account`` if nemobot has met them, else ``None`` (reads only)."""
        return await self.store.person_for(account)

    async def client_for(self, person: str | None) -> NemoClient:
        """The client whose calls go out under ``person``'s identity (see the module docstring)."""
        if person is None:
            return self.client
        ident = await self.store.load_identity(person)
        if ident is not None and ident.kind == "personal" and ident.token:
            fingerprint = hashlib.sha256(ident.token.encode()).hexdigest()[:16]
            token, client_id = ident.token, ident.client_id
            return self._cached(
                f"{person}:personal:{fingerprint}", lambda: self.client.bound(fixed_token=token, client_id=client_id)
            )
        if self.settings.identity_mode == "shared":
            return self.client
        return self._cached(f"{person}:anonymous", lambda: self.client.bound(PersonTokenStore(self.store, person)))

    def _cached(self, key: str, build: Callable[[], NemoClient]) -> NemoClient:
        bound = self._clients.get(key)
        if bound is None:
            bound = build()
            self._clients[key] = bound
            while len(self._clients) > CLIENT_CACHE:
                self._clients.popitem(last=False)
        else:
            self._clients.move_to_end(key)
        return bound

    def _forget(self, person: str) -> None:
        for key in [k for k in self._clients if k.startswith(f"{person}:")]:
            del self._clients[key]

    def is_personal(self, client: NemoClient) -> bool:
        """True when ``client`` is a person's own (anonymous or logged-in) identity, not the install's."""
        return client is not self.client

    # ------------------------------------------------------------------ /login, /logout

    async def login(self, person: str, token: str) -> None:
        """Use ``token`` (the person's own NemoVideo token) for their calls from now on.

        Raises:
            store.base.EncryptionRequired: No ``NEMOBOT_SECRET_KEY``: personal tokens are not
                kept in the clear.
        """
        register_secret(token)
        await self.store.save_identity(Identity(str(uuid.uuid4()), token, None, None, kind="personal"), person)
        self._forget(person)
        log.info("person %s logged in with a personal NemoVideo token", person)

    async def logout(self, person: str) -> bool:
        """Forget the person's personal token. Returns False when there was none."""
        ident = await self.store.load_identity(person)
        if ident is None or ident.kind != "personal":
            return False
        await self.store.delete_identity(person)
        self._forget(person)
        log.info("person %s logged out", person)
        return True

    # ------------------------------------------------------------------ /connect

    async def connect_code(self, person: str, now: datetime | None = None) -> str:
        """A one-time code (valid :data:`CONNECT_CODE_TTL`) that joins another account to ``person``.

        A code that happens to be another person's live code is drawn again (12 bits a group,
        three groups: a collision is rare, never fatal).

        Raises:
            ConnectCodeTaken: Five draws in a row were taken (practically never).
        """
        for _ in range(CONNECT_CODE_DRAWS - 1):
            code = "-".join(secrets.token_hex(2).upper() for _ in range(3))
            try:
                await self.store.save_connect_code(code, person, (now or utcnow()) + CONNECT_CODE_TTL)
            except ConnectCodeTaken:
                log.info("a connect code collided with another person's; drawing another")
                continue
            return code
        code = "-".join(secrets.token_hex(2).upper() for _ in range(3))
        await self.store.save_connect_code(code, person, (now or utcnow()) + CONNECT_CODE_TTL)
        return code

    async def connect(self, account: str, code: str, now: datetime | None = None) -> str | None:
        """Join ``account`` to the person who made ``code``; returns that person, or ``None``
        for an unknown or expired code."""
        person = await self.store.take_connect_code(code.strip().upper(), now or utcnow())
        if person is None:
            return None
        old = await self.store.person_for(account)
        await self.store.link_account(account, person)
        if old is not None:
            self._forget(old)
        log.info("account %s joined person %s", account, person)
        return person
