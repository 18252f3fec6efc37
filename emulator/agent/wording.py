"""The agent's phrasing: English or Chinese, and the web-editor GUI sentences (contract section 6)."""

from __future__ import annotations

from typing import Any

from emulator.agent.intent import Intent

__all__ = ["GUI_EXPORT_EN", "GUI_EXPORT_ZH", "fmt_rows", "say", "secs", "when_en", "when_zh"]

GUI_EXPORT_EN = "You can preview it in the timeline, then click the Export button to download."
GUI_EXPORT_ZH = "您可以在时间线中预览，然后点击导出按钮下载。"


def say(intent: Intent, en: str, zh: str) -> str:
    """``zh`` for a Chinese message (:attr:`Intent.lang` ``"zh"``), else ``en``."""
    return zh if intent.lang == "zh" else en


def fmt_rows(rows: list[dict[str, Any]], limit: int = 5) -> str:
    """Leaderboard rows as ``"1. name (12.3), 2. ..."`` (the first ``limit`` rows)."""
    return ", ".join(f"{r['rank']}. {r['name']} ({r['score']:.1f})" for r in rows[:limit])


def secs(ms: int | float) -> str:
    """Milliseconds as seconds for people: 3000 -> ``3``, 2500 -> ``2.5``."""
    s = round(ms / 1000, 1)
    return str(int(s)) if s == int(s) else f"{s:g}"


def _clock(ms: int) -> str:
    s = round(ms / 1000)
    return f"{s // 60}:{s % 60:02d}"


def when_en(seg: dict[str, Any]) -> str:
    """When a text segment is on screen: ``for the first 3 seconds``, ``for the last 2
    seconds``, ``from 0:05 for 3 seconds``."""
    d = secs(int(seg["d"]))
    unit = "second" if d == "1" else "seconds"
    if seg.get("anchor") == "end":
        return f"for the last {d} {unit}"
    if int(seg["st"]) == 0:
        return f"for the first {d} {unit}"
    return f"from {_clock(int(seg['st']))} for {d} {unit}"


def when_zh(seg: dict[str, Any]) -> str:
    """:func:`when_en` in Chinese: ``显示前 3 秒``, ``显示最后 2 秒``, ``从第 5 秒起显示 3 秒``."""
    d = secs(int(seg["d"]))
    if seg.get("anchor") == "end":
        return f"显示最后 {d} 秒"
    if int(seg["st"]) == 0:
        return f"显示前 {d} 秒"
    return f"从第 {secs(int(seg['st']))} 秒起显示 {d} 秒"
