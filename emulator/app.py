"""The local NemoVideo emulator: an aiohttp server speaking the whole NemoVideo API contract.

Contract: ``/work/shared/nemovideo-api.md`` (sections referenced as [n] below). The
emulator serves the bot offline for development, demos and tests; its switches live in
:class:`emulator.config.EmulatorConfig`.

Error conventions (one rule per family, so clients can be tested against each):

* Business errors answer **HTTP 200** with the JSON envelope ``{"code": N, "message": ...}``:
  1002 session not found, 2001 out of credits (also on ``/run_sse``, instead of a stream),
  4001 unsupported or undecodable file, 4002 file too large, 4003 URL upload could not be
  fetched (emulator-specific; the contract names no code for it), and the auth dialects
  1010 / 1011.
* Protocol errors use the HTTP status with the envelope: 400 ``{"code":400}`` (missing
  ``X-Client-Id``, malformed body, no files), 401 ``{"code":1001}`` (auth dialect ``1001``),
  404 ``{"code":404}`` (unknown route), 429 ``{"code":429}`` with ``Retry-After``
  (``config.rate_limit_next``), 500 ``{"code":500}`` (emulator bug). Auth dialect
  ``http401`` is a bare HTTP 401 with a plain-text body.
* ``/run_sse`` speaks ADK: unknown session -> HTTP 404 ``{"detail": "Session not found: <sid>"}``,
  malformed body -> HTTP 422 ``{"detail": ...}``.
* Render endpoints use ``{"success": false, "error": ...}``: 400 bad request or empty draft,
  402 missing attribution headers, 404 unknown render or session, 409 render already in
  progress / id already used / render not finished (download, cancel).

Cancelled renders end as ``status: "failed"`` with ``error: "cancelled"`` (the contract has
no ``cancelled`` status); their ffmpeg process is killed.

The routes live in :mod:`emulator.routes` (one module per endpoint family), the fault
injection and error translation in :mod:`emulator.middleware`; this module holds the app
factory, :class:`Emulator` and :func:`serve`.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
from pathlib import Path

from aiohttp import web

from emulator.config import EmulatorConfig
from emulator.middleware import errors
from emulator.routes import auth, downloads, renders, run_sse, sessions, uploads
from emulator.routes.request_context import STATE_KEY
from emulator.routes.uploads import ACCEPTED_EXTENSIONS
from emulator.state import EmulatorState

__all__ = ["ACCEPTED_EXTENSIONS", "STATE_KEY", "Emulator", "create_app", "serve"]

log = logging.getLogger("emulator")

_OWNS_DIR_KEY = web.AppKey("nemo_emulator_owns_dir", bool)
#: The endpoint families, each with its ``ROUTES``.
_ROUTE_FAMILIES = (auth, sessions, uploads, run_sse, renders, downloads)


def create_app(config: EmulatorConfig | None = None, data_dir: Path | str | None = None) -> web.Application:
    """Build the emulator's aiohttp application.

    Args:
        config: The switches; a default :class:`EmulatorConfig` when ``None``.
        data_dir: Folder for uploads, generated media and renders. ``None``: a fresh temp
            folder, deleted when the app shuts down.

    Returns:
        The application; its :class:`EmulatorState` is ``app[STATE_KEY]``. On cleanup it
        stops all agent runs and renders and closes its HTTP client.
    """
    owns_dir = data_dir is None
    root = Path(tempfile.mkdtemp(prefix="nemo-emulator-")) if data_dir is None else Path(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    app = web.Application(middlewares=[errors], client_max_size=16 * 1024 * 1024)
    app[STATE_KEY] = EmulatorState(config or EmulatorConfig(), root)
    app[_OWNS_DIR_KEY] = owns_dir
    for family in _ROUTE_FAMILIES:
        app.add_routes(family.ROUTES)
    app.on_shutdown.append(_on_shutdown)
    app.on_cleanup.append(_on_cleanup)
    return app


async def _on_shutdown(app: web.Application) -> None:
    await app[STATE_KEY].aclose()


async def _on_cleanup(app: web.Application) -> None:
    st = app[STATE_KEY]
    await st.aclose()
    if app[_OWNS_DIR_KEY]:
        st.remove_data_dir()


class Emulator:
    """A running emulator server, for tests, demos and the CLI.

    Usage::

        async with Emulator(EmulatorConfig(step_delay_s=0)) as emu:
            base = emu.url          # "http://127.0.0.1:<port>"
            emu.config.silent_share = 1.0
            emu.expire_tokens()

    Attributes:
        url: Base URL once started (``None`` before).
        state: The :class:`EmulatorState` (users, sessions, uploads, renders, counters).
    """

    def __init__(self, config: EmulatorConfig | None = None, data_dir: Path | str | None = None) -> None:
        """Prepare (not start) an emulator.

        Args:
            config: The switches (default :class:`EmulatorConfig`).
            data_dir: Media folder; ``None``: a temp folder removed by :meth:`stop`.
        """
        self.app = create_app(config, data_dir)
        self.state: EmulatorState = self.app[STATE_KEY]
        self.url: str | None = None
        self._runner: web.AppRunner | None = None

    @property
    def config(self) -> EmulatorConfig:
        """The live switches; change fields or assign a new object at any time."""
        return self.state.config

    @config.setter
    def config(self, value: EmulatorConfig) -> None:
        self.state.config = value

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on ``host:port`` (port 0: a free port).

        Returns:
            The base URL, e.g. ``"http://127.0.0.1:40123"``.

        Raises:
            RuntimeError: already started.
            OSError: the address cannot be bound.
        """
        if self._runner is not None:
            raise RuntimeError("emulator already started")
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=5.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
        except BaseException:  # not listening after all (bind error, cancelled): tear down, re-raise
            await runner.cleanup()
            raise
        self._runner = runner
        bound = runner.addresses[0]
        real_port = bound[1]
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{real_port}"
        return self.url

    async def stop(self) -> None:
        """Stop the server, every agent run and render; remove the temp data folder. Idempotent."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        else:
            await _on_cleanup(self.app)

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # test controls

    def expire_tokens(self) -> None:
        """Every token issued so far becomes invalid (new ones from the same client id work)."""
        self.state.expire_tokens()

    def drop_session(self, session_id: str) -> None:
        """Forget a session: its calls get 1002 and ``/run_sse`` 404."""
        self.state.drop_session(session_id)

    def set_credits(self, user_id: str, n: int) -> None:
        """Set a user's available credits.

        Raises:
            KeyError: unknown user id.
        """
        self.state.set_credits(user_id, n)


async def serve(
    host: str = "127.0.0.1", port: int = 8765, config: EmulatorConfig | None = None, data_dir: Path | str | None = None
) -> None:
    """Run an emulator until cancelled (the CLI's ``nemobot emulator --host --port``).

    Logs one line with the URL (through the ``emulator`` logger when logging is configured,
    else on stderr); no access log.

    Args:
        host: Interface to bind.
        port: TCP port (0: a free one).
        config: The switches.
        data_dir: Media folder; ``None``: a temp folder removed on exit.
    """
    emu = Emulator(config, data_dir)
    url = await emu.start(host, port)
    line = f"NemoVideo emulator listening on {url}"
    if logging.getLogger().handlers and log.isEnabledFor(logging.INFO):
        log.info(line)
    else:
        print(line, file=sys.stderr, flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await emu.stop()
