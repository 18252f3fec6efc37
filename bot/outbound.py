"""The rules for every URL nemobot fetches itself or hands to NemoVideo to fetch.

Three kinds of outbound fetch exist (see ``docs/security.md``):

* the bot's own downloads of render outputs (contract section 5) and of platform files
  (the Discord CDN fallback, a local Bot API server's files): https only, except hosts
  named in ``NEMO_API_URL`` / ``TELEGRAM_API_URL`` / ``DISCORD_API_URL`` and
  ``FETCH_ALLOWED_HOSTS``; every address a name resolves to must be public, on every
  redirect too (:class:`PublicOnlyResolver`, :func:`open_checked`);
* links people paste (endpoint 6, uploaded by NemoVideo): http(s) to public hosts only,
  at most :data:`MAX_LINKS` per message (:func:`check_link`).

"Public" is :attr:`ipaddress.IPv4Address.is_global`: loopback, private (RFC 1918, ULA),
link-local (169.254/16, the cloud metadata address among them), CGNAT, multicast,
reserved and unspecified addresses are refused. An IPv6 address that maps or embeds an
IPv4 one is judged by the IPv4 address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

MAX_LINKS = 10
"""Links taken from one message (issue 10: 100 links in one message went in one call)."""
MAX_REDIRECTS = 5
"""Redirects followed by the bot's own downloads, each one checked."""
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class FetchRefused(Exception):
    """A URL breaks the outbound rules. The message names the rule, never the URL's query.

    Attributes:
        reason: ``scheme``, ``host``, ``private`` or ``redirects``.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in ipaddress.IPv6Network("64:ff9b::/96"):  # NAT64
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public_address(ip: IPAddress) -> bool:
    """True when ``ip`` is a globally routable unicast address (see the module docs)."""
    if isinstance(ip, ipaddress.IPv6Address):
        v4 = _embedded_v4(ip)
        if v4 is not None:
            return is_public_address(v4)
    return ip.is_global and not ip.is_multicast


def literal_address(host: str) -> IPAddress | None:
    """``host`` as an IP address when it is one (brackets and an IPv6 zone are ignored)."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def host_of(url: str) -> str:
    """The lower-case host of ``url`` (``""`` when there is none)."""
    return (urlsplit(url).hostname or "").lower().rstrip(".")


def web_target(url: str) -> tuple[str, str]:
    """``(scheme, host)`` of an http(s) URL, the host in lower case.

    Raises:
        FetchRefused: Another scheme, no host, or a URL that does not parse.
    """
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
    except ValueError as exc:
        raise FetchRefused("host", "not a URL") from exc
    if parts.scheme not in {"http", "https"}:
        raise FetchRefused("scheme", f"{parts.scheme or 'no'} scheme")
    if not host:
        raise FetchRefused("host", "no host")
    return parts.scheme, host


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """Where the bot's own downloads may go.

    Attributes:
        trusted_hosts: Host names or addresses exempt from the https and public-address
            rules (the hosts of ``NEMO_API_URL`` and the platform API URLs, and
            ``FETCH_ALLOWED_HOSTS``), lower case.
        allowed_hosts: When not empty, the only hosts allowed at all (the Discord CDN for
            attachments); trusted hosts are always allowed.
        timeout_s: Total time of one download, redirects included (s).
    """

    trusted_hosts: frozenset[str] = frozenset()
    allowed_hosts: frozenset[str] = frozenset()
    timeout_s: float = 600.0

    @classmethod
    def for_urls(cls, urls: Iterable[str | None], extra_hosts: Iterable[str] = (), **kwargs: Any) -> FetchPolicy:
        """A policy trusting the hosts of ``urls`` (``None`` skipped) and ``extra_hosts``."""
        hosts = {host_of(u) for u in urls if u} | {h.lower().strip() for h in extra_hosts}
        return cls(trusted_hosts=frozenset(h for h in hosts if h), **kwargs)

    def trusts(self, host: str) -> bool:
        """True when ``host`` is exempt from the https and public-address rules."""
        return host.lower().rstrip(".") in self.trusted_hosts

    def check(self, url: str) -> None:
        """Check a URL before connecting (the resolver checks the addresses of names).

        Raises:
            FetchRefused: Not http(s), no host, plain http to an untrusted host, a host
                outside ``allowed_hosts``, or a literal address that is not public.
        """
        scheme, host = web_target(url)
        if self.trusts(host):
            return
        if self.allowed_hosts and host not in self.allowed_hosts:
            raise FetchRefused("host", f"host {host} is not an allowed host")
        if scheme != "https":
            raise FetchRefused("scheme", f"plain http to {host}")
        ip = literal_address(host)
        if ip is not None and not is_public_address(ip):
            raise FetchRefused("private", f"{host} is not a public address")


class NoPublicAddress(OSError):
    """A name resolved to no public address (raised by :class:`PublicOnlyResolver`)."""


def refused_by_resolver(exc: BaseException) -> bool:
    """True when an aiohttp connection error comes from :class:`PublicOnlyResolver` refusing a name."""
    return isinstance(exc, aiohttp.ClientConnectorError) and isinstance(exc.os_error, NoPublicAddress)


