"""The display name of an uploaded file: what the client called it, made safe to echo back."""

from __future__ import annotations

import unicodedata

MAX_NAME_CHARS = 120
FALLBACK_NAME = "upload"
# control, format (bidi overrides, zero-width), line/paragraph separators, surrogates, unassigned
_DROPPED_CATEGORIES = {"Cc", "Cf", "Cs", "Cn", "Zl", "Zp"}
_DROPPED_CHARS = set('<>"')  # never part of a sane file name; nothing downstream can take them for markup


def display_name(raw: str, limit: int = MAX_NAME_CHARS) -> str:
    """The last path component of `raw` without control/format characters, at most `limit` characters.

    A name too long keeps its extension; a name with nothing left is FALLBACK_NAME.
    """
    base = raw.replace("\\", "/").rsplit("/", 1)[-1]
    kept = "".join(
        ch for ch in base if unicodedata.category(ch) not in _DROPPED_CATEGORIES and ch not in _DROPPED_CHARS
    )
    name = " ".join(kept.split())  # runs of blanks become one space (tabs are control characters: gone)
    if name.strip(".") == "":
        return FALLBACK_NAME
    if len(name) <= limit:
        return name
    stem, dot, ext = name.rpartition(".")
    if dot and stem and 0 < len(ext) <= 10:
        return f"{stem[: limit - len(ext) - 1]}.{ext}"
    return name[:limit]
