"""The live sessions of this process: creation, the active-recording cap, lookup by resume token,
parking, expiry and shutdown. Recordings of other processes are takeover.py's business."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from . import metrics
from .errors import SessionError
from .events import EventSink
from .live_types import SessionOptions, SessionState
from .recording_session import RecordingSession
from .results import token_digest

log = logging.getLogger(__name__)

_EXPIRED_MEMORY_S = 24 * 3600.0
SHUTDOWN_MESSAGE = (
    "the server is restarting; your recording is kept: reconnect and send resume_recording with "
    "your resume token, then resend audio from received_bytes"
)

# Records where a recording stands ("recording", "parked", "done") for other processes to read.
Publish = Callable[[RecordingSession, str], None]


class SessionFactory(Protocol):
    """Makes a live session that reports its end to `on_done`; `identity` (session_id with
    resume_token or token_sha256) when it continues a recording another process began."""

    def __call__(self, on_done: Callable[[RecordingSession], None], **identity: str) -> RecordingSession: ...


class SessionRegistry:
    """Finds sessions by resume token and enforces ASR_MAX_SESSIONS and ASR_RESUME_GRACE_S."""

    def __init__(
        self,
        factory: SessionFactory,
        max_active: int,
        grace_s: float,
        publish: Publish | None = None,
    ) -> None:
        """`factory` makes sessions, each reporting its end to `finished`; `publish` (when
        ASR_DATA_DIR is shared by several processes) is told each change of state that another
        process may need to resume it."""
        self._factory = factory
        self._max_active = max_active
        self.grace_s = grace_s
        self._publish = publish or (lambda _session, _state: None)
        self._lock = threading.Lock()
        # token digest -> session: every session in memory, idle ones included (one per connection)
        self._by_token: dict[str, RecordingSession] = {}
        # the subset that ever began recording: counts and sweeps look only at these, never at
        # the idle sessions of however many connections are open
        self._live: dict[str, RecordingSession] = {}
        self._expired: dict[str, tuple[str, float]] = {}  # token digest -> (session id, when)
        self._closed = False

    def new_session(self, **identity: str) -> RecordingSession:
        """A session of this registry, not yet held by it (create and the takeover hold it)."""
        return self._factory(on_done=self.finished, **identity)

    def create(self) -> RecordingSession:
        """A new idle session for a connection."""
        self.check_open()
        session = self.new_session()
        with self._lock:
            self._by_token[session.token_sha256] = session
        return session

    def check_open(self) -> None:
        """SessionError `server_restarting` once drain() has begun."""
        if self._closed:
            raise SessionError("server_restarting", SHUTDOWN_MESSAGE)

    @property
    def closed(self) -> bool:
        """Whether drain() has begun: no new sessions, nothing taken over."""
        return self._closed

    def begin(self, session: RecordingSession, options: SessionOptions, sink: EventSink) -> None:
        """Start recording unless ASR_MAX_SESSIONS recordings are already active."""
        self.check_open()
        with self._lock:
            if session.state is SessionState.IDLE:
                self._check_capacity()
            session.start(options, sink)
            self._live[session.token_sha256] = session
        metrics.count_session("started")
        self._publish(session, "recording")

    def finished(self, session: RecordingSession) -> None:
        """A session's thread ended: record that it is done (not when it was handed off)."""
        if session.state is SessionState.DONE:
            metrics.count_session("finished" if session.final_result is not None else "failed")
            self._publish(session, "done")

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
        return sum(s.state in (SessionState.RECORDING, SessionState.PARKED) for s in self._live.values())

    @property
    def active(self) -> int:
        """Recordings running or parked."""
        with self._lock:
            return self._active()

    @property
    def held(self) -> int:
        """Sessions in memory, idle ones (one per open connection) included."""
        with self._lock:
            return len(self._by_token)

    @property
    def parked(self) -> int:
        """Recordings waiting for their client to resume."""
        with self._lock:
            return sum(s.state is SessionState.PARKED for s in self._live.values())

    def lookup(self, token: str) -> RecordingSession | None:
        """The session behind `token` in this process, or None; SessionError once it expired."""
        self.check_open()
        digest = token_digest(token)
        with self._lock:
            session = self._find(digest)
            expired = self._expired.get(digest) if session is None else None
        if expired is not None:
            raise SessionError(
                "session_expired",
                f"session {expired[0]} was not resumed within "
                f"{self.grace_s:g} s and has been finalised; fetch its result from "
                f"/api/asr/sessions/{expired[0]}/result",
            )
        return session

    def holds(self, digest: str) -> bool:
        """Whether the session with this token digest is in this process's memory."""
        with self._lock:
            return digest in self._by_token

    def add_recording(self, session: RecordingSession) -> None:
        """Hold a recording that began elsewhere (taken over from another process)."""
        with self._lock:
            self._by_token[session.token_sha256] = session
            self._live[session.token_sha256] = session

    def _find(self, digest: str) -> RecordingSession | None:
        # a hash lookup: the key is the token's SHA-256, so its timing tells nothing about a token
        return self._by_token.get(digest)

    def _drop(self, digest: str) -> None:
        self._by_token.pop(digest, None)
        self._live.pop(digest, None)

    def is_running(self, session_id: str) -> bool:
        """Whether a recording with this id is still being written."""
        with self._lock:
            return any(
                s.session_id == session_id
                and s.state in (SessionState.RECORDING, SessionState.PARKED, SessionState.FINALIZING)
                for s in self._live.values()
            )

    def session_for(self, token: str) -> RecordingSession | None:
        """The live session behind a token, if any."""
        with self._lock:
            return self._find(token_digest(token))

    def release(self, session: RecordingSession) -> None:
        """A connection closed: an idle session is dropped, a recording is parked for resume."""
        session.detach()
        if session.state is SessionState.IDLE:
            self.forget(session)

    def forget(self, session: RecordingSession) -> None:
        """Drop a session from memory (its files stay for the retention time)."""
        with self._lock:
            self._drop(session.token_sha256)

    def sweep(self, now: float | None = None) -> None:
        """Finalise recordings parked past the grace time; drop finished sessions nobody watches."""
        now = time.monotonic() if now is None else now
        with self._lock:
            sessions = list(self._live.items())  # idle sessions are never parked nor finished
            for digest, (_sid, when) in list(self._expired.items()):
                if now - when > _EXPIRED_MEMORY_S:
                    del self._expired[digest]
        for digest, session in sessions:
            detached_at = session.detached_at
            if detached_at is None or now - detached_at < self.grace_s:
                continue
            if session.state is SessionState.PARKED:
                log.info("session %s not resumed within %.0f s: finalising", session.session_id, self.grace_s)
                session.stop()
            if session.state in (SessionState.FINALIZING, SessionState.DONE):
                with self._lock:
                    self._drop(digest)
                    self._expired[digest] = (session.session_id, now)

    def drain(self, wait_s: float) -> tuple[int, int]:
        """SIGTERM: refuse new sessions, hand running recordings off to disk for resume elsewhere,
        and give final passes already running up to `wait_s`; returns (handed off, unfinished finals)."""
        self._closed = True
        with self._lock:
            sessions = list(self._by_token.values())
        handed = [s for s in sessions if s.hand_off(SHUTDOWN_MESSAGE)]
        for session in handed:
            self._publish(session, "parked")
            metrics.count_session("parked_for_shutdown")
        deadline = time.monotonic() + wait_s
        for session in handed:  # their threads stop at the next block and release the spools
            session.wait_done(max(0.0, deadline - time.monotonic()))
        finalizing = [s for s in sessions if s.state is SessionState.FINALIZING]
        unfinished = sum(not s.wait_done(max(0.0, deadline - time.monotonic())) for s in finalizing)
        with self._lock:
            for session in handed:
                self._drop(session.token_sha256)
        return len(handed), unfinished

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
