"""The agent's phrasing: English or Chinese, and the web-editor GUI sentences (contract section 6)."""

from __future__ import annotations

from typing import Any

from emulator.agent.intent import Intent

__all__ = ["GUI_EXPORT_EN", "GUI_EXPORT_ZH", "fmt_rows", "say"]

GUI_EXPORT_EN = "You can preview it in the timeline, then click the Export button to download."
GUI_EXPORT_ZH = "您可以在时间线中预览，然后点击导出按钮下载。"


def say(intent: Intent, en: str, zh: str) -> str:
    """``zh`` for a Chinese message (:attr:`Intent.lang` ``"zh"``), else ``en``."""
    return zh if intent.lang == "zh" else en


def fmt_rows(rows: list[dict[str, Any]], limit: int = 5) -> str:
    """Leaderboard rows as ``"1. name (12.3), 2. ..."`` (the first ``limit`` rows)."""
    return ", ".join(f"{r['rank']}. {r['name']} ({r['score']:.1f})" for r in rows[:limit])
