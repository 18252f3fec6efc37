"""Links people paste: found in a message's text, uploaded by NemoVideo (endpoint 6).

Pure text work shared by the adapters; what may be fetched is :func:`bot.outbound.check_link`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from bot.boundary import Attachment
from bot.uploads import ACCEPTED_EXTENSIONS

_URL = re.compile(r"\b[a-z][a-z0-9+.\-]{1,15}://[^\s<>\"']*", re.I)
"""Any ``scheme://`` link: those that are not http(s) are found too, so they are refused
clearly (:func:`bot.outbound.check_link`) instead of reaching the agent as text."""


def media_links(text: str) -> list[tuple[str, str]]:
    """``(url, filename)`` for each link in ``text`` whose path ends in a media extension (any scheme)."""
    found: list[tuple[str, str]] = []
    for raw in _URL.findall(text):
        url = raw.rstrip(".,;:!?)]}>")
        try:
            path = urlsplit(url).path
        except ValueError:  # e.g. an unbalanced IPv6 bracket
            continue
        name = PurePosixPath(unquote(path)).name
        if PurePosixPath(name).suffix.lower().lstrip(".") in ACCEPTED_EXTENSIONS:
            found.append((url, name))
    return found


def strip_links(text: str, links: Sequence[tuple[str, str]]) -> str:
    """``text`` without the given links (what is left is the request for the agent)."""
    for url, _ in links:
        text = text.replace(url, " ")
    return re.sub(r"\s{2,}", " ", text).strip()


def pasted(text: str) -> tuple[str, tuple[Attachment, ...]]:
    """The request left in ``text`` and an attachment per media link in it (``pasted=True``)."""
    links = media_links(text)
    if not links:
        return text, ()
    return strip_links(text, links), tuple(
        Attachment(filename=name, public_url=url, pasted=True) for url, name in links
    )
