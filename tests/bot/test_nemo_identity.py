"""Identity per person (issue 9): clients bound to their own identity over one HTTP session.

Against the emulator (with a middleware recording the identity headers of every call) and,
for the anonymous-token failures the emulator does not produce, a small local aiohttp server.
Tests never touch the network.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.nemo import errors as E
from bot.nemo.client import MemoryTokenStore, NemoClient, NemoIdentityUnavailable
from bot.nemo.events import RunEnd
from bot.nemo.models import Attribution
from bot.nemo.retry import RetryPolicy
from emulator.app import Emulator
from tests.conftest import fast_emulator_config

TOKEN = "/api/auth/anonymous-token"
CREDITS = "/api/credits/balance/simple"
ROOT_ATTRIBUTION = Attribution("game-music", "1.0.0", "telegram")


@dataclass(frozen=True)
class Seen:
    """One request as the server saw it: path, ``X-Skill-Source``, ``X-Client-Id``, bearer token."""

    path: str
    source: str | None
    client_id: str | None
    bearer: str | None


def _seen(request: web.Request) -> Seen:
    auth = request.headers.get("Authorization", "")
    return Seen(
        request.path,
        request.headers.get("X-Skill-Source"),
        request.headers.get("X-Client-Id"),
        auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None,
    )


class Sleeps:
    """An injected sleep that records its waits (s) and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
async def recorded(tmp_path):
    """The emulator, plus the identity headers of every call it answered, in order."""
    seen: list[Seen] = []

    @web.middleware
    async def record(request: web.Request, handler):
        seen.append(_seen(request))
        return await handler(request)

    emu = Emulator(fast_emulator_config(), data_dir=tmp_path / "emulator")
    emu.app.middlewares.append(record)  # before start: the app is frozen when it starts
    async with emu:
        yield emu, seen


class TokenApi:
    """A local server whose anonymous-token endpoint answers a script; other calls succeed.

    Token script steps are ``(status, body[, headers])``; the last one repeats. Successful
    tokens are numbered (``nmv_usr_1``...).
    """

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.token_script: list[tuple] = []
        self.script: dict[str, list[tuple]] = {}
        self.issued = 0
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.server = TestServer(app, host="127.0.0.1")

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    def count(self, path: str) -> int:
        return sum(1 for s in self.seen if s.path == path)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(_seen(request))
        if request.path == TOKEN:
            step = self.token_script.pop(0) if len(self.token_script) > 1 else self.token_script[0]
        else:
            steps = self.script.get(request.path) or [(200, {"code": 0, "data": {"available": 5, "total": 5}})]
            step = steps.pop(0) if len(steps) > 1 else steps[0]
        status, body, *headers = step
        if body == "issue":
            self.issued += 1
            body = {"code": 0, "data": {"token": f"nmv_usr_{self.issued}", "user_id": f"anon_{self.issued}"}}
        return web.json_response(body, status=status, headers=headers[0] if headers else None)

    async def __aenter__(self) -> TokenApi:
        await self.server.start_server()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.server.close()


@pytest.fixture
async def token_api():
    async with TokenApi() as server:
        yield server


# ---------------------------------------------------------------- one token per identity


async def test_concurrent_bound_clients_each_send_only_their_own_identity(recorded):
    emu, seen = recorded
    stores = {"alice": MemoryTokenStore(), "bob": MemoryTokenStore()}
    async with NemoClient(emu.url, default_attribution=ROOT_ATTRIBUTION) as root:
        people = {name: root.bound(store) for name, store in stores.items()}

        async def work(name: str) -> str:
            client, attr = people[name], Attribution(name, "1.0.0", "console")
            sid = (await client.create_session(attribution=attr)).session_id
            calls = [client.state(sid, attribution=attr) for _ in range(3)]
            await asyncio.gather(*calls, *(client.credits(attribution=attr) for _ in range(3)))
            events = [e async for e in client.run(sid, "hello", attribution=attr)]
            assert isinstance(events[-1], RunEnd)
            await client.claim_link("task", sid, attribution=attr)  # unknown task id: the emulator reads the session
            return sid

        sids = dict(zip(people, await asyncio.gather(*(work(name) for name in people)), strict=True))
        await emu.state.idle()

    alice, bob = stores["alice"].value, stores["bob"].value
    assert alice is not None and bob is not None
    assert alice.client_id != bob.client_id and alice.token != bob.token and alice.user_id != bob.user_id
    # the anonymous-token call: once per identity, its own X-Client-Id, no bearer, the root's attribution
    token_calls = [s for s in seen if s.path == TOKEN]
    assert sorted(s.client_id for s in token_calls) == sorted([alice.client_id, bob.client_id])
    assert all(s.bearer is None and s.source == ROOT_ATTRIBUTION.source for s in token_calls)
    # every other call carries its own person's token, and never a client id
    for name, ident in (("alice", alice), ("bob", bob)):
        mine = [s for s in seen if s.source == name]
        assert len(mine) == 9  # session, 3 states, 3 balances, run_sse, claim token
        assert {s.bearer for s in mine} == {ident.token} and {s.client_id for s in mine} == {None}
        # and the emulator agrees on whose they were
        user = emu.state.users[ident.user_id]
        assert emu.state.clients[ident.client_id] == user.user_id == emu.state.sessions[sids[name]].user_id
        assert emu.state.tokens[ident.token].calls == 9
    assert len(emu.state.tokens) == 2 and len(emu.state.users) == 2
    order = [s.source for s in seen]
    assert order.index("alice") < len(order) - 1 - order[::-1].index("bob")  # the two really interleaved
    assert order.index("bob") < len(order) - 1 - order[::-1].index("alice")
    assert root.user_id is None and root.client_id is None  # the root itself never called


