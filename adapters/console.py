"""The terminal adapter: a chat with the engine in a terminal (``nemobot chat``, the demo).

Thin: it turns typed lines into :class:`IncomingMessage` and implements
:class:`ReplyChannel` by printing. Progress messages are rewritten in place on a terminal
(ANSI cursor moves) and printed as new lines otherwise. Delivered files are copied to a
downloads folder and their path printed.
"""

from __future__ import annotations

import asyncio
import mimetypes
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bot.boundary import (
    Attachment,
    Button,
    ChannelLimits,
    ConversationKey,
    IncomingMessage,
    OutgoingPhoto,
    OutgoingVideo,
    Reply,
    SentRef,
)
from bot.cleaning import clean_terminal
from bot.texts import t

if TYPE_CHECKING:
    from bot.app import Runtime
    from bot.settings import Settings

PLATFORM = "console"


# ---------------------------------------------------------------- converters (pure)


def parse_line(line: str, *, chat_id: str = "local", locale: str | None = None, counter: int = 0) -> IncomingMessage:
    """Turn one typed line into an :class:`IncomingMessage`.

    ``/upload PATH [PATH...] [-- request]`` attaches files; a line that is only an existing
    file path (quoted or not, as pasted by terminals) attaches that file; anything else is
    text.

    Args:
        line: The typed line.
        chat_id: The conversation id (one terminal = one conversation).
        locale: The user's locale.
        counter: A message number used as ``message_id``.
    """
    key = ConversationKey(platform=PLATFORM, chat_id=chat_id)
    text = line.strip()
    paths: list[Path] = []
    if text.lower().startswith("/upload"):
        rest = text[len("/upload") :].strip()
        request = ""
        if " -- " in f" {rest} ":
            rest, _, request = f" {rest} ".partition(" -- ")
        try:
            tokens = shlex.split(rest)
        except ValueError:
            tokens = rest.split()
        paths = [Path(tok).expanduser() for tok in tokens]
        text = request.strip()
    else:
        candidate = _as_path(text)
        if candidate is not None:
            paths = [candidate]
            text = ""
    attachments = tuple(attachment_for(p) for p in paths)
    return IncomingMessage(
        conversation=key,
        sender="you",
        text=text if paths else line.strip(),
        attachments=attachments,
        message_id=str(counter),
        locale=locale,
    )


def _as_path(text: str) -> Path | None:
    stripped = text.strip().strip("'\"")
    if not stripped or "\n" in stripped or len(stripped) > 4096:
        return None
    path = Path(stripped).expanduser()
    try:
        return path if path.is_file() else None
    except OSError:
        return None


def attachment_for(path: Path) -> Attachment:
    """An :class:`Attachment` for a local file (size from the file system; ``None`` if missing)."""
    try:
        size: int | None = path.stat().st_size
    except OSError:
        size = None
    mime, _ = mimetypes.guess_type(path.name)
    return Attachment(filename=path.name, content_type=mime, size=size, path=path)


def render_reply(reply: Reply) -> str:
    """A reply as terminal text; buttons become a hint line of commands."""
    text = reply.text
    if reply.buttons:
        text += "\n   [" + "] [".join(f"/{b.value}" for b in reply.buttons) + "]"
    return text


# ---------------------------------------------------------------- reply channel


@dataclass
class ConsoleChannel:
    """A :class:`ReplyChannel` that prints to a text stream.

    Args:
        out: Where to print (default stdout).
        downloads_dir: Where delivered files are copied.
        max_upload_bytes: The "platform" file limit (default 2 GB: a terminal has none to speak of).
        prefix: Printed before each bot message.
        save_as: A file name to save delivered videos under instead of the backend's name
            (the demo's ``--out``).
    """

    out: TextIO = field(default_factory=lambda: sys.stdout)
    downloads_dir: Path = Path("nemobot-downloads")
    limits: ChannelLimits = field(
        default_factory=lambda: ChannelLimits(
            max_message_chars=8000, max_upload_bytes=2 * 1024**3, max_caption_chars=2000, can_edit=True
        )
    )
    prefix: str = "bot: "
    save_as: str | None = None
    delivered: list[Path] = field(default_factory=list)
    pictures: list[Path] = field(default_factory=list)
    _texts: dict[str, str] = field(default_factory=dict)
    _last_ref: str | None = None
    _last_lines: int = 0
    _n: int = 0

    @property
    def _tty(self) -> bool:
        isatty = getattr(self.out, "isatty", None)
        return bool(isatty and isatty())

    def _print(self, text: str) -> None:
        text = clean_terminal(text)  # backend and user text may carry escape sequences
        body = self.prefix + text.replace("\n", "\n" + " " * len(self.prefix))
        self.out.write(body + "\n")
        self.out.flush()
        self._last_lines = body.count("\n") + 1

    async def send(self, reply: Reply) -> SentRef:
        self._n += 1
        ref = str(self._n)
        text = render_reply(reply)
        self._texts[ref] = text
        self._print(text)
        self._last_ref = ref
        return SentRef(ref)

    async def edit(self, ref: SentRef, reply: Reply) -> None:
        text = render_reply(reply)
        if self._texts.get(ref.id) == text:
            return
        self._texts[ref.id] = text
        if self._tty and ref.id == self._last_ref:
            self.out.write(f"\x1b[{self._last_lines}F\x1b[J")  # up N lines, clear to the end
            self._print(text)
        else:
            self._print(text)
            self._last_ref = ref.id

    async def send_private(self, reply: Reply) -> SentRef:
        """The terminal has one reader: a private message is a message."""
        return await self.send(reply)

    async def send_file(self, video: OutgoingVideo, *, caption: str = "") -> SentRef:
        self.downloads_dir.mkdir(parents=True, exist_ok=True)
        target = self.downloads_dir / (self.save_as or video.name)
        await asyncio.to_thread(shutil.copyfile, video.path, target)
        self.delivered.append(target)
        self._n += 1
        text = (caption + "\n" if caption else "") + t("console.saved", path=target, size=video.size)
        self._print(text)
        self._last_ref = str(self._n)
        return SentRef(str(self._n))

    async def send_photo(self, photo: OutgoingPhoto, *, caption: str = "", buttons: tuple[Button, ...] = ()) -> SentRef:
        """Saved in ``downloads_dir`` (numbered, so each stays), its path printed under the caption."""
        self.downloads_dir.mkdir(parents=True, exist_ok=True)
        self._n += 1
        stem, dot, ext = photo.name.rpartition(".")
        target = self.downloads_dir / (f"{stem}-{self._n}{dot}{ext}" if dot else f"{photo.name}-{self._n}")
        await asyncio.to_thread(target.write_bytes, photo.data)
        self.pictures.append(target)
        saved = t("console.saved", path=target, size=len(photo.data))
        self._print(render_reply(Reply((caption + "\n" if caption else "") + saved, buttons=buttons)))
        self._last_ref = str(self._n)
        return SentRef(str(self._n))