class PublicOnlyResolver(AbstractResolver):
    """An aiohttp resolver that drops every non-public address of a name (trusted names keep all).

    Checking the resolved addresses where the connection is made (not before) also stops
    a name that resolves differently the second time (DNS rebinding).

    Args:
        policy: Which names are trusted.
        resolver: The resolver asked first (aiohttp's default when ``None``).
    """

    def __init__(self, policy: FetchPolicy, resolver: AbstractResolver | None = None) -> None:
        self.policy = policy
        self._resolver = resolver

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """The public addresses of ``host``.

        Raises:
            NoPublicAddress: The name has no public address (aiohttp reports it as a
                ``ClientConnectorDNSError``; see :func:`refused_by_resolver`).
        """
        if self._resolver is None:
            self._resolver = DefaultResolver()
        found = await self._resolver.resolve(host, port, family)
        if self.policy.trusts(host):
            return found
        public = [r for r in found if (ip := literal_address(r["host"])) is not None and is_public_address(ip)]
        if not public:
            raise NoPublicAddress(f"{host} has no public address")
        return public

    async def close(self) -> None:
        """Close the wrapped resolver."""
        if self._resolver is not None:
            await self._resolver.close()


def guarded_session(policy: FetchPolicy, **kwargs: Any) -> aiohttp.ClientSession:
    """An aiohttp session whose connections reach only what ``policy`` allows by address.

    Use :func:`open_checked` for requests: it checks every URL and redirect.
    """
    connector = aiohttp.TCPConnector(resolver=PublicOnlyResolver(policy), limit=kwargs.pop("limit", 100))
    return aiohttp.ClientSession(connector=connector, **kwargs)


@asynccontextmanager
async def open_checked(
    session: aiohttp.ClientSession,
    url: str,
    policy: FetchPolicy,
    *,
    headers: dict[str, str] | None = None,
    headers_for: Callable[[str], dict[str, str]] | None = None,
    sock_read_s: float | None = None,
) -> AsyncIterator[aiohttp.ClientResponse]:
    """GET ``url``, following at most :data:`MAX_REDIRECTS` redirects, each checked by ``policy``.

    Args:
        session: Preferably a :func:`guarded_session` (names resolving to private
            addresses are refused there).
        url: Where to start.
        policy: The rules and the total timeout (``policy.timeout_s``).
        headers: Headers of the first request.
        headers_for: Headers of a redirected request to the given URL (default: none, so
            credentials never follow a redirect to another host).
        sock_read_s: Longest silence while reading (s).

    Yields:
        The final response (status not checked).

    Raises:
        FetchRefused: A URL broke the rules, or too many redirects.
        aiohttp.ClientError, TimeoutError: Transport failures.
    """
    timeout = aiohttp.ClientTimeout(total=policy.timeout_s, sock_read=sock_read_s)
    current, sent = url, headers or {}
    async with asyncio.timeout(policy.timeout_s):
        for _hop in range(MAX_REDIRECTS + 1):
            policy.check(current)
            resp = await session.get(current, headers=sent, allow_redirects=False, timeout=timeout)
            if resp.status in REDIRECT_CODES and "Location" in resp.headers:
                resp.release()
                nxt = urljoin(current, resp.headers["Location"])
                sent = headers_for(nxt) if headers_for else {}
                current = nxt
                continue
            try:
                yield resp
            finally:
                resp.release()
            return
    raise FetchRefused("redirects", f"more than {MAX_REDIRECTS} redirects")


Resolve = Callable[[str], Awaitable[list[str]]]


async def system_resolve(host: str) -> list[str]:
    """The addresses of ``host`` from the system resolver (``getaddrinfo``).

    Raises:
        OSError: The name does not resolve.
    """
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def check_link(
    url: str, *, trusted_hosts: frozenset[str] = frozenset(), resolve: Resolve = system_resolve
) -> None:
    """Check a link someone pasted before NemoVideo is asked to fetch it (endpoint 6).

    Args:
        url: The link.
        trusted_hosts: ``FETCH_ALLOWED_HOSTS`` (lower case): allowed whatever they resolve to.
        resolve: How names are resolved (the system resolver; tests pass their own).

    Raises:
        FetchRefused: Not http(s), no host, or the host is (or resolves to) an address
            that is not public; a name that does not resolve is refused too.
    """
    _, host = web_target(url)
    if host in trusted_hosts:
        return
    ip = literal_address(host)
    if ip is not None:
        addresses: list[IPAddress] = [ip]
    else:
        if "." not in host or host.endswith((".localhost", ".local", ".internal", ".lan", ".home.arpa")):
            raise FetchRefused("private", f"{host} is a local name")
        try:
            async with asyncio.timeout(5):
                found = await resolve(host)
        except (OSError, TimeoutError) as exc:
            raise FetchRefused("host", f"{host} does not resolve") from exc
        addresses = [a for a in (literal_address(x) for x in found) if a is not None]
    if not addresses or not all(is_public_address(a) for a in addresses):
        raise FetchRefused("private", f"{host} is not a public address")
