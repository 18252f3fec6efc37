"""Discord :class:`ReplyChannel` implementations: a channel/thread/DM, and an interaction.

Every message goes out with ``AllowedMentions.none()``: text echoed from users or the
backend never pings anyone. Edits are paced per channel (:class:`adapters.pacing.EditPacer`);
429s are discord.py's own business (it reads the rate-limit headers and waits).

An interaction is answered by editing its deferred original response; more messages go
out as follow-ups. The interaction token lives 15 minutes (design notes, platform facts):
after that, or when Discord says the webhook token is invalid, the conversation continues
with normal channel messages.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import discord

from adapters.discord.converters import MESSAGE_LIMIT
from adapters.pacing import EditPacer
from bot.boundary import Button, ChannelError, ChannelLimits, OutgoingPhoto, OutgoingVideo, Reply, SentRef

log = logging.getLogger(__name__)

DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024
"""Bot uploads without a boost (design notes: 10 MiB; DMs too)."""
INTERACTION_TOKEN_LIFETIME_S = 15 * 60
TOKEN_MARGIN_S = 30
NO_MENTIONS = discord.AllowedMentions.none()

ViewFactory = Callable[[tuple[Button, ...], str], discord.ui.View | None]


@dataclass(frozen=True, slots=True)
class MessageRef:
    """What a Discord :class:`SentRef` points at, parsed once.

    String forms: ``<id>`` a channel message; ``c:<id>`` a channel message sent for an
    interaction whose token had expired; ``orig:<id>`` an interaction's original response;
    ``f:<id>`` an interaction follow-up. Every form carries the message id, so a plain
    channel can still reach the message after a restart (when Discord lets it).

    Attributes:
        kind: ``channel``, ``original`` or ``followup``.
        message_id: The Discord message id.
    """

    kind: Literal["channel", "original", "followup"]
    message_id: int

    @classmethod
    def parse(cls, ref: SentRef) -> MessageRef:
        """Read a ref written by this adapter.

        Raises:
            ChannelError: Not a Discord message reference (a ref of another platform, or
                of an older version of this adapter).
        """
        prefix, sep, rest = ref.id.partition(":")
        kinds: dict[str, Literal["channel", "original", "followup"]] = {
            "c": "channel",
            "orig": "original",
            "f": "followup",
        }
        if not sep and prefix.isdigit():
            return cls("channel", int(prefix))
        if sep and prefix in kinds and rest.isdigit():
            return cls(kinds[prefix], int(rest))
        raise ChannelError(f"not a Discord message reference: {ref.id[:40]!r}")

    def ref(self) -> SentRef:
        """The storable :class:`SentRef`."""
        prefix = {"channel": "c:", "original": "orig:", "followup": "f:"}[self.kind]
        return SentRef(f"{prefix}{self.message_id}")


def _error(action: str, exc: discord.HTTPException) -> ChannelError:
    return ChannelError(f"{action} failed: HTTP {exc.status} (code {exc.code})")


class DiscordChannel:
    """Replies into a text channel, thread or DM.

    Args:
        target: The discord.py messageable (``TextChannel``, ``Thread``, ``DMChannel``).
        pacer: The adapter's shared edit pacer.
        view_factory: Builds the quick-action view for a reply's buttons.
        upload_limit: Largest file in bytes (``Guild.filesize_limit``; 10 MiB in DMs).
        lang: ``en`` or ``zh`` for button labels.
        private_to: The person being answered (a discord.py ``User``/``Member``): private
            messages go to their DMs.
    """

    def __init__(
        self,
        target: Any,
        pacer: EditPacer,
        view_factory: ViewFactory,
        *,
        upload_limit: int = DEFAULT_UPLOAD_LIMIT,
        lang: str = "en",
        private_to: Any = None,
    ) -> None:
        self.target = target
        self.private_to = private_to
        self.pacer = pacer
        self.view_factory = view_factory
        self.lang = lang
        self.limits = ChannelLimits(
            max_message_chars=MESSAGE_LIMIT,
            max_upload_bytes=upload_limit,
            max_caption_chars=MESSAGE_LIMIT,
            can_edit=True,
        )

    def _view_kwargs(self, reply: Reply) -> dict[str, Any]:
        view = self.view_factory(reply.buttons, self.lang)
        return {"view": view} if view is not None else {}

    async def send(self, reply: Reply) -> SentRef:
        try:
            message = await self.target.send(
                reply.text[:MESSAGE_LIMIT], allowed_mentions=NO_MENTIONS, **self._view_kwargs(reply)
            )
        except discord.HTTPException as exc:
            raise _error("send", exc) from None
        return SentRef(str(message.id))

    async def edit(self, ref: SentRef, reply: Reply) -> None:
        """Edit a message by any of this adapter's refs (paced).

        Raises:
            ChannelError: An unknown ref, or the edit failed.
        """
        message_id = MessageRef.parse(ref).message_id
        partial = self.target.get_partial_message(message_id)
        kwargs = self._view_kwargs(reply) or {"view": None}

        async def do_edit() -> None:
            try:
                await partial.edit(content=reply.text[:MESSAGE_LIMIT], allowed_mentions=NO_MENTIONS, **kwargs)
            except discord.HTTPException as exc:
                raise _error("edit", exc) from None

        await self.pacer.edit(self.target.id, message_id, do_edit, final=reply.final)

    async def send_private(self, reply: Reply) -> SentRef:
        """A direct message to the person being answered (``private_to``).

        Raises:
            ChannelError: No person, or Discord refused (their DMs are closed to the bot).
        """
        if self.private_to is None:
            raise ChannelError("no one to message privately")
        try:
            message = await self.private_to.send(reply.text[:MESSAGE_LIMIT], allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as exc:
            raise _error("direct message", exc) from None
        return SentRef(str(message.id))

    async def send_file(self, video: OutgoingVideo, *, caption: str = "") -> SentRef:
        try:
            message = await self.target.send(
                caption[:MESSAGE_LIMIT] or None,
                file=discord.File(video.path, filename=video.name),
                allowed_mentions=NO_MENTIONS,
            )
        except discord.HTTPException as exc:
            raise _error("file upload", exc) from None
        return SentRef(str(message.id))

    async def send_photo(self, photo: OutgoingPhoto, *, caption: str = "", buttons: tuple[Button, ...] = ()) -> SentRef:
        """The caption as the message, the picture attached and shown as its embed image, buttons under it.

        Raises:
            ChannelError: Discord refused or could not be reached.
        """
        try:
            message = await self.target.send(
                caption[:MESSAGE_LIMIT] or None,
                allowed_mentions=NO_MENTIONS,
                **photo_kwargs(photo),
                **self._view_kwargs(Reply(caption, buttons=buttons)),
            )
        except discord.HTTPException as exc:
            raise _error("picture upload", exc) from None
        return SentRef(str(message.id))


class InteractionChannel:
    """Replies to a (deferred) application command interaction.

    Refs are :class:`MessageRef` strings: the original response, follow-ups, and channel
    messages used once the interaction token has expired.

    Args:
        interaction: The interaction, already deferred.
        fallback: Where to continue when the interaction token is gone.
        pacer: The adapter's shared edit pacer.
        view_factory: Builds the quick-action view.
        lang: ``en`` or ``zh``.
        clock: Wall clock in seconds (tests move it forward).
    """

    def __init__(
        self,
        interaction: discord.Interaction,
        fallback: DiscordChannel,
        pacer: EditPacer,
        view_factory: ViewFactory,
        *,
        lang: str = "en",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.interaction = interaction
        self.fallback = fallback
        self.pacer = pacer
        self.view_factory = view_factory
        self.lang = lang
        self.clock = clock
        self._original_used = False
        self._expired = False
        self._moved: dict[str, SentRef] = {}
        limit = getattr(interaction, "filesize_limit", None) or fallback.limits.max_upload_bytes
        self.limits = ChannelLimits(
            max_message_chars=MESSAGE_LIMIT, max_upload_bytes=limit, max_caption_chars=MESSAGE_LIMIT, can_edit=True
        )

    @property
    def token_alive(self) -> bool:
        """False once the 15-minute interaction token is (nearly) over or was refused."""
        age = self.clock() - self.interaction.created_at.timestamp()
        return not self._expired and age < INTERACTION_TOKEN_LIFETIME_S - TOKEN_MARGIN_S

    def _expire(self, exc: discord.HTTPException | None = None) -> None:
        if not self._expired:
            log.info(
                "interaction %s token expired%s; continuing in the channel",
                self.interaction.id,
                f" (HTTP {exc.status})" if exc else "",
            )
        self._expired = True

    def _kwargs(self, reply: Reply) -> dict[str, Any]:
        view = self.view_factory(reply.buttons, self.lang)
        return {"view": view} if view is not None else {}

    async def send(self, reply: Reply) -> SentRef:
        if self.token_alive:
            try:
                if not self._original_used:
                    self._original_used = True
                    original = await self.interaction.edit_original_response(
                        content=reply.text[:MESSAGE_LIMIT], allowed_mentions=NO_MENTIONS, **self._kwargs(reply)
                    )
                    return MessageRef("original", original.id).ref()
                message = await self.interaction.followup.send(
                    reply.text[:MESSAGE_LIMIT], wait=True, allowed_mentions=NO_MENTIONS, **self._kwargs(reply)
                )
                return MessageRef("followup", message.id).ref()
            except discord.HTTPException as exc:
                if exc.status not in (401, 404):
                    raise _error("interaction reply", exc) from None
                self._expire(exc)
        else:
            self._expire()
        ref = await self.fallback.send(reply)
        return MessageRef("channel", MessageRef.parse(ref).message_id).ref()

    async def edit(self, ref: SentRef, reply: Reply) -> None:
        """Edit the original response, a follow-up, or a channel message (paced).

        Raises:
            ChannelError: An unknown ref, or the edit failed.
        """
        if ref.id in self._moved:
            await self.fallback.edit(self._moved[ref.id], reply)
            return
        target = MessageRef.parse(ref)
        if target.kind == "channel":
            await self.fallback.edit(ref, reply)
            return
        if not self.token_alive:
            self._expire()
            moved = await self.fallback.send(reply)
            self._moved[ref.id] = moved
            return
        kwargs = self._kwargs(reply) or {"view": None}

        async def do_edit() -> None:
            try:
                if target.kind == "original":
                    await self.interaction.edit_original_response(
                        content=reply.text[:MESSAGE_LIMIT], allowed_mentions=NO_MENTIONS, **kwargs
                    )
                else:
                    await self.interaction.followup.edit_message(
                        target.message_id, content=reply.text[:MESSAGE_LIMIT], allowed_mentions=NO_MENTIONS, **kwargs
                    )
            except discord.HTTPException as exc:
                if exc.status not in (401, 404):
                    raise _error("interaction edit", exc) from None
                self._expire(exc)
                self._moved[ref.id] = await self.fallback.send(reply)

        await self.pacer.edit(self.fallback.target.id, ref.id, do_edit, final=reply.final)

    async def send_private(self, reply: Reply) -> SentRef:
        """An ephemeral follow-up only the person who ran the command sees.

        Raises:
            ChannelError: The interaction token has expired, or Discord refused.
        """
        if not self.token_alive:
            raise ChannelError("the interaction token has expired")
        try:
            if not self._original_used:
                # the deferred "thinking..." answer is public: remove it, so only the ephemeral stays
                self._original_used = True
                await self.interaction.delete_original_response()
            message = await self.interaction.followup.send(
                reply.text[:MESSAGE_LIMIT], ephemeral=True, wait=True, allowed_mentions=NO_MENTIONS
            )
        except discord.HTTPException as exc:
            raise _error("ephemeral follow-up", exc) from None
        return MessageRef("followup", message.id).ref()

    async def send_file(self, video: OutgoingVideo, *, caption: str = "") -> SentRef:
        if self.token_alive:
            try:
                message = await self.interaction.followup.send(
                    caption[:MESSAGE_LIMIT] or discord.utils.MISSING,
                    file=discord.File(video.path, filename=video.name),
                    wait=True,
                    allowed_mentions=NO_MENTIONS,
                )
                return MessageRef("followup", message.id).ref()
            except discord.HTTPException as exc:
                if exc.status not in (401, 404):
                    raise _error("interaction file upload", exc) from None
                self._expire(exc)
        ref = await self.fallback.send_file(video, caption=caption)
        return MessageRef("channel", MessageRef.parse(ref).message_id).ref()

    async def send_photo(self, photo: OutgoingPhoto, *, caption: str = "", buttons: tuple[Button, ...] = ()) -> SentRef:
        if self.token_alive:
            try:
                message = await self.interaction.followup.send(
                    caption[:MESSAGE_LIMIT] or discord.utils.MISSING,
                    wait=True,
                    allowed_mentions=NO_MENTIONS,
                    **photo_kwargs(photo),
                    **self._kwargs(Reply(caption, buttons=buttons)),
                )
                return MessageRef("followup", message.id).ref()
            except discord.HTTPException as exc:
                if exc.status not in (401, 404):
                    raise _error("interaction picture upload", exc) from None
                self._expire(exc)
        ref = await self.fallback.send_photo(photo, caption=caption, buttons=buttons)
        return MessageRef("channel", MessageRef.parse(ref).message_id).ref()


def photo_kwargs(photo: OutgoingPhoto) -> dict[str, Any]:
    """``file`` and ``embed`` of a message showing ``photo`` as its embed image (``attachment://``)."""
    embed = discord.Embed().set_image(url=f"attachment://{photo.name}")
    return {"file": discord.File(io.BytesIO(photo.data), filename=photo.name), "embed": embed}
