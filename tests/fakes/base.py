"""What the fake platform servers have in common.

A fake (:class:`tests.fakes.telegram.FakeTelegram`, :class:`tests.fakes.discord.FakeDiscord`)
is a real aiohttp server on ``127.0.0.1`` at a free port that the real client library talks
to over HTTP. :class:`FakeServer` is its skeleton:

* lifecycle: :meth:`~FakeServer.start` / :meth:`~FakeServer.stop`, or ``async with``; the
  URL is :attr:`~FakeServer.url` once started;
* ``files_dir``: where uploads and registered files are written (a temporary directory
  removed with the object unless the test passes one);
* the request log :attr:`~FakeServer.calls` and :meth:`~FakeServer.wait_until`, which
  re-checks a predicate whenever the fake records something;
* armed failures (:class:`Fault`), which each fake's ``fail()`` adds;
* streaming multipart uploads to disk under a size limit, and JSON answers.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import tempfile
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Self, TypeVar

import aiohttp
from aiohttp import web

CHUNK = 256 * 1024
"""Read size when streaming uploads to disk."""

CallT = TypeVar("CallT")


@dataclass
class UploadedFile:
    """A file the bot uploaded, saved under ``files_dir`` (or, for Telegram's local mode, the
    bot's own file it referenced by ``file://`` path).

    Attributes:
        filename: Name the bot gave.
        content_type: MIME type (Telegram: as the part declared it; Discord: guessed from the
            name, as Discord does, since discord.py sends every file as
            ``application/octet-stream``).
        path: Where the bytes are.
        size: Size in bytes.
        field: Multipart part name (``video``, ``files[0]``); empty if not from a multipart part.
    """

    filename: str
    content_type: str | None
    path: Path
    size: int
    field: str = ""

    def read_bytes(self) -> bytes:
        """The uploaded bytes."""
        return self.path.read_bytes()


@dataclass
class Fault:
    """A failure armed by a fake's ``fail()``: the next ``times`` matching requests fail.

    Attributes:
        method: What it matches: a Bot API method name in lower case (Telegram) or an HTTP
            method, ``*`` for any (Discord).
        path: A regex over the request path (Discord), ``None`` to match on ``method`` only.
        times: Failures left.
        status: HTTP status to answer.
        retry_after: Seconds the answer asks the client to wait (429s), ``None`` if none.
    """

    method: str
    path: re.Pattern[str] | None
    times: int
    status: int
    retry_after: float | None

    def matches(self, method: str, path: str = "") -> bool:
        """Whether a request with this method and path is one it fails."""
        return self.method in ("*", method) and (self.path is None or self.path.match(path) is not None)


class FakeServer(Generic[CallT]):
    """Base of the fakes: an aiohttp server on a free loopback port (see the module docstring).

    Subclasses add their routes in :meth:`_add_routes` and may hook :meth:`_on_started` and
    :meth:`_on_stopping`.

    Args:
        files_dir: Where uploads and registered files are stored; a temporary directory
            (removed when this object is garbage collected) if ``None``.

    Attributes:
        url: ``http://127.0.0.1:PORT`` once started.
        files_dir: The resolved ``files_dir``.
        calls: The request log (each fake documents what it records).
    """

    files_prefix = "fake-server-"
    """Prefix of the temporary ``files_dir``."""
    max_body_bytes = 64 * 1024 * 1024
    """aiohttp's ``client_max_size``: the largest body it reads (multipart is streamed anyway)."""
    handler_cancellation = False
    """Cancel a handler when its client disconnects (aiohttp's option)."""
    default_timeout = 10.0
    """Default of :meth:`wait_until`'s ``timeout``."""

    def __init__(self, files_dir: Path | None = None) -> None:
        if files_dir is None:
            files_dir = Path(tempfile.mkdtemp(prefix=self.files_prefix))
            weakref.finalize(self, shutil.rmtree, files_dir, True)
        self.files_dir = Path(files_dir).resolve()
        self.url = ""
        self.calls: list[CallT] = []
        self._faults: list[Fault] = []
        self._changed = asyncio.Event()
        self._file_counter = 0
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------------ lifecycle

    def _add_routes(self, app: web.Application) -> None:
        """Add the fake's routes to ``app``."""
        raise NotImplementedError

    def _on_started(self, port: int) -> None:
        """Called once listening on ``port`` (after :attr:`url` is set)."""

    async def _on_stopping(self) -> None:
        """Called by :meth:`stop` before the server shuts down."""

    async def start(self) -> str:
        """Listen on ``127.0.0.1`` at a free port.

        Returns:
            The base URL ``http://127.0.0.1:PORT``.
        """
        app = web.Application(client_max_size=self.max_body_bytes)
        self._add_routes(app)
        runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            handler_cancellation=self.handler_cancellation,
            shutdown_timeout=2.0,
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", 0).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        port = runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        self._on_started(port)
        return self.url

    async def stop(self) -> None:
        """Stop the server. Recorded data stays available."""
        await self._on_stopping()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ waiting

    def _touch(self) -> None:
        """Something was recorded: wake :meth:`wait_until`."""
        self._changed.set()

    async def wait_until(self, predicate: Callable[[], Any], timeout: float | None = None) -> None:
        """Wait until ``predicate()`` holds; re-checked whenever the fake records something
        (and at least every 50 ms).

        Args:
            predicate: Condition over the recorded state.
            timeout: Seconds (:attr:`default_timeout` if ``None``).

        Raises:
            TimeoutError: After ``timeout`` seconds.
        """
        timeout = self.default_timeout if timeout is None else timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout} s")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.05))
            except TimeoutError:
                pass

    # ------------------------------------------------------------------ faults

    def _arm(self, fault: Fault, *, replace: bool = False) -> None:
        """Add a failure; ``replace`` drops earlier ones with the same ``method`` and ``path``."""
        if replace:
            self._faults = [f for f in self._faults if (f.method, f.path) != (fault.method, fault.path)]
        self._faults.append(fault)

    def _take_fault(self, method: str, path: str = "") -> Fault | None:
        """The first armed failure matching the request, with one use consumed; ``None`` if none."""
        for fault in self._faults:
            if fault.times > 0 and fault.matches(method, path):
                fault.times -= 1
                return fault
        return None

    # ------------------------------------------------------------------ files and bodies

    def _new_file_path(self, folder: str, filename: str) -> Path:
        """A fresh path ``files_dir/folder/NNNN_<safe name>`` (the folder is created)."""
        self._file_counter += 1
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", Path(filename).name) or "file"
        target = self.files_dir / folder / f"{self._file_counter:04d}_{safe}"
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    async def _read_multipart(
        self, request: web.Request, limit: int | None, *, per_file: bool
    ) -> tuple[dict[str, str], list[UploadedFile], bool]:
        """Read a ``multipart/form-data`` body, streaming file parts to ``files_dir/uploads``.

        Args:
            request: The request.
            limit: Most bytes kept, ``None`` for no limit.
            per_file: ``limit`` applies to each file (Discord); otherwise to all files together
                (Telegram), and once exceeded the remaining files are skipped.

        Returns:
            Text parts by name, the files kept (with the declared ``Content-Type``), and whether
            a file was over the limit (its bytes are not kept).
        """
        fields: dict[str, str] = {}
        files: list[UploadedFile] = []
        too_big = False
        total = 0
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
                continue
            if part.filename is None:
                fields[part.name] = await part.text()
                continue
            if too_big and not per_file:
                await _drain(part)
                continue
            budget = None if limit is None else limit if per_file else limit - total
            target = self._new_file_path("uploads", part.filename)
            size = await _save_part(part, target, budget)
            if size is None:
                too_big = True
                continue
            total += size
            declared = part.headers.get(aiohttp.hdrs.CONTENT_TYPE)
            files.append(UploadedFile(part.filename, declared, target, size, part.name))
        return fields, files, too_big


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON answer with ``Content-Type: application/json`` exactly, as both platforms send it.

    discord.py's ``json_or_text`` compares the header verbatim: aiohttp's usual
    ``application/json; charset=utf-8`` would reach the bot as a ``str``.
    """
    return web.Response(
        status=status, body=json.dumps(body).encode(), headers={**(headers or {}), "Content-Type": "application/json"}
    )


async def _drain(part: aiohttp.BodyPartReader) -> None:
    while await part.read_chunk(CHUNK):
        pass


async def _save_part(part: aiohttp.BodyPartReader, target: Path, budget: int | None) -> int | None:
    """Stream a part to ``target``: its size, or ``None`` (nothing kept) if over ``budget``."""
    size = 0
    with target.open("wb") as out:
        while chunk := await part.read_chunk(CHUNK):
            size += len(chunk)
            if budget is not None and size > budget:
                break
            out.write(chunk)
    if budget is not None and size > budget:
        target.unlink(missing_ok=True)
        await _drain(part)
        return None
    return size
