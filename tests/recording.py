"""A :class:`~bot.boundary.ReplyChannel` that records what the engine asked of it (a test double)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from bot.boundary import Button, ChannelError, ChannelLimits, OutgoingPhoto, OutgoingVideo, Reply, SentRef


@dataclass(slots=True)
class RecordingChannel:
    """A :class:`ReplyChannel` that records what it was asked to do (tests, demos).

    Attributes:
        events: ``("send"|"edit"|"file"|"photo", ref_id, text_or_path)`` in order (a
            photo's text is its caption).
        messages: Current text of each message by ref id (a picture's: its caption).
        files: Paths of files sent.
        videos: The videos sent, as given (their thumbnails among them).
        photos: The pictures sent, with their captions.
    """

    limits: ChannelLimits = field(default_factory=ChannelLimits)
    events: list[tuple[str, str, str]] = field(default_factory=list)
    messages: dict[str, str] = field(default_factory=dict)
    buttons: dict[str, tuple[Button, ...]] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    videos: list[OutgoingVideo] = field(default_factory=list)
    photos: list[tuple[OutgoingPhoto, str]] = field(default_factory=list)
    keep_dir: Path | None = None
    _n: int = 0

    async def send(self, reply: Reply) -> SentRef:
        self._n += 1
        ref = SentRef(str(self._n))
        self.events.append(("send", ref.id, reply.text))
        self.messages[ref.id] = reply.text
        self.buttons[ref.id] = reply.buttons
        return ref

    async def edit(self, ref: SentRef, reply: Reply) -> None:
        if ref.id not in self.messages:
            raise ChannelError(f"unknown message {ref.id!r}")
        self.events.append(("edit", ref.id, reply.text))
        self.messages[ref.id] = reply.text
        self.buttons[ref.id] = reply.buttons

    async def send_private(self, reply: Reply) -> SentRef:
        self._n += 1
        ref = SentRef(str(self._n))
        self.events.append(("private", ref.id, reply.text))
        self.messages[ref.id] = reply.text
        self.buttons[ref.id] = reply.buttons
        return ref

    async def send_file(self, video: OutgoingVideo, *, caption: str = "") -> SentRef:
        self._n += 1
        kept = video.path
        if self.keep_dir is not None:
            self.keep_dir.mkdir(parents=True, exist_ok=True)
            kept = self.keep_dir / video.name
            shutil.copyfile(video.path, kept)
        self.files.append(kept)
        self.videos.append(video)
        self.events.append(("file", str(self._n), f"{kept} {caption}"))
        return SentRef(str(self._n))

    async def send_photo(self, photo: OutgoingPhoto, *, caption: str = "", buttons: tuple[Button, ...] = ()) -> SentRef:
        self._n += 1
        self.photos.append((photo, caption))
        self.messages[str(self._n)] = caption  # a captioned picture reads as a message
        self.buttons[str(self._n)] = buttons
        self.events.append(("photo", str(self._n), caption))
        return SentRef(str(self._n))

    def texts(self) -> list[str]:
        """Final text of every message, in sending order."""
        return [self.messages[k] for k in sorted(self.messages, key=int)]
