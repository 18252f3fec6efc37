"""Links people paste: found in a message's text, uploaded by NemoVideo (endpoint 6).

Pure text work shared by the adapters; what may be fetched is :func:`bot.outbound.check_link`.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from bot.boundary import Attachment
from bot.cleaning import clean_filename
from bot.uploads import ACCEPTED_EXTENSIONS

_URL = re.compile(r"\b[a-z][a-z0-9+.\-]{1,15}://[^\s<>\"']*", re.I)
"""Any ``scheme://`` link: those that are not http(s) are found too, so they are refused
clearly (:func:`bot.outbound.check_link`) instead of reaching the agent as text."""


def _links(text: str) -> list[tuple[int, int, str, str]]:
    """``(start, end, url, filename)`` of each media link in ``text``: any scheme, a path ending
    in an accepted extension (judged on the cleaned file name, the one that is uploaded)."""
    found: list[tuple[int, int, str, str]] = []
    for match in _URL.finditer(text):
        url = match.group().rstrip(".,;:!?)]}>")
        try:
            path = urlsplit(url).path
        except ValueError:  # e.g. an unbalanced IPv6 bracket
            continue
        name = clean_filename(PurePosixPath(unquote(path)).name)
        if PurePosixPath(name).suffix.lower().lstrip(".") in ACCEPTED_EXTENSIONS:
            found.append((match.start(), match.start() + len(url), url, name))
    return found


def media_links(text: str) -> list[tuple[str, str]]:
    """``(url, filename)`` for each link in ``text`` whose path ends in a media extension (any scheme)."""
    return [(url, name) for _, _, url, name in _links(text)]


def pasted(text: str) -> tuple[str, tuple[Attachment, ...]]:
    """The request left in ``text`` and an attachment per media link in it (``pasted=True``).

    Only the links themselves are taken out (by position): the same URL inside a longer
    word or link stays.
    """
    links = _links(text)
    if not links:
        return text, ()
    parts, last = [], 0
    for start, end, _, _ in links:
        parts.append(text[last:start])
        last = end
    parts.append(text[last:])
    rest = re.sub(r"\s{2,}", " ", " ".join(parts)).strip()
    return rest, tuple(Attachment(filename=name, public_url=url, pasted=True) for _, _, url, name in links)
