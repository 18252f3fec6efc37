"""Uploads (endpoint 5, contract sections 2 and 8): multipart streamed from files or iterators, or URLs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import aiohttp

from bot.nemo.models import Attribution, UploadedFile
from bot.nemo.transport import CallApi, data_of


@dataclass(frozen=True, slots=True)
class UploadSource:
    """One file to upload, streamed (never read whole into memory).

    Attributes:
        filename: The name sent in the multipart part.
        path: A local file to stream from, or ``None`` when ``stream`` is given.
        stream: A factory returning a fresh async byte iterator, or ``None``.
        size: Size in bytes when known.
        content_type: MIME type (default ``application/octet-stream``).
    """

    filename: str
    path: Path | None = None
    stream: Callable[[], AsyncIterator[bytes]] | None = None
    size: int | None = None
    content_type: str = "application/octet-stream"


def upload_path(session_id: str) -> str:
    """``/api/upload-video/nemo_agent/me/<sid>`` (endpoint 5)."""
    return f"/api/upload-video/nemo_agent/me/{session_id}"


def files_of(body: Any) -> list[UploadedFile]:
    """The ``files`` of an upload answer (``duration`` in seconds)."""
    files = data_of(body).get("files", [])
    return [UploadedFile.model_validate(f) for f in files] if isinstance(files, list) else []


class Uploads:
    """The two upload modes, on top of the client's authorised, retried call.

    Args:
        call: ``NemoClient._call``.
    """

    def __init__(self, call: CallApi) -> None:
        self._call = call

    async def files(
        self, session_id: str, files: Sequence[UploadSource], *, attribution: Attribution | None = None
    ) -> list[UploadedFile]:
        """Multipart upload, field ``files`` repeated (see :meth:`bot.nemo.client.NemoClient.upload_files`)."""
        if not files:
            return []
        opened: list[IO[bytes]] = []

        def build() -> aiohttp.FormData:
            for handle in opened:
                handle.close()
            opened.clear()
            form = aiohttp.FormData(quote_fields=False)
            for src in files:
                if src.path is not None:
                    handle = open(src.path, "rb")  # noqa: SIM115 - closed in finally
                    opened.append(handle)
                    form.add_field("files", handle, filename=src.filename, content_type=src.content_type)
                elif src.stream is not None:
                    form.add_field(
                        "files", _chunked(src.stream()), filename=src.filename, content_type=src.content_type
                    )
                else:
                    raise ValueError(f"upload source {src.filename!r} has neither path nor stream")
            return form

        # a stream factory may be one-shot: only paths can be sent again (after 429 or 401)
        replayable = all(src.path is not None for src in files)
        try:
            body = await self._call(
                "POST", upload_path(session_id), attribution=attribution, body_factory=build, replayable=replayable
            )
        finally:
            for handle in opened:
                handle.close()
        return files_of(body)

    async def urls(
        self, session_id: str, urls: Sequence[str], *, attribution: Attribution | None = None
    ) -> list[UploadedFile]:
        """JSON upload ``{"urls": [...], "source_type": "url"}`` (see :meth:`bot.nemo.client.NemoClient.upload_urls`)."""
        body = await self._call(
            "POST",
            upload_path(session_id),
            attribution=attribution,
            json_body={"urls": list(urls), "source_type": "url"},
        )
        return files_of(body)


async def _chunked(source: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    async for chunk in source:
        if chunk:
            yield chunk