async def test_refresh_after_1001_of_one_bound_client_leaves_the_others_token(emulator):
    emulator.config.auth_failure = "1001"
    alice_store, bob_store = MemoryTokenStore(), MemoryTokenStore()
    async with NemoClient(emulator.url) as root:
        alice, bob = root.bound(alice_store), root.bound(bob_store)
        await asyncio.gather(alice.credits(), bob.credits())
        alice_before, bob_before = alice_store.value, bob_store.value
        assert alice_before is not None and bob_before is not None
        emulator.state.tokens[alice_before.token].expires_at = 0.0  # only Alice's token stops working

        balances = await asyncio.gather(alice.credits(), bob.credits(), alice.credits(), bob.credits())

    assert [b.available for b in balances] == [100] * 4
    alice_after = alice_store.value
    assert alice_after is not None and alice_after.token != alice_before.token  # refreshed once...
    assert (alice_after.client_id, alice_after.user_id) == (alice_before.client_id, alice_before.user_id)
    assert bob_store.value is bob_before  # ...and Bob's identity was not touched
    assert emulator.state.tokens[bob_before.token].calls == 3
    assert len(emulator.state.tokens) == 3 and len(emulator.state.users) == 2


# ---------------------------------------------------------------- no token to be had


async def test_429_from_the_token_endpoint_is_identity_unavailable_with_retry_after(token_api, caplog):
    token_api.token_script = [(429, {"code": 429, "message": "too many anonymous tokens"}, {"Retry-After": "3600"})]
    sleeps = Sleeps()
    store = MemoryTokenStore()
    caplog.set_level(logging.WARNING, logger="bot.nemo")
    async with NemoClient(token_api.url, retry_policy=RetryPolicy(sleep=sleeps)) as root:
        person = root.bound(store)
        with pytest.raises(NemoIdentityUnavailable) as info:
            await person.credits()

    err = info.value
    assert err.status == 429 and err.retry_after == 3600
    assert err.message == "the backend refused a new anonymous token (HTTP 429, retry after 3600 s)"
    assert isinstance(err.__cause__, E.NemoRateLimited) and not isinstance(err, E.NemoRateLimited)
    # longer than the policy waits for: asked once, not waited for, the call itself never sent
    assert token_api.count(TOKEN) == 1 and token_api.count(CREDITS) == 0 and sleeps.waits == []
    assert store.value is not None and store.value.token is None  # the client id is kept for next time
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == "bot.nemo.auth"]
    assert warnings == [
        "the backend refused a new anonymous token (HTTP 429, retry after 3600 s); "
        "set NEMO_TOKEN to serve users from your account, or raise the limit"
    ]
    assert store.value.client_id not in caplog.text and "nmv_" not in caplog.text


async def test_short_429_is_waited_for_once_then_identity_unavailable(token_api):
    token_api.token_script = [(429, {"code": 429}, {"Retry-After": "2"})]
    sleeps = Sleeps()
    async with NemoClient(token_api.url, retry_policy=RetryPolicy(sleep=sleeps)) as root:
        with pytest.raises(NemoIdentityUnavailable) as info:
            await root.bound(MemoryTokenStore()).create_session()
    assert info.value.retry_after == 2 and sleeps.waits == [2.0]
    assert token_api.count(TOKEN) == 2 and token_api.count("/api/tasks/me/with-session/nemo_agent") == 0


async def test_5xx_from_the_token_endpoint_after_retries_then_the_same_client_id(token_api):
    token_api.token_script = [(503, {"message": "busy"})]
    sleeps = Sleeps()
    store = MemoryTokenStore()
    policy = RetryPolicy(sleep=sleeps, transient_attempts=3, backoff_s=0.1)
    async with NemoClient(token_api.url, retry_policy=policy) as root:
        person = root.bound(store)
        with pytest.raises(NemoIdentityUnavailable, match=r"failed to issue a new anonymous token \(HTTP 503\)"):
            await person.credits()  # a GET: its own retries would multiply the token call's if nested
        assert token_api.count(TOKEN) == 3 and sleeps.waits == [0.1, 0.2] and token_api.count(CREDITS) == 0

        token_api.token_script = [(200, "issue")]
        assert (await person.credits()).available == 5
    client_ids = {s.client_id for s in token_api.seen if s.path == TOKEN}
    assert store.value is not None and client_ids == {store.value.client_id} == {person.client_id}


