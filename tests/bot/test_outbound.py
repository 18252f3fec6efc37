"""The outbound fetch rules (bot/outbound.py) through real aiohttp sessions against local servers."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import aiohttp
import pytest
from aiohttp import web

from bot.nemo.errors import NemoFetchRefused, NemoTimeoutError
from bot.nemo.models import Attribution
from bot.nemo.transport import Transport
from bot.outbound import (
    FetchPolicy,
    FetchRefused,
    PublicOnlyResolver,
    check_link,
    guarded_session,
    is_public_address,
    open_checked,
    refused_by_resolver,
)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # CGNAT
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fd00::1", False),
        ("fe80::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
        ("::ffff:8.8.8.8", True),
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 of 169.254.169.254
        ("2002:7f00:1::1", False),  # 6to4 of 127.0.0.1
    ],
)
def test_public_addresses(address, public):
    assert is_public_address(ipaddress.ip_address(address)) is public


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://example.com/a.mp4", "scheme"),
        ("ftp://example.com/a.mp4", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("https:///a.mp4", "host"),
        ("https://169.254.169.254/latest/meta-data", "private"),
        ("https://10.0.0.7/a.mp4", "private"),
        ("https://[::1]/a.mp4", "private"),
        ("https://[::ffff:7f00:1]/a.mp4", "private"),
    ],
)
def test_policy_refuses_before_connecting(url, reason):
    with pytest.raises(FetchRefused) as info:
        FetchPolicy().check(url)
    assert info.value.reason == reason


def test_trusted_and_allowed_hosts():
    policy = FetchPolicy.for_urls(["http://127.0.0.1:8765", None], ["Files.Internal"])
    policy.check("http://127.0.0.1:9/render.mp4")  # the API's own host: any port, plain http
    policy.check("http://files.internal/x.mp4")
    FetchPolicy().check("https://cdn.example.org/x.mp4")
    cdn = FetchPolicy(frozenset({"127.0.0.1"}), frozenset({"cdn.discordapp.com"}))
    cdn.check("https://cdn.discordapp.com/attachments/1/2/a.mp4")
    with pytest.raises(FetchRefused, match="not an allowed host"):
        cdn.check("https://evil.example.org/a.mp4")


class FakeResolver(aiohttp.abc.AbstractResolver):
    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table

    async def resolve(self, host, port=0, family=socket.AF_INET):
        return [
            {"hostname": host, "host": a, "port": port, "family": family, "proto": 0, "flags": 0}
            for a in self.table[host]
        ]

    async def close(self):
        pass


async def test_resolver_keeps_only_public_addresses():
    table = {"rebind.example": ["10.0.0.5"], "mixed.example": ["10.0.0.5", "93.184.216.34"], "api.local": ["10.0.0.9"]}
    resolver = PublicOnlyResolver(FetchPolicy(frozenset({"api.local"})), FakeResolver(table))
    with pytest.raises(OSError, match="no public address"):
        await resolver.resolve("rebind.example", 443)
    assert [r["host"] for r in await resolver.resolve("mixed.example", 443)] == ["93.184.216.34"]
    assert [r["host"] for r in await resolver.resolve("api.local", 443)] == ["10.0.0.9"]  # trusted


@pytest.fixture
async def server():
    """A local server: /secret (counts hits), /video (bytes), /hop (redirects), /slow (trickles)."""
    hits: dict[str, int] = {}
    app = web.Application()

    async def secret(request):
        hits["secret"] = hits.get("secret", 0) + 1
        return web.Response(body=b"internal secret bytes")

    async def video(request):
        hits["video"] = hits.get("video", 0) + 1
        return web.Response(body=b"\x00" * 4096, content_type="video/mp4")

    async def hop(request):
        raise web.HTTPFound(request.query["to"])

    async def loop(request):
        raise web.HTTPFound("/loop")

    async def slow(request):
        resp = web.StreamResponse(headers={"Content-Length": "1000"})
        await resp.prepare(request)
        for _ in range(100):
            await resp.write(b"x")
            await asyncio.sleep(0.05)
        return resp

    for path, handler in (("/secret", secret), ("/video", video), ("/hop", hop), ("/loop", loop), ("/slow", slow)):
        app.router.add_get(path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}", port, hits
    await runner.cleanup()


async def test_a_name_resolving_to_loopback_is_refused_by_the_real_session(server):
    _, port, hits = server
    policy = FetchPolicy(trusted_hosts=frozenset())
    async with guarded_session(policy) as http:
        with pytest.raises(aiohttp.ClientConnectorError) as info:
            await http.get(f"http://localhost:{port}/secret")
    assert refused_by_resolver(info.value) and hits == {}


def transport(api: str, **policy) -> Transport:
    return Transport(api, Attribution("video-leaderboard", "1.0.0", "test"), 5.0, FetchPolicy.for_urls([api], **policy))


async def test_output_download_follows_checked_redirects_only(server, tmp_path):
    base, port, hits = server
    t = transport(base)
    try:
        assert await t.fetch_to_file(f"{base}/hop?to=/video", tmp_path / "ok.mp4", headers={}) == 4096
        # a redirect from the trusted API host to a host that is not trusted is refused
        with pytest.raises(NemoFetchRefused):
            await t.fetch_to_file(f"{base}/hop?to=http://localhost:{port}/secret", tmp_path / "x.mp4", headers={})
        with pytest.raises(NemoFetchRefused):
            await t.fetch_to_file(f"{base}/hop?to=http://169.254.169.254/latest", tmp_path / "x.mp4", headers={})
        with pytest.raises(NemoFetchRefused, match="redirects"):
            await t.fetch_to_file(f"{base}/loop", tmp_path / "x.mp4", headers={})
        # an output URL on another host over plain http is never fetched
        with pytest.raises(NemoFetchRefused):
            await t.fetch_to_file(f"http://localhost:{port}/secret", tmp_path / "x.mp4", headers={})
    finally:
        await t.close()
    assert hits == {"video": 1}
    assert not list(tmp_path.glob("x.mp4*"))


async def test_output_download_has_a_total_timeout(server, tmp_path):
    base, _, _ = server
    t = transport(base, timeout_s=0.5)  # the body trickles for 5 s, never silent for long
    try:
        started = asyncio.get_running_loop().time()
        with pytest.raises(NemoTimeoutError):
            await t.fetch_to_file(f"{base}/slow", tmp_path / "slow.mp4", headers={})
        assert asyncio.get_running_loop().time() - started < 3
    finally:
        await t.close()
    assert not list(tmp_path.glob("slow.mp4*"))


async def test_open_checked_sends_headers_to_the_first_url_only(server):
    base, _, _ = server
    seen: list[dict[str, str]] = []
    policy = FetchPolicy.for_urls([base])

    async def trace(session, ctx, params):
        seen.append(dict(params.headers))

    config = aiohttp.TraceConfig()
    config.on_request_start.append(trace)
    async with (
        aiohttp.ClientSession(trace_configs=[config]) as http,
        open_checked(http, f"{base}/hop?to=/video", policy, headers={"Authorization": "Bearer t0ken"}) as resp,
    ):
        assert resp.status == 200
    assert seen[0].get("Authorization") == "Bearer t0ken" and "Authorization" not in seen[1]


async def resolve_table(host: str) -> list[str]:
    return {"cdn.example.org": ["93.184.216.34"], "intranet.example.org": ["10.2.3.4"]}[host]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/clip.mp4",
        "https://169.254.169.254/clip.mp4",
        "http://[::1]/clip.mp4",
        "http://localhost/clip.mp4",
        "http://nas/clip.mp4",
        "http://printer.local/clip.mp4",
        "https://intranet.example.org/clip.mp4",
        "https://unknown.example.org/clip.mp4",
        "ftp://cdn.example.org/clip.mp4",
    ],
)
async def test_pasted_links_to_private_or_unknown_hosts_are_refused(url):
    async def resolve(host):
        if host == "unknown.example.org":
            raise OSError("no such name")
        return await resolve_table(host)

    with pytest.raises(FetchRefused):
        await check_link(url, resolve=resolve)


async def test_pasted_links_to_public_or_allowed_hosts_pass():
    await check_link("https://cdn.example.org/clip.mp4", resolve=resolve_table)
    await check_link("http://cdn.example.org/clip.mp4", resolve=resolve_table)
    await check_link("http://127.0.0.1:8080/clip.mp4", trusted_hosts=frozenset({"127.0.0.1"}))
