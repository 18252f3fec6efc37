"""The one error boundary: every failure the user should hear about becomes one sentence here.

Design habit 6 (aiogram's ``ErrorsMiddleware``, PTB's error handlers): code below the
engine raises; :func:`error_reply` turns the exception into the user's sentence in their
language, from the message catalog. Backend free text (``NemoError.message``, a render's
error, ffmpeg output) is logged by the caller and never put in a reply.

:class:`BotError` subclasses carry the facts a sentence needs (file names, where the
failure happened) so that handlers raise instead of writing replies of their own.
"""

from __future__ import annotations

from typing import Protocol

from bot.boundary import ChannelError
from bot.nemo.errors import (
    NemoAuthError,
    NemoConnectionError,
    NemoError,
    NemoFileTooLarge,
    NemoIdentityUnavailable,
    NemoOutOfCredits,
    NemoPaymentRequired,
    NemoRateLimited,
    NemoRenderFailed,
    NemoSessionNotFound,
    NemoTimeoutError,
    NemoUnsupportedFile,
)
from bot.texts import FORMATS_LINE, t


class AccountLinks(Protocol):
    """Where a user can register or top up (the NemoVideo client answers these)."""

    @property
    def is_anonymous(self) -> bool:
        """True when the identity is an anonymous token (contract section 2)."""

    @property
    def web_url(self) -> str:
        """The NemoVideo web app base URL."""

    def registration_link(self) -> str:
        """The ``/register?bind=...`` link of the anonymous identity."""


class BotError(Exception):
    """A failure of nemobot's own, with what its sentence needs (never shown verbatim)."""


class AttachmentsUnreadable(BotError):
    """The chat platform would not give us the bytes of some attachments.

    Attributes:
        names: The file names, comma-separated.
    """

    def __init__(self, names: str) -> None:
        super().__init__(f"could not read {names} from the chat")
        self.names = names


class FilesRejected(BotError):
    """NemoVideo refused uploaded files as unsupported or invalid media (contract section 8).

    Attributes:
        names: The file names, comma-separated.
    """

    def __init__(self, names: str) -> None:
        super().__init__(f"NemoVideo refused {names}")
        self.names = names


class LinkUnreachable(BotError):
    """NemoVideo could not fetch the links someone pasted (endpoint 6); its reason is only logged.

    Attributes:
        names: The file names of the links, comma-separated.
    """

    def __init__(self, names: str) -> None:
        super().__init__(f"NemoVideo could not fetch {names}")
        self.names = names


class AgentTimedOut(BotError):
    """An agent run sent only heartbeats past the idle limit (contract section 3)."""


class AgentFailed(BotError):
    """An agent run ended with an error event and no answer (contract section 3)."""


class RenderTimedOut(BotError):
    """A render was not done within ``RENDER_TIMEOUT_S`` (contract section 5)."""


def error_reply(exc: BaseException, lang: str, *, links: AccountLinks | None = None) -> str | None:
    """The user's sentence for ``exc``, or ``None`` when nothing should be said.

    Args:
        exc: What went wrong: a :class:`NemoError`, a :class:`BotError`, a
            :class:`ChannelError` (the chat itself failed: nothing can be said there, so
            ``None``), or anything else (an internal error: a plain apology).
        lang: ``en`` or ``zh``.
        links: Registration and top-up links of the identity that asked (a person's own);
            ``None`` for the install's shared identity, whose bind link is never shown.

    Returns:
        One sentence from the message catalog. It never contains the exception's text.
    """
    if isinstance(exc, ChannelError):
        return None
    if isinstance(exc, BotError):
        return _bot_error_reply(exc, lang)
    if isinstance(exc, NemoError):
        return _nemo_error_reply(exc, lang, links)
    return t("internal_error", lang)


def _bot_error_reply(exc: BotError, lang: str) -> str:
    if isinstance(exc, AttachmentsUnreadable):
        return t("fetch_failed", lang, names=exc.names)
    if isinstance(exc, FilesRejected):
        return t("backend_unsupported", lang, names=exc.names, formats=FORMATS_LINE)
    if isinstance(exc, LinkUnreachable):
        return t("link_unreachable", lang, names=exc.names)
    if isinstance(exc, AgentTimedOut):
        return t("agent_timeout", lang)
    if isinstance(exc, AgentFailed):
        return t("agent_failed", lang)
    if isinstance(exc, RenderTimedOut):
        return t("render_timeout", lang)
    return t("internal_error", lang)


def _nemo_error_reply(exc: NemoError, lang: str, links: AccountLinks | None) -> str:
    if isinstance(exc, NemoOutOfCredits):
        if links is None:  # the install's identity: its bind link is never shown to chat users
            return t("out_of_credits_shared", lang)
        if links.is_anonymous:
            return t("out_of_credits_anon", lang, url=links.registration_link())
        return t("out_of_credits", lang, url=links.web_url)
    if isinstance(exc, NemoPaymentRequired):
        if links is None:
            return t("free_plan_shared", lang)
        return t("free_plan", lang, url=links.registration_link() if links.is_anonymous else links.web_url)
    if isinstance(exc, NemoIdentityUnavailable):
        return t("identity_unavailable", lang)
    if isinstance(exc, NemoRenderFailed):
        return t("render_failed", lang)
    if isinstance(exc, NemoSessionNotFound):
        return t("session_lost", lang)
    if isinstance(exc, NemoRateLimited):
        return t("rate_limited", lang)
    if isinstance(exc, NemoAuthError):
        return t("auth_failed", lang)
    if isinstance(exc, NemoConnectionError | NemoTimeoutError):
        return t("backend_down", lang)
    if isinstance(exc, NemoUnsupportedFile):
        return t("backend_unsupported", lang, names=t("the_file", lang), formats=FORMATS_LINE)
    if isinstance(exc, NemoFileTooLarge):
        return t("backend_too_large", lang)
    return t("backend_error", lang)