async def test_token_answer_without_a_token_is_identity_unavailable(token_api):
    token_api.token_script = [(200, {"code": 0, "data": {"user_id": "anon_x"}})]
    async with NemoClient(token_api.url) as root:
        with pytest.raises(NemoIdentityUnavailable, match="without a usable token") as info:
            await root.bound().credits()
    assert info.value.__cause__ is None


async def test_unreachable_backend_is_identity_unavailable_and_a_connection_error():
    sleeps = Sleeps()
    async with NemoClient("http://127.0.0.1:9", retry_policy=RetryPolicy(sleep=sleeps, backoff_s=1)) as root:
        with pytest.raises(NemoIdentityUnavailable, match="could not be reached") as info:
            await root.bound(MemoryTokenStore()).credits()
    assert isinstance(info.value, E.NemoConnectionError)  # still reads as "NemoVideo can't be reached"
    assert sleeps.waits == [1.0, 2.0, 4.0]  # the token call's retries only, not the GET's on top


async def test_refresh_refused_after_1001_is_identity_unavailable(token_api):
    token_api.token_script = [(200, "issue"), (429, {"code": 429}, {"Retry-After": "600"})]
    token_api.script[CREDITS] = [(401, {"code": 1001, "message": "token expired"})]
    async with NemoClient(token_api.url, retry_policy=RetryPolicy(sleep=Sleeps())) as root:
        with pytest.raises(NemoIdentityUnavailable) as info:
            await root.bound(MemoryTokenStore()).credits()
    assert info.value.status == 429 and info.value.retry_after == 600
    assert token_api.count(TOKEN) == 2 and token_api.count(CREDITS) == 1


# ---------------------------------------------------------------- lifetime and persistence


async def test_closing_a_bound_client_leaves_the_root_and_its_siblings_usable(emulator):
    root = NemoClient(emulator.url, backoff_s=0.01)  # a closed session is a connection error: retried
    alice = root.bound(MemoryTokenStore())
    async with alice:
        await alice.credits()
    await alice.close()
    assert (await root.credits()).available == 100
    assert (await alice.credits()).available == 100  # the session was never closed
    carol = alice.bound(MemoryTokenStore())  # binds from the root
    assert carol.is_bound and not root.is_bound
    await carol.credits()
    assert carol.user_id not in (alice.user_id, root.user_id)

    await root.close()
    for client in (root, alice, carol):
        with pytest.raises(E.NemoConnectionError, match="closed"):
            await client.credits()


async def test_bound_clients_keep_their_identity_in_their_own_store(emulator):
    alice_store, bob_store, install_store = MemoryTokenStore(), MemoryTokenStore(), MemoryTokenStore()
    async with NemoClient(emulator.url, token_store=install_store) as root:
        await root.bound(alice_store).credits()
        await root.bound(bob_store).credits()
    assert install_store.value is None  # the root's own identity was never used
    alice, bob = alice_store.value, bob_store.value
    assert alice is not None and bob is not None and alice.client_id != bob.client_id

    async with NemoClient(emulator.url) as restarted:  # a restart: same stores, no new token
        again = restarted.bound(alice_store)
        await again.credits()
        await restarted.bound(bob_store).credits()
    assert alice_store.value == alice and bob_store.value == bob
    assert (again.client_id, again.user_id) == (alice.client_id, alice.user_id)
    assert len(emulator.state.tokens) == 2


async def test_links_and_flags_are_per_identity(emulator):
    cid = "5f0c7f8e-1d2b-4c3a-9e8f-7a6b5c4d3e2f"
    async with NemoClient(emulator.url, "https://nemovideo.example/", fixed_token="nmv_usr_install") as root:
        anon = root.bound(MemoryTokenStore(), client_id=cid)
        own = root.bound(fixed_token="nmv_usr_own", client_id=cid)
        assert anon.client_id == cid and anon.user_id is None  # known before any call
        await anon.credits()
        assert anon.is_anonymous and anon.user_id == emulator.state.clients[cid]
        assert anon.registration_link() == f"https://nemovideo.example/register?bind={anon.user_id}"
        assert not root.is_anonymous and not own.is_anonymous
        assert own.client_id is None and own.user_id is None  # a fixed token sends no client id
        assert root.registration_link() == own.registration_link() == "https://nemovideo.example/register"
        assert anon.web_url == root.web_url and anon.default_attribution == root.default_attribution


async def test_instances_starting_together_share_one_install_identity(tmp_path):
    """Two instances of the bot on one database ask for their first token at the same moment:
    both end up with the one identity the store kept (else sessions made by one are another
    NemoVideo user's to the other, and a take-over fails)."""
    from bot.app import StoreTokenStore
    from store import open_store

    async with Emulator(fast_emulator_config(), data_dir=tmp_path / "emu") as emu:
        store = open_store(f"sqlite:///{tmp_path / 'shared.db'}")
        await store.open()
        clients = [NemoClient(emu.url, token_store=StoreTokenStore(store)) for _ in range(2)]
        try:
            await asyncio.gather(*(client.credits() for client in clients))
            assert clients[0].client_id == clients[1].client_id and clients[0].user_id == clients[1].user_id
            assert (await store.load_identity()).client_id == clients[0].client_id
        finally:
            for client in clients:
                await client.close()
            await store.close()
