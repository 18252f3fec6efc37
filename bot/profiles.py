"""The five built-in skill profiles nemobot grew from.

Each NemoVideo skill is published with a name and version that travel in the attribution
headers ``X-Skill-Source`` / ``X-Skill-Version`` on every API call (contract section 1),
its "try saying" examples and tips.

The texts are in the message catalog (:mod:`bot.texts`), under ``profile.<name>.title``,
``.summary``, ``.example.N`` and ``.tip.N`` (N from 1). The plain fields hold the English;
``title_in(lang)``, ``summary_in(lang)``, ``examples_in(lang)`` and ``tips_in(lang)`` give a
user's language (English where a text has no translation).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.texts import messages


@dataclass(frozen=True, slots=True)
class SkillProfile:
    """One skill profile.

    Attributes:
        name: The skill name, sent as ``X-Skill-Source``.
        version: The skill version, sent as ``X-Skill-Version``.
        title: A short human title (English).
        summary: One sentence on what the profile is for (English).
        examples: "Try saying" prompts (English); the first is the demo's default prompt.
        tips: Short tips shown by ``/help`` (English).
        min_clips: Clips the main example needs (the ranking profile wants several).
    """

    name: str
    version: str
    title: str
    summary: str
    examples: tuple[str, ...]
    tips: tuple[str, ...]
    min_clips: int = 1

    def _text(self, field: str, lang: str, english: str) -> str:
        return messages(lang).get(f"profile.{self.name}.{field}", english)

    def title_in(self, lang: str) -> str:
        """:attr:`title` in ``lang`` (``en``, ``zh``)."""
        return self._text("title", lang, self.title)

    def summary_in(self, lang: str) -> str:
        """:attr:`summary` in ``lang``."""
        return self._text("summary", lang, self.summary)

    def examples_in(self, lang: str) -> tuple[str, ...]:
        """:attr:`examples` in ``lang``, in the same order (``examples_in(lang)[0]`` is the main one)."""
        return tuple(self._text(f"example.{i}", lang, text) for i, text in enumerate(self.examples, 1))

    def tips_in(self, lang: str) -> tuple[str, ...]:
        """:attr:`tips` in ``lang``."""
        return tuple(self._text(f"tip.{i}", lang, text) for i, text in enumerate(self.tips, 1))

    def bullets_in(self, lang: str) -> dict[str, str]:
        """``examples`` (quoted) and ``tips`` as bulleted lines in ``lang``, for ``/help`` and "Ready!"."""
        return {
            "examples": "\n".join(f'• "{e}"' for e in self.examples_in(lang)),
            "tips": "\n".join(f"• {tip}" for tip in self.tips_in(lang)),
        }


def _numbered(prefix: str) -> tuple[str, ...]:
    """``prefix.1``, ``prefix.2``... from the English catalog, up to the first missing one."""
    english = messages("en")
    found: list[str] = []
    while f"{prefix}.{len(found) + 1}" in english:
        found.append(english[f"{prefix}.{len(found) + 1}"])
    return tuple(found)


def _profile(name: str, version: str, *, min_clips: int = 1) -> SkillProfile:
    """A profile whose texts come from the (English) catalog."""
    english = messages("en")
    return SkillProfile(
        name=name,
        version=version,
        title=english[f"profile.{name}.title"],
        summary=english[f"profile.{name}.summary"],
        examples=_numbered(f"profile.{name}.example"),
        tips=_numbered(f"profile.{name}.tip"),
        min_clips=min_clips,
    )


PROFILES: dict[str, SkillProfile] = {
    p.name: p
    for p in (
        _profile("video-leaderboard", "1.0.0"),
        _profile("video-leaderboard-ai", "1.0.0", min_clips=2),
        _profile("ai-video-editor-gaming", "1.0.0"),
        _profile("what-is-video-clip-example", "1.0.0"),
        _profile("game-music", "1.0.0"),
    )
}

DEFAULT_PROFILE = "video-leaderboard"


def get_profile(name: str | None) -> SkillProfile:
    """The profile called ``name``, or the default one when ``name`` is unknown or ``None``."""
    return PROFILES.get(name or "", PROFILES[DEFAULT_PROFILE])
