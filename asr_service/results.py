"""Final results kept on disk for the retention time, readable with the session's resume token."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from pathlib import Path
from typing import Any

from .retention import checked_id, sweep


def token_digest(token: str) -> str:
    """What is stored instead of the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


class ResultStore:
    """One JSON file per finished session."""

    def __init__(self, directory: Path, retention_s: float) -> None:
        self.directory = directory
        self.retention_s = retention_s
        directory.mkdir(parents=True, exist_ok=True)

    def _path(self, session_id: str) -> Path:
        return self.directory / f"{checked_id(session_id)}.json"

    def save(self, session_id: str, token: str, result: dict[str, Any]) -> None:
        """Store a final result atomically (a reader never sees half a file)."""
        self.save_digest(session_id, token_digest(token), result)

    def save_digest(self, session_id: str, digest: str, result: dict[str, Any]) -> None:
        """Store a final result for the holder of the token with this SHA-256 digest."""
        path = self._path(session_id)
        # per-process temporary name: processes sharing ASR_DATA_DIR never write the same one
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp")
        body = {"token_sha256": digest, "saved_at": time.time(), "result": result}
        tmp.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)

    def exists(self, session_id: str) -> bool:
        """Whether a result is stored for this session."""
        try:
            return self._path(session_id).is_file()
        except KeyError:
            return False

    def load(self, session_id: str, token: str) -> dict[str, Any]:
        """The stored result; KeyError when absent, PermissionError when the token does not match."""
        try:
            body = json.loads(self._path(session_id).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise KeyError(session_id) from exc
        if not hmac.compare_digest(body["token_sha256"], token_digest(token)):
            raise PermissionError(session_id)
        result: dict[str, Any] = body["result"]
        return result

    def matches(self, session_id: str, token: str) -> bool:
        """Whether a result is stored for this session under this token."""
        try:
            self.load(session_id, token)
        except (KeyError, PermissionError):
            return False
        return True

    def sweep(self, now: float | None = None) -> int:
        """Delete results older than the retention time; returns the count."""
        return sweep(self.directory, "*.json", self.retention_s, now)
