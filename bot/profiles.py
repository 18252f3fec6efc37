"""The five built-in skill profiles nemobot grew from.

Each NemoVideo skill is published with a name and version that travel in the attribution
headers ``X-Skill-Source`` / ``X-Skill-Version`` on every API call (contract section 1),
its "try saying" examples and tips.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SkillProfile:
    """One skill profile.

    Attributes:
        name: The skill name, sent as ``X-Skill-Source``.
        version: The skill version, sent as ``X-Skill-Version``.
        title: A short human title.
        summary: One sentence on what the profile is for.
        examples: "Try saying" prompts; the first is the demo's default prompt.
        tips: Short tips shown by ``/help``.
        min_clips: Clips the main example needs (the ranking profile wants several).
    """

    name: str
    version: str
    title: str
    summary: str
    examples: tuple[str, ...]
    tips: tuple[str, ...]
    min_clips: int = 1


PROFILES: dict[str, SkillProfile] = {
    p.name: p
    for p in (
        SkillProfile(
            name="video-leaderboard",
            version="1.0.0",
            title="Video leaderboard",
            summary="Ranked leaderboard overlays on your gameplay or sports clips.",
            examples=(
                "add a ranked leaderboard overlay showing the top performers",
                "add title 'Final Standings'",
                "add epic background music",
            ),
            tips=(
                "Send the clip first, then describe the overlay.",
                "Put a title in quotes to use it verbatim.",
            ),
        ),
        SkillProfile(
            name="video-leaderboard-ai",
            version="1.0.0",
            title="AI clip ranking",
            summary="Send a batch of clips; the agent scores them by action and ranks them.",
            examples=(
                "rank my clips by action and add a leaderboard",
                "rank these clips and add title 'Top Plays'",
            ),
            tips=(
                "Send several clips in one message (up to 10) so they are ranked together.",
                "Scores come from the clips' motion and scene changes.",
            ),
            min_clips=2,
        ),
        SkillProfile(
            name="ai-video-editor-gaming",
            version="1.0.0",
            title="Gaming highlight reels",
            summary="Cuts the most intense moments into a highlight reel with transitions and music.",
            examples=(
                "make a highlight reel with transitions and music",
                "cut the best moments and add epic music",
            ),
            tips=(
                "Longer raw footage gives the agent more moments to choose from.",
                "Say the music mood you want: epic, chill or lo-fi.",
            ),
        ),
        SkillProfile(
            name="what-is-video-clip-example",
            version="1.0.0",
            title="Example clips",
            summary="Turns a clip into a short example clip with a title.",
            examples=(
                "make a short example clip with a title",
                "make a short clip with title 'My First Clip'",
            ),
            tips=("Example clips are at most 5 seconds long.",),
        ),
        SkillProfile(
            name="game-music",
            version="1.0.0",
            title="Game music",
            summary="Adds background music under your gameplay.",
            examples=(
                "add background music",
                "add epic background music",
                "remove the music",
            ),
            tips=("Music sits at 35% under the game sound; ask for a mood: epic, chill, lo-fi.",),
        ),
    )
}

DEFAULT_PROFILE = "video-leaderboard"


def get_profile(name: str | None) -> SkillProfile:
    """The profile called ``name``, or the default one when ``name`` is unknown or ``None``."""
    return PROFILES.get(name or "", PROFILES[DEFAULT_PROFILE])