# ---------------------------------------------------------------- runner


HELP = t("console.help")


async def run_chat(
    runtime: Runtime, *, stdin: TextIO | None = None, out: TextIO | None = None, chat_id: str = "local"
) -> None:
    """An interactive terminal conversation until EOF or ``/quit``.

    Args:
        runtime: The running core.
        stdin: Input stream (default ``sys.stdin``).
        out: Output stream (default ``sys.stdout``).
        chat_id: The conversation id (one terminal = one conversation).
    """
    stdin = stdin or sys.stdin
    out = out or sys.stdout
    channel = ConsoleChannel(out=out, downloads_dir=runtime.settings.downloads_dir)
    out.write(HELP + "\n")
    counter = 0
    tasks: set[asyncio.Task[None]] = set()
    while True:
        line = await asyncio.to_thread(stdin.readline)
        if not line:
            break
        if line.strip() in {"/quit", "/exit"}:
            break
        if not line.strip():
            continue
        counter += 1
        msg = parse_line(line, counter=counter, chat_id=chat_id)
        task = asyncio.create_task(runtime.engine.handle(msg, channel))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*tasks)


class ConsoleAdapter:
    """The terminal as an :class:`bot.adapter.Adapter`: the chat runs until EOF or ``/quit``.

    Args:
        runtime: The running core.
        stdin: Input stream (default ``sys.stdin``).
        out: Output stream (default ``sys.stdout``).
    """

    platform = PLATFORM

    def __init__(self, runtime: Runtime, *, stdin: TextIO | None = None, out: TextIO | None = None) -> None:
        self.runtime = runtime
        self.stdin = stdin
        self.out = out

    async def start(self) -> None:
        """Nothing to connect."""

    async def stop(self) -> None:
        """Nothing to disconnect."""

    async def wait_closed(self) -> None:
        """The interactive chat; returns at EOF or ``/quit``."""
        await run_chat(self.runtime, stdin=self.stdin, out=self.out)

    async def channel_for(self, key: ConversationKey) -> ConsoleChannel | None:
        """This terminal, for the console's own conversations."""
        if key.platform != PLATFORM:
            return None
        return ConsoleChannel(out=self.out or sys.stdout, downloads_dir=self.runtime.settings.downloads_dir)

    def channel(self, **kwargs: Any) -> ConsoleChannel:
        """A :class:`ConsoleChannel` (used by the demo)."""
        return ConsoleChannel(**kwargs)

    def message(self, line: str, **kwargs: Any) -> IncomingMessage:
        """Parse a typed line (used by the demo)."""
        return parse_line(line, **kwargs)


class ConsoleAdapterFactory:
    """The ``console`` entry point of the ``nemobot.adapters`` group."""

    name = PLATFORM

    def enabled(self, settings: Settings) -> bool:
        """The terminal adapter is started explicitly (``nemobot chat``), never by ``nemobot run``."""
        return False

    def prepare(self, settings: Settings) -> None:
        """Nothing process-wide."""

    async def check(self, settings: Settings) -> str:
        """The terminal needs nothing."""
        return "the terminal"

    def create(self, runtime: Runtime) -> ConsoleAdapter:
        """The terminal adapter on stdin/stdout."""
        return ConsoleAdapter(runtime)


__all__ = [
    "Button",
    "ConsoleAdapter",
    "ConsoleAdapterFactory",
    "ConsoleChannel",
    "attachment_for",
    "parse_line",
    "run_chat",
]
