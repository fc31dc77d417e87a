"""Resume state on disk, so any process sharing ASR_DATA_DIR can take over a recording it never saw.

One small JSON file per recording, named by the resume token's SHA-256 (the token itself is never
stored): `<digest>.open.json` while the recording may still take audio, renamed to
`<digest>.done.json` once it has finished. The audio lives in the recording's spool, whose
writer lock (see spool.py) tells whether a live process still owns it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .results import ResultStore, token_digest
from .retention import sweep
from .spool import RecordingStore

log = logging.getLogger(__name__)

_DIGEST = re.compile(r"^[0-9a-f]{64}$")
INSTANCE = f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class HandoffState:
    """What another process needs to continue a recording: its id, options and where it stood."""

    digest: str
    session_id: str
    state: str  # "recording", "parked" (handed off at shutdown) or "done"
    options: dict[str, Any]
    updated_at: float  # wall clock, seconds
    instance: str  # the process that wrote it last, for people reading logs

    @property
    def done(self) -> bool:
        """Whether the recording has finished (with a stored result, or failed)."""
        return self.state == "done"


class HandoffStore:
    """The folder of resume states, shared by every process of a deployment."""

    def __init__(self, directory: Path, retention_s: float) -> None:
        self.directory = directory
        self.retention_s = retention_s
        directory.mkdir(parents=True, exist_ok=True)

    def _path(self, digest: str, done: bool) -> Path:
        if not _DIGEST.match(digest):
            raise KeyError(digest)
        return self.directory / f"{digest}.{'done' if done else 'open'}.json"

    def save(self, digest: str, session_id: str, state: str, options: dict[str, Any]) -> None:
        """Write a state atomically; a finished one replaces its open file."""
        done = state == "done"
        path = self._path(digest, done)
        body = {
            "session_id": session_id,
            "state": state,
            "options": options,
            "updated_at": time.time(),
            "instance": INSTANCE,
        }
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)
        if done:
            self._path(digest, False).unlink(missing_ok=True)

    def load(self, digest: str) -> HandoffState | None:
        """The state behind a token digest (a finished one wins), or None."""
        for done in (True, False):
            try:
                return self._read(digest, self._path(digest, done))
            except (FileNotFoundError, KeyError):
                continue
        return None

    def open_states(self) -> list[HandoffState]:
        """Every recording not known to have finished."""
        found = []
        for path in self.directory.glob("*.open.json"):
            try:
                found.append(self._read(path.name.split(".", 1)[0], path))
            except (FileNotFoundError, KeyError):
                continue  # finished or swept meanwhile
        return found

    def _read(self, digest: str, path: Path) -> HandoffState:
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
            return HandoffState(
                digest,
                str(body["session_id"]),
                str(body["state"]),
                dict(body.get("options") or {}),
                float(body["updated_at"]),
                str(body.get("instance", "")),
            )
        except (ValueError, TypeError) as exc:
            log.error("unreadable resume state %s: %s", path, exc)
            raise KeyError(digest) from exc

    def sweep(self, now: float | None = None) -> int:
        """Delete states older than the retention time; returns the count."""
        return sweep(self.directory, "*.json", self.retention_s, now)


@dataclass(frozen=True)
class SharedData:
    """The stores every process of a deployment shares through ASR_DATA_DIR."""

    handoff: HandoffStore
    recordings: RecordingStore
    results: ResultStore


def token_opens(recording_id: str, token: str, handoff: HandoffStore, results: ResultStore) -> bool:
    """Whether `token` is the resume token of recording `recording_id`, running, parked or finished.

    Either store suffices: the resume state names the session its token's digest belongs to (from
    start_recording on, in any process), the stored result keeps the digest (once finished).
    """
    state = handoff.load(token_digest(token))
    if state is not None and state.session_id == recording_id:
        return True
    return results.matches(recording_id, token)
