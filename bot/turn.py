"""One message being handled, and how the engine writes to a channel."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from bot.boundary import Button, ChannelError, IncomingMessage, Reply, ReplyChannel, Scope, SentRef
from bot.nemo.client import NemoClient
from bot.nemo.models import Attribution
from bot.profiles import SkillProfile, get_profile
from bot.texts import t
from store.base import Conversation


@dataclass
class Turn:
    """Everything one message's handling needs.

    Attributes:
        msg: The message.
        channel: Where to answer.
        conv: The conversation record (refreshed as handlers change it).
        lang: ``en`` or ``zh``.
        client: The NemoVideo client bound to the identity this message acts under.
        person: The person who sent it (``None`` for work resumed without a sender).
    """

    msg: IncomingMessage
    channel: ReplyChannel
    conv: Conversation
    lang: str
    client: NemoClient
    person: str | None = None

    @property
    def profile(self) -> SkillProfile:
        return get_profile(self.conv.skill)

    @property
    def example(self) -> str:
        """The profile's first "try saying" example, in the user's language."""
        return self.profile.examples_in(self.lang)[0]

    @property
    def attribution(self) -> Attribution:
        return Attribution(self.profile.name, self.profile.version, self.msg.conversation.platform)


async def say(channel: ReplyChannel, text: str, *, buttons: tuple[Button, ...] = ()) -> SentRef | None:
    """Send ``text``, split at the channel's message limit on line breaks; buttons on the last part.

    Chat failures are swallowed (logged by the adapter): a reply that cannot be posted must
    not break the conversation.
    """
    chunks = split_message(text, channel.limits.max_message_chars)
    ref: SentRef | None = None
    for i, chunk in enumerate(chunks):
        with contextlib.suppress(ChannelError):
            ref = await channel.send(Reply(chunk, buttons=buttons if i == len(chunks) - 1 else ()))
    return ref


async def say_private(turn: Turn, text: str, *, secret: bool = True) -> None:
    """Send ``text`` to the sender only: as it is in a private chat; in a shared chat through
    the channel's private route (an ephemeral reply or a direct message).

    When the platform cannot reach the sender privately, a ``secret`` text (a link, a code, a
    balance) is replaced by a line asking them to open a private chat; other texts (a
    refusal) are said in the chat instead.
    """
    if turn.msg.scope is Scope.PRIVATE:
        await say(turn.channel, text)
        return
    try:
        await turn.channel.send_private(Reply(text[: turn.channel.limits.max_message_chars]))
    except ChannelError:
        await say(turn.channel, t("private_unreachable", turn.lang) if secret else text)


def split_message(text: str, limit: int) -> list[str]:
    """Split ``text`` into parts of at most ``limit`` characters, preferring line breaks.

    Args:
        text: The message.
        limit: The platform limit (Telegram 4096, Discord 2000 characters).

    Returns:
        One or more non-empty parts (``[""]`` never: an empty text gives ``["…"]``).
    """
    text = text.strip() or "…"
    parts: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        if cut < limit // 2:
            cut = text.rfind(" ", 0, limit)
        if cut < limit // 2:
            cut = limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    parts.append(text)
    return [p for p in parts if p]
