"""bot.errors.error_reply: every failure becomes one catalog sentence, never the backend's text."""

from __future__ import annotations

import pytest

from bot.boundary import ChannelError
from bot.errors import AgentFailed, AgentTimedOut, AttachmentsUnreadable, FilesRejected, RenderTimedOut, error_reply
from bot.nemo import errors as ne
from bot.texts import t

SECRET = "internal: ffmpeg exited 1 at /srv/render/worker-7 (token nmv_usr_abc)"


class Links:
    def __init__(self, anonymous: bool) -> None:
        self.is_anonymous = anonymous
        self.web_url = "https://nemovideo.com"

    def registration_link(self) -> str:
        return "https://nemovideo.com/register?bind=anon_1"


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize(
    ("exc", "key"),
    [
        (ne.NemoRateLimited(SECRET), "rate_limited"),
        (ne.NemoAuthError(SECRET), "auth_failed"),
        (ne.NemoConnectionError(SECRET), "backend_down"),
        (ne.NemoStreamDropped(SECRET), "backend_down"),
        (ne.NemoTimeoutError(SECRET), "backend_down"),
        (ne.NemoFileTooLarge(SECRET), "backend_too_large"),
        (ne.NemoRenderFailed(SECRET), "render_failed"),
        (ne.NemoSessionNotFound(SECRET), "session_lost"),
        (ne.NemoServerError(SECRET, status=500), "backend_error"),
        (ne.NemoBadRequest(SECRET, status=400), "backend_error"),
        (AgentTimedOut(), "agent_timeout"),
        (AgentFailed(SECRET), "agent_failed"),
        (RenderTimedOut(), "render_timeout"),
        (RuntimeError(SECRET), "internal_error"),
    ],
)
def test_each_failure_has_its_sentence_without_the_backend_text(exc, key, lang):
    text = error_reply(exc, lang, links=Links(anonymous=False))
    assert text == t(key, lang)
    assert SECRET not in text and "ffmpeg" not in text and "nmv_usr" not in text


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_sentences_that_name_files_and_links(lang):
    assert "clip.mov" in error_reply(FilesRejected("clip.mov"), lang)
    assert "clip.mp4" in error_reply(AttachmentsUnreadable("clip.mp4"), lang)
    assert "the file" in error_reply(ne.NemoUnsupportedFile(SECRET), "en")
    anon = error_reply(ne.NemoOutOfCredits(SECRET), lang, links=Links(anonymous=True))
    assert anon == t("out_of_credits_anon", lang, url="https://nemovideo.com/register?bind=anon_1")
    paid = error_reply(ne.NemoOutOfCredits(SECRET), lang, links=Links(anonymous=False))
    assert paid == t("out_of_credits", lang, url="https://nemovideo.com")
    assert "register?bind=" not in paid  # a bind link is only offered to an anonymous identity
    assert "register?bind=" in error_reply(ne.NemoPaymentRequired(SECRET), lang, links=Links(anonymous=True))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_shared_identity_never_shows_its_bind_link(lang):
    for exc in (ne.NemoOutOfCredits(SECRET), ne.NemoPaymentRequired(SECRET)):
        text = error_reply(exc, lang, links=None)
        assert text in {t("out_of_credits_shared", lang), t("free_plan_shared", lang)}
        assert "bind=" not in text and "nemovideo.com" not in text


def test_a_failing_chat_gets_no_sentence():
    assert error_reply(ChannelError("sendMessage failed: HTTP 403"), "en") is None
