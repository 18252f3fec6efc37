"""The fake Discord gateway: the websocket discord.py's ``Client`` connects to.

discord.py connects straight to ``DiscordWebSocket.DEFAULT_GATEWAY`` (a plain ``Client``
never asks ``GET /gateway/bot``), with the query replaced by
``?v=10&encoding=json&compress=zlib-stream``. discord.py decompresses only *binary* frames,
so the fake answers in plain JSON text frames. The fake sends HELLO, answers HEARTBEAT with
HEARTBEAT_ACK, answers IDENTIFY with READY and a GUILD_CREATE per guild, and RESUME (after
:meth:`DiscordGateway.disconnect_clients`) with the events missed since the given ``seq``
and RESUMED; READY's ``resume_gateway_url`` is the same :attr:`ws_url`. Events go to every
session as its intents allow: without the message-content intent, guild messages that
neither mention the bot nor come from it arrive without content, attachments, embeds and
components, as on Discord. Close codes are Discord's (4001 unknown opcode, 4002 decode error,
4003 not authenticated, 4004 authentication failed, 4005 already authenticated, 4010 invalid
shard, 4013 invalid intents).

Sharding as on Discord (Discord docs, Gateway, "Sharding"): an IDENTIFY with ``shard:
[shard_id, num_shards]`` makes a sharded session; its READY lists, and its GUILD_CREATEs
carry, only the guilds with ``(guild_id >> 22) % num_shards == shard_id``, and of later
events it gets those of its guilds and, on shard 0 only, those without a guild (DMs). A
session without ``shard`` gets everything. ``GET /gateway/bot`` answers the URL, the
recommended ``shards`` and the ``session_start_limit`` (with ``max_concurrency``) when the
fake was made with ``recommended_shards``; otherwise it is a 404, so an unsharded client that
asks unexpectedly is noticed (discord.py's plain ``Client`` never does).
"""

from __future__ import annotations

import copy
import json
import secrets
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakes.discord.constants import (
    API_VERSION,
    HEARTBEAT_INTERVAL_MS,
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MESSAGES,
    INTENT_GUILDS,
    INTENT_MESSAGE_CONTENT,
    OP_DISPATCH,
    OP_HEARTBEAT,
    OP_HEARTBEAT_ACK,
    OP_HELLO,
    OP_IDENTIFY,
    OP_INVALID_SESSION,
    OP_RESUME,
    THREAD_TYPES,
)
from tests.fakes.discord.model import ApiError, Call, Conn, Session
from tests.fakes.discord.state import DiscordState

SESSION_STARTS_PER_DAY = 1000
"""IDENTIFYs a bot may send a day (Discord docs, Gateway, "Session Start Limit Object")."""

APPLICATION_FLAGS = (1 << 23) | (1 << 19) | (1 << 15) | (1 << 13)
"""APPLICATION_COMMAND_BADGE and the three privileged intents (message content, members,
presences) enabled, as the application's ``flags``."""


