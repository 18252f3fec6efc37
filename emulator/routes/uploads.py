"""Uploads (contract sections 2.5 and 8): multipart files or URLs, checked, then added to the session."""

from __future__ import annotations

import copy
import hashlib
import ipaddress
import mimetypes
import os
import uuid
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, unquote, urlsplit

import aiohttp
from aiohttp import web

from emulator import media
from emulator.agent.drafts import sync_uploads
from emulator.records import Session, UploadRecord
from emulator.routes.envelopes import Reply, api_error, ok
from emulator.routes.request_context import app_state, authenticate, base_url, drain, json_body, session_or_1002
from emulator.state import EmulatorState

__all__ = ["ACCEPTED_EXTENSIONS", "ROUTES", "upload"]

#: Accepted upload extensions by file type (contract section 8).
ACCEPTED_EXTENSIONS: dict[str, frozenset[str]] = {
    "video": frozenset({"mp4", "mov", "avi", "webm", "mkv"}),
    "image": frozenset({"jpg", "jpeg", "png", "gif", "webp"}),
    "audio": frozenset({"mp3", "wav", "m4a", "aac"}),
}
_ALL_EXTENSIONS = frozenset().union(*ACCEPTED_EXTENSIONS.values())
_CHUNK = 256 * 1024


def _safe_filename(name: str, default: str = "upload") -> str:
    name = unquote(name or "").replace("\\", "/").split("/")[-1].strip()
    name = "".join(c for c in name if c.isprintable() and c not in '<>:"|?*').strip(" .")
    return name[:180] or default


