"""Files on the fake Telegram: what users send (:meth:`TelegramFiles.add_file`), ``getFile`` and
the download route, and the video the bot uploads (a multipart part, or a ``file://`` path
on a local Bot API server).

Downloads are ``GET {base_file_url}{token}/{file_path}``; PTB percent-encodes the path, so the
``:`` of the token arrives as ``%3A`` (aiohttp decodes it). With a local Bot API server
(``local_mode``) ``getFile`` returns an absolute path on disk that PTB reads directly, and
PTB sends local files as ``file:///...`` URIs instead of uploading them.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from aiohttp import web

from tests.fakes.base import UploadedFile, json_response
from tests.fakes.telegram.limits import MAX_DOWNLOAD_BYTES, MAX_LOCAL_UPLOAD_BYTES, ApiError, bad_request
from tests.fakes.telegram.model import StoredFile
from tests.fakes.telegram.state import TelegramState


class TelegramFiles(TelegramState):
    """Registered files, ``getFile``, downloads and the bot's uploads."""

    def add_file(
        self,
        data: bytes | Path,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
        size: int | None = None,
    ) -> dict[str, Any]:
        """Register a file users can send and the bot can download.

        Args:
            data: The bytes (written under ``files_dir``) or an existing file (used in place).
            file_name: Name users' clients report; defaults to the path's name.
            mime_type: MIME type; guessed from the name if ``None``.
            size: Claimed ``file_size`` (e.g. 25 MB without real bytes); defaults to the real size.

        Returns:
            ``{"file_id", "file_unique_id", "file_size", "file_path"}``; pass it to
            :meth:`~tests.fakes.telegram.updates.TelegramUpdates.user_media`.
        """
        if isinstance(data, Path):
            path = data.resolve()
            file_name = file_name or path.name
        else:
            path = self._new_file_path("downloads", file_name or "file")
            path.write_bytes(data)
        if mime_type is None and file_name:
            mime_type = mimetypes.guess_type(file_name)[0]
        stored = self._store_file(path, size if size is not None else path.stat().st_size, file_name, mime_type)
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": stored.file_path,
        }

    async def _m_getFile(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> dict[str, Any]:
        stored = self._files.get(str(params.get("file_id")))
        if stored is None:
            raise bad_request("invalid file_id")
        if stored.size > MAX_DOWNLOAD_BYTES and not self.local_mode:
            raise bad_request("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": str(stored.path) if self.local_mode else stored.file_path,
        }

    def _download(self, file_path: str) -> web.StreamResponse:
        """``GET /file/bot<token>/<file_path>`` (the token is checked by the caller)."""
        stored = self._files_by_path.get(file_path) or self._files_by_path.get(unquote(file_path))
        if stored is None or not stored.path.is_file():
            return json_response(404, ApiError(404, "Not Found").body())
        return web.FileResponse(stored.path, headers={"Content-Type": stored.mime_type or "application/octet-stream"})

    def _media_input(
        self, kind: str, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> tuple[UploadedFile, StoredFile]:
        """The bot's ``video``: an uploaded part, or a ``file://`` path in ``local_mode``.

        Recorded in :attr:`uploaded` and stored under a new ``file_id``.
        """
        value = params.get(kind)
        if value is None and kind in files:
            upload = files[kind]
        elif isinstance(value, str) and value.startswith("file://"):
            if not self.local_mode:
                raise bad_request("wrong remote file identifier specified: can't unserialize it")
            path = Path(unquote(urlsplit(value).path))
            if not path.is_file():
                raise bad_request("file not found")
            size = path.stat().st_size
            if size > MAX_LOCAL_UPLOAD_BYTES:
                raise ApiError(413, "Request Entity Too Large")
            upload = UploadedFile(path.name, mimetypes.guess_type(path.name)[0], path, size, kind)
        elif value is None:
            raise bad_request(f"there is no {kind} in the request")
        else:  # a file_id, a URL or an attach:// reference: nemobot never sends those
            raise bad_request("the fake accepts only uploaded files and file:// paths")
        self.uploaded.append(upload)
        return upload, self._store_file(upload.path, upload.size, upload.filename, upload.content_type)