class DiscordGateway(DiscordState):
    """The gateway websocket, sessions and event dispatch."""

    async def disconnect_clients(self, code: int = 4000) -> None:
        """Close every gateway socket (sessions stay resumable unless ``code`` is 1000/1001).

        discord.py reconnects to ``resume_gateway_url`` and RESUMEs; events dispatched in
        between are replayed.
        """
        for conn in list(self._conns):
            if code in (1000, 1001) and conn.session is not None:
                self._sessions.pop(conn.session.id, None)
            await conn.close(code, b"Disconnected by the test")

    async def _dispatch(self, t: str, d: dict[str, Any], *, require_client: bool = False) -> None:
        """Send one event to every session of its shard (logged for RESUME even while
        disconnected)."""
        if require_client and not self._sessions:
            raise RuntimeError(f"no gateway client has identified; cannot dispatch {t}")
        guild_id = _event_guild(t, d)
        sessions = [s for s in self._sessions.values() if _routes_to(s, guild_id)]
        if require_client and not sessions:
            raise RuntimeError(f"no gateway client runs the shard of guild {guild_id}; cannot dispatch {t}")
        d = copy.deepcopy(d)  # later changes to the stored objects must not alter what was sent
        self.dispatched.append((t, d))
        for session in sessions:
            event_data = self._for_session(session, t, d)
            if event_data is not None:
                await self._send_event(session, t, event_data)
        self._touch()

    async def _r_gateway_bot(self, call: Call, params: dict[str, str]) -> tuple[int, Any]:
        """``GET /gateway/bot`` (Discord docs, Gateway, "Get Gateway Bot"): the URL, the
        recommended shard count and the session start limit; 404 unless the fake was made with
        ``recommended_shards``."""
        if self.recommended_shards is None:
            raise ApiError(404, "404: Not Found", 0)
        limit = {
            "total": SESSION_STARTS_PER_DAY,
            "remaining": max(0, SESSION_STARTS_PER_DAY - len(self.identifies)),
            "reset_after": 86_400_000,
            "max_concurrency": self.max_concurrency,
        }
        return 200, {"url": self.ws_url, "shards": self.recommended_shards, "session_start_limit": limit}

    # ------------------------------------------------------------------ the websocket

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await ws.prepare(request)
        query = dict(request.query)
        self.gateway_connections.append(query)
        conn = Conn(ws, query)
        self._conns.add(conn)
        self._touch()
        try:
            if query.get("encoding", "json") != "json":
                await conn.close(4002, b"Error while decoding payload.")
                return ws
            hello = {"heartbeat_interval": HEARTBEAT_INTERVAL_MS, "_trace": ["fake-gateway"]}
            await conn.send({"op": OP_HELLO, "d": hello, "s": None, "t": None})
            async for msg in ws:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    try:
                        payload = json.loads(msg.data)
                    except ValueError:
                        await conn.close(4002, b"Error while decoding payload.")
                        break
                    await self._gateway_op(conn, payload)
                elif msg.type is aiohttp.WSMsgType.BINARY:
                    await conn.close(4002, b"Error while decoding payload.")
                    break
        finally:
            conn.ready = False
            self._conns.discard(conn)
            session = conn.session
            if session is not None:
                if session.conn is conn:
                    session.conn = None
                # aiohttp reports 1000 whenever the server closes during a read, hence server_close
                code = conn.server_close if conn.server_close is not None else ws.close_code
                if code in (1000, 1001):
                    self._sessions.pop(session.id, None)  # a clean close ends the session
            self._touch()
        return ws

    async def _gateway_op(self, conn: Conn, payload: dict[str, Any]) -> None:
        op, data = payload.get("op"), payload.get("d")
        if op == OP_HEARTBEAT:
            self.heartbeats += 1
            await conn.send({"op": OP_HEARTBEAT_ACK, "d": None, "s": None, "t": None})
        elif op == OP_IDENTIFY:
            await self._on_identify(conn, data or {})
        elif op == OP_RESUME:
            await self._on_resume(conn, data or {})
        elif conn.session is None:
            await conn.close(4003, b"Not authenticated.")
        else:  # presence updates, voice, member requests: nemobot sends none
            await conn.close(4001, b"Unknown opcode.")
        self._touch()

    async def _on_identify(self, conn: Conn, data: dict[str, Any]) -> None:
        if conn.session is not None:
            await conn.close(4005, b"Already authenticated.")
            return
        token = data.get("token")
        if not isinstance(token, str) or not token.strip():
            await conn.close(4004, b"Authentication failed.")
            return
        intents = data.get("intents")
        if not isinstance(intents, int):
            await conn.close(4013, b"Invalid intent(s).")
            return
        shard = data.get("shard")
        if shard is not None:
            if not _valid_shard(shard):
                await conn.close(4010, b"Invalid shard.")
                return
            shard = (shard[0], shard[1])
        self.identify = {**data, "token": "<redacted>"}
        self.identifies.append(self.identify)
        session = Session(secrets.token_hex(16), intents, shard)
        self._sessions[session.id] = session
        conn.session = session
        guilds = [gid for gid in self.guilds if _routes_to(session, gid)]
        ready = {
            "v": API_VERSION,
            "user": {**self.bot_user, "verified": True, "mfa_enabled": False, "email": None, "bot": True},
            "guilds": [{"id": str(gid), "unavailable": True} for gid in guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.ws_url,
            "application": {"id": str(self.application_id), "flags": APPLICATION_FLAGS},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["rotterdam"],
            "auth": {},
            "user_settings": {},
            "_trace": ["fake-gateway"],
        }
        if shard is not None:
            ready["shard"] = list(shard)
        async with session.lock:
            session.conn = conn
            for t, d in [("READY", ready)] + [("GUILD_CREATE", self._guild_create(g)) for g in guilds]:
                session.seq += 1
                event = {"op": OP_DISPATCH, "t": t, "s": session.seq, "d": d}
                session.log.append(event)
                await conn.send(event)
                self.dispatched.append((t, d))
            conn.ready = True

    async def _on_resume(self, conn: Conn, data: dict[str, Any]) -> None:
        session = self._sessions.get(str(data.get("session_id")))
        if session is None or not data.get("token") or not isinstance(data.get("seq"), int):
            await conn.send({"op": OP_INVALID_SESSION, "d": False, "s": None, "t": None})
            return
        async with session.lock:
            old = session.conn
            if old is not None and old is not conn:
                old.session = None
                await old.close(4000)
            session.conn = conn
            conn.session = session
            after = data["seq"]
            for event in session.log:
                if event["s"] > after:
                    await conn.send(event)
            session.seq += 1
            resumed = {"op": OP_DISPATCH, "t": "RESUMED", "s": session.seq, "d": {"_trace": ["fake-gateway"]}}
            session.log.append(resumed)
            await conn.send(resumed)
            conn.ready = True
            self.resumes += 1

    # ------------------------------------------------------------------ events

    async def _send_event(self, session: Session, t: str, d: dict[str, Any]) -> None:
        async with session.lock:
            session.seq += 1
            event = {"op": OP_DISPATCH, "t": t, "s": session.seq, "d": d}
            session.log.append(event)
            if session.conn is not None and session.conn.ready:
                await session.conn.send(event)

    def _for_session(self, session: Session, t: str, d: dict[str, Any]) -> dict[str, Any] | None:
        """What a session receives of an event, given its intents (``None``: nothing)."""
        intents = session.intents
        if t.startswith("MESSAGE_"):
            in_guild = "guild_id" in d
            if not intents & (INTENT_GUILD_MESSAGES if in_guild else INTENT_DIRECT_MESSAGES):
                return None
            if t in ("MESSAGE_CREATE", "MESSAGE_UPDATE") and in_guild and not intents & INTENT_MESSAGE_CONTENT:
                author_id = int(d.get("author", {}).get("id", 0))
                mentioned = any(int(m["id"]) == self.bot_id for m in d.get("mentions", []))
                if author_id != self.bot_id and not mentioned:
                    d = {**d, "content": "", "embeds": [], "attachments": [], "components": []}
                    d.pop("poll", None)
            return d
        if t.startswith(("GUILD_", "THREAD_", "CHANNEL_")):
            return d if intents & INTENT_GUILDS else None
        return d

    def _guild_create(self, guild_id: int) -> dict[str, Any]:
        """GUILD_CREATE's data: the guild with its current active threads."""
        guild = copy.deepcopy(self.guilds[guild_id])
        guild["threads"] = [
            copy.deepcopy(c)
            for c in self.channels.values()
            if c.get("type") in THREAD_TYPES and c.get("guild_id") == str(guild_id)
        ]
        return guild


def _event_guild(t: str, d: dict[str, Any]) -> int | None:
    """The guild an event belongs to (``None``: none, as in DMs)."""
    raw = d.get("id") if t in ("GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE") else d.get("guild_id")
    return int(raw) if raw else None


def _routes_to(session: Session, guild_id: int | None) -> bool:
    """Whether Discord sends a guild's events (``None``: DMs) to a session (Discord docs,
    Gateway, "Sharding Formula": ``(guild_id >> 22) % num_shards``; DMs only to shard 0)."""
    if session.shard is None:
        return True
    shard_id, num_shards = session.shard
    if guild_id is None:
        return shard_id == 0
    return (guild_id >> 22) % num_shards == shard_id


def _valid_shard(shard: Any) -> bool:
    """IDENTIFY's ``shard`` is ``[shard_id, num_shards]`` with ``0 <= shard_id < num_shards``."""
    return (
        isinstance(shard, list)
        and len(shard) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in shard)
        and 0 <= shard[0] < shard[1]
    )