def _extension(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def _unsupported(name: str) -> Reply:
    formats = ", ".join(f"{kind}: {' '.join(sorted(exts))}" for kind, exts in ACCEPTED_EXTENSIONS.items())
    return api_error(4001, f"unsupported file type: {name} (accepted {formats})")


class _Staged:
    """A received file waiting for its checks."""

    def __init__(self, name: str, path: Path, size: int, digest: str, source: str) -> None:
        self.name, self.path, self.size, self.digest, self.source = name, path, size, digest, source
        self.url: str | None = None


class _Spool:
    """An incoming file on disk: each chunk is counted against the size cap, hashed and
    written in the state's file I/O threads (``async with`` opens and closes the file)."""

    def __init__(self, st: EmulatorState, path: Path, label: str) -> None:
        self._st, self._path, self._label = st, path, label
        self._limit = st.config.max_upload_bytes
        self._digest = hashlib.sha256()
        self._file: IO[bytes] | None = None
        self.size = 0

    async def __aenter__(self) -> _Spool:
        self._file = await self._st.file_io(self._path.open, "wb")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._file is not None:
            await self._st.file_io(self._file.close)

    async def write(self, chunk: bytes) -> None:
        """Append a chunk.

        Raises:
            Reply: code 4002 once the file is over ``config.max_upload_bytes``.
        """
        assert self._file is not None
        self.size += len(chunk)
        if self.size > self._limit:
            raise api_error(4002, f"file too large: {self._label} is over {self._limit} bytes")
        self._digest.update(chunk)
        await self._st.file_io(self._file.write, chunk)

    @property
    def digest(self) -> str:
        """SHA-256 of the bytes written so far (hex)."""
        return self._digest.hexdigest()


async def _receive_multipart(request: web.Request, st: EmulatorState, staged: list[_Staged]) -> None:
    """Stream every ``files`` part to ``incoming/``, appending to ``staged`` as it goes
    (so the caller can remove partial files after an error)."""
    reader = await request.multipart()
    st.incoming_dir.mkdir(parents=True, exist_ok=True)
    while True:
        part = await reader.next()
        if part is None:
            break
        if not isinstance(part, aiohttp.BodyPartReader) or part.name != "files":
            await part.release()
            continue
        name = _safe_filename(part.filename or "")
        if _extension(name) not in _ALL_EXTENSIONS:
            raise _unsupported(name)
        tmp = st.incoming_dir / uuid.uuid4().hex
        staged.append(_Staged(name, tmp, 0, "", "multipart"))
        async with _Spool(st, tmp, name) as spool:
            while chunk := await part.read_chunk(_CHUNK):
                await spool.write(chunk)
        staged[-1].size, staged[-1].digest = spool.size, spool.digest


def _host_allowed(st: EmulatorState, host: str | None) -> bool:
    if st.config.allow_remote_urls:
        return True
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _url_filename(url_path: str, resp: aiohttp.ClientResponse) -> str:
    """The file name of a download: from the URL path, else Content-Disposition, else the content type."""
    name = _safe_filename(url_path, default="")
    if not _extension(name) and resp.content_disposition and resp.content_disposition.filename:
        name = _safe_filename(resp.content_disposition.filename, default="")
    if not _extension(name):
        ext = mimetypes.guess_extension(resp.content_type or "") or ""
        name = (name or "download") + ext
    return name


async def _fetch_url(st: EmulatorState, url: str) -> _Staged:
    """Download a URL upload to ``incoming/`` (loopback hosts only unless ``allow_remote_urls``).

    Raises:
        Reply: 4003 when the URL is not allowed or cannot be fetched, 4002 when it is too
            large, 4001 for an unsupported file type.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not _host_allowed(st, parts.hostname):
        raise api_error(4003, f"cannot fetch {url}: only http(s) URLs on this machine are allowed")
    limit = st.config.max_upload_bytes
    st.incoming_dir.mkdir(parents=True, exist_ok=True)
    tmp = st.incoming_dir / uuid.uuid4().hex
    try:
        async with st.http().get(url) as resp:
            if resp.status != 200:
                raise api_error(4003, f"cannot fetch {url}: HTTP {resp.status}")
            if resp.content_length is not None and resp.content_length > limit:
                raise api_error(4002, f"file too large: {url} is {resp.content_length} bytes (limit {limit})")
            name = _url_filename(parts.path, resp)
            if _extension(name) not in _ALL_EXTENSIONS:
                raise _unsupported(name)
            async with _Spool(st, tmp, url) as spool:
                async for chunk in resp.content.iter_chunked(_CHUNK):
                    await spool.write(chunk)
    except Reply:
        tmp.unlink(missing_ok=True)
        raise
    except (TimeoutError, aiohttp.ClientError, OSError) as e:
        tmp.unlink(missing_ok=True)
        raise api_error(4003, f"cannot fetch {url}: {type(e).__name__}: {e}") from None
    staged = _Staged(name, tmp, spool.size, spool.digest, "url")
    staged.url = url
    return staged


def _file_info(item: _Staged, info: media.MediaInfo, cdn_url: str) -> dict[str, Any]:
    """One ``video_infos`` entry (contract section 2.5)."""
    return {
        "filename": item.name,
        "file_type": info.kind,
        "cdn_url": cdn_url,
        "duration": round(info.duration_s, 3) if info.duration_s is not None else None,
        "width": info.width,
        "height": info.height,
        "fps": round(info.fps, 3) if info.fps else None,
        "hash": item.digest,
        "size": item.size,
    }


async def _accept(
    request: web.Request, st: EmulatorState, sess: Session, staged: list[_Staged]
) -> list[dict[str, Any]]:
    """Probe, store and register received files; all or nothing."""
    probed: list[tuple[_Staged, media.MediaInfo]] = []
    for item in staged:
        try:
            info = await st.to_thread(media.probe, item.path)
        except media.MediaError as e:
            raise api_error(4001, f"unsupported file type: {item.name} is not decodable media ({e})") from None
        probed.append((item, info))
    base = base_url(request)
    files = []
    st.upload_calls += 1
    for item, info in probed:
        folder = st.cdn_dir / item.digest
        folder.mkdir(parents=True, exist_ok=True)
        dest = folder / item.name
        os.replace(item.path, dest)
        cdn_url = f"{base}/cdn/{item.digest}/{quote(item.name)}"
        files.append(_file_info(item, info, cdn_url))
        st.uploads.append(
            UploadRecord(
                session_id=sess.session_id,
                filename=item.name,
                file_type=info.kind,
                hash=item.digest,
                size=item.size,
                path=dest,
                cdn_url=cdn_url,
                source=item.source,
                request=st.upload_calls,
                url=item.url,
            )
        )
    sess.state["video_infos"].extend(copy.deepcopy(files))
    sync_uploads(sess.state)  # a later upload joins a timeline that already has video
    return files


async def _receive(request: web.Request, st: EmulatorState, staged: list[_Staged]) -> None:
    """Receive the files of a multipart body, or fetch the ``urls`` of a JSON body."""
    if request.content_type.startswith("multipart/"):
        try:
            await _receive_multipart(request, st, staged)
        finally:
            if not request.content.at_eof():
                await drain(request)
        return
    body = await json_body(request)
    urls = body.get("urls")
    if not isinstance(urls, list) or not urls or not all(isinstance(u, str) and u for u in urls):
        raise api_error(400, 'expected {"urls": [...], "source_type": "url"} or multipart field "files"', status=400)
    for url in urls:
        staged.append(await _fetch_url(st, url))


async def upload(request: web.Request) -> web.Response:
    """[2.5] ``POST /api/upload-video/nemo_agent/me/<sid>``: multipart ``files`` or JSON ``urls``.

    Multipart bodies are streamed to disk in 256 KiB chunks and counted on the way (over
    ``max_upload_bytes`` -> 4002); the extension (4001) and decodability (4001, probed in a
    worker thread) are checked before anything is added to ``state.video_infos``.
    """
    st = app_state(request)
    staged: list[_Staged] = []
    try:
        user = authenticate(request)
        sess = session_or_1002(request, user, request.match_info["sid"])
        await _receive(request, st, staged)
        if not staged:
            raise api_error(400, 'no file in the multipart field "files"', status=400)
        files = await _accept(request, st, sess, staged)
    finally:
        for item in staged:
            item.path.unlink(missing_ok=True)
    return ok({"files": files, "session_state_applied": True})


ROUTES = [web.post("/api/upload-video/nemo_agent/me/{sid}", upload)]
