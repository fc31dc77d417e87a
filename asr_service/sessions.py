"""All live sessions: creation, the active-recording cap, resume tokens, parking and expiry."""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from .errors import SessionError
from .results import token_digest
from .streaming import EventSink, RecordingSession, SessionOptions, SessionState

log = logging.getLogger(__name__)

_EXPIRED_MEMORY_S = 24 * 3600.0


class SessionRegistry:
    """Finds sessions by resume token and enforces ASR_MAX_SESSIONS and ASR_RESUME_GRACE_S."""

    def __init__(self, factory: Callable[[], RecordingSession], max_active: int, grace_s: float) -> None:
        self._factory = factory
        self._max_active = max_active
        self._grace_s = grace_s
        self._lock = threading.Lock()
        self._by_token: dict[str, RecordingSession] = {}
        self._expired: dict[str, tuple[str, float]] = {}  # token digest -> (session id, when)

    def create(self) -> RecordingSession:
        """A new idle session for a connection."""
        session = self._factory()
        with self._lock:
            self._by_token[token_digest(session.resume_token)] = session
        return session

    def begin(
        self, session: RecordingSession, options: SessionOptions, sink: EventSink, owner: object = None
    ) -> None:
        """Start recording unless ASR_MAX_SESSIONS recordings are already active."""
        with self._lock:
            if session.state is SessionState.IDLE:
                self._check_capacity()
            session.start(options, sink, owner)

    def check_capacity(self) -> None:
        """SessionError `busy` when ASR_MAX_SESSIONS recordings are already active."""
        with self._lock:
            self._check_capacity()

    def _check_capacity(self) -> None:
        if self._active() >= self._max_active:
            raise SessionError(
                "busy",
                f"the server is at its limit of {self._max_active} concurrent recordings; try again shortly",
            )

    def _active(self) -> int:
        return sum(s.state in (SessionState.RECORDING, SessionState.PARKED) for s in self._by_token.values())

    @property
    def active(self) -> int:
        """Recordings running or parked."""
        with self._lock:
            return self._active()

    @property
    def parked(self) -> int:
        """Recordings waiting for their client to resume."""
        with self._lock:
            return sum(s.state is SessionState.PARKED for s in self._by_token.values())

    def resume(
        self, token: str, sink: EventSink, owner: object = None
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Rebind the session behind `token` to a new connection; returns resume_result and a final result."""
        digest = token_digest(token)
        with self._lock:
            session = self._find(digest)
            if session is None:
                expired = self._expired.get(digest)
                if expired is not None:
                    raise SessionError(
                        "session_expired",
                        f"session {expired[0]} was not resumed within "
                        f"{self._grace_s:g} s and has been finalised; fetch its result from "
                        f"/api/asr/sessions/{expired[0]}/result",
                    )
                raise SessionError("invalid_resume_token", "no session has this resume token")
        return session.attach(sink, owner)

    def _find(self, digest: str) -> RecordingSession | None:
        for known, session in self._by_token.items():
            if hmac.compare_digest(known, digest):
                return session
        return None

    def is_running(self, session_id: str) -> bool:
        """Whether a recording with this id is still being written."""
        with self._lock:
            return any(
                s.session_id == session_id
                and s.state in (SessionState.RECORDING, SessionState.PARKED, SessionState.FINALIZING)
                for s in self._by_token.values()
            )

    def session_for(self, token: str) -> RecordingSession | None:
        """The live session behind a token, if any."""
        with self._lock:
            return self._find(token_digest(token))

    def release(self, session: RecordingSession, owner: object = None) -> None:
        """A connection closed: an idle session is dropped, a recording is parked for resume."""
        session.detach(owner)
        if session.state is SessionState.IDLE:
            self.forget(session)

    def forget(self, session: RecordingSession) -> None:
        """Drop a session from memory (its files stay for the retention time)."""
        with self._lock:
            self._by_token.pop(token_digest(session.resume_token), None)

    def sweep(self, now: float | None = None) -> None:
        """Finalise recordings parked past the grace time; drop finished sessions nobody watches."""
        now = time.monotonic() if now is None else now
        with self._lock:
            sessions = list(self._by_token.items())
            for digest, (_sid, when) in list(self._expired.items()):
                if now - when > _EXPIRED_MEMORY_S:
                    del self._expired[digest]
        for digest, session in sessions:
            detached_at = session.detached_at
            if detached_at is None or now - detached_at < self._grace_s:
                continue
            if session.state is SessionState.PARKED:
                log.info(
                    "session %s not resumed within %.0f s: finalising", session.session_id, self._grace_s
                )
                session.stop()
            if session.state in (SessionState.FINALIZING, SessionState.DONE):
                with self._lock:
                    self._by_token.pop(digest, None)
                    self._expired[digest] = (session.session_id, now)

    def shutdown(self, wait_s: float = 0.0) -> None:
        """Stop every running recording so its audio and result are written; wait up to `wait_s`."""
        with self._lock:
            sessions = list(self._by_token.values())
        for session in sessions:
            if session.state in (SessionState.RECORDING, SessionState.PARKED):
                session.stop()
        deadline = time.monotonic() + wait_s
        for session in sessions:
            session.wait_done(max(0.0, deadline - time.monotonic()))
