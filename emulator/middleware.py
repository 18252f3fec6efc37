"""The emulator's one middleware: injected faults and throttling first, then every error
turned into the answer a server would give (conventions in :mod:`emulator.app`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from emulator.routes.envelopes import Reply, envelope
from emulator.routes.request_context import STATE_KEY, drain

log = logging.getLogger(__name__)

__all__ = ["errors"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def _injected(request: web.Request) -> web.StreamResponse | None:
    """The answer of an injected fault or a throttled call, if this call gets one.

    API calls (``/api/...`` and ``/run_sse``) may be delayed (``slow_rate``), failed with one of
    ``fault_statuses`` (``fault_rate``; counted in ``state.faults``) or answered 429 while
    ``rate_limit_next`` counts down.
    """
    st = request.app[STATE_KEY]
    cfg = st.config
    api_call = request.path.startswith("/api/") or request.path == "/run_sse"
    if not api_call:
        return None
    if cfg.slow_rate and st.fault_rng.random() < cfg.slow_rate:
        st.faults["slow"] = st.faults.get("slow", 0) + 1
        await asyncio.sleep(cfg.slow_s)
    if cfg.fault_rate and st.fault_rng.random() < cfg.fault_rate:
        status = st.fault_rng.choice(cfg.fault_statuses)
        st.faults[str(status)] = st.faults.get(str(status), 0) + 1
        await drain(request)
        resp = envelope(status, "injected failure", status=status)
        if status == 429:
            resp.headers["Retry-After"] = str(cfg.rate_limit_retry_after_s)
        return resp
    if cfg.rate_limit_next > 0:
        cfg.rate_limit_next -= 1
        resp = envelope(429, "too many requests", status=429)
        resp.headers["Retry-After"] = str(cfg.rate_limit_retry_after_s)
        return resp
    return None


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Inject the configured faults, then run the handler and turn its errors into answers.

    :class:`~emulator.routes.envelopes.Reply` gives its response; aiohttp's HTTP errors
    become ``{"code": <status>}`` envelopes (e.g. 404 for an unknown route); any other
    exception is an emulator bug: logged and answered HTTP 500. Cancellation and lost
    connections propagate.
    """
    injected = await _injected(request)
    if injected is not None:
        return injected
    try:
        return await handler(request)
    except Reply as r:
        return r.response
    except web.HTTPException as e:
        if e.status < 400:
            raise
        return envelope(e.status, e.reason.lower(), status=e.status)
    except (asyncio.CancelledError, ConnectionError):
        raise
    except Exception as e:  # an emulator bug: answer like a server would, and log it
        log.exception("emulator error on %s %s", request.method, request.path)
        return envelope(500, f"internal error: {type(e).__name__}: {e}", status=500)
