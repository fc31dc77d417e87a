"""Files kept for a retention time under ids the service made: id checks and sweeping."""

from __future__ import annotations

import re
import time
from pathlib import Path

_ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")


def checked_id(value: str) -> str:
    """`value` if it is a 32-hex-digit id the service could have made; KeyError otherwise.

    Ids name files, so this also keeps every lookup inside its folder.
    """
    if not _ID_PATTERN.fullmatch(value):
        raise KeyError(value)
    return value


def sweep(
    directory: Path, pattern: str, retention_s: float, now: float | None = None, keep: set[str] | None = None
) -> int:
    """Delete files matching `pattern` last written before the retention time; returns the count."""
    cutoff = (now or time.time()) - retention_s
    removed = 0
    for path in directory.glob(pattern):
        if keep and path.stem in keep:
            continue
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed
