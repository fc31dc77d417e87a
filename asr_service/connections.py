"""Which client connection drives which live session: the one place that binds, rebinds and unbinds them.

Every connection is bound to exactly one session, and every session to at most one connection:
a resume moves the session to the resuming connection and unbinds the one it had, so a replaced
connection that goes away later changes nothing. Connections are named by the transport's id
(the Socket.IO sid); rate limits on resume attempts stay with the transport, which knows addresses.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from . import metrics
from .errors import SessionError
from .events import EventSink, FinalResult, SessionSnapshot, StoredFinalResult
from .live_types import SessionOptions, SessionState
from .recording_session import RecordingSession
from .registry import SessionRegistry
from .takeover import FinishedElsewhere, Takeover


@dataclass(frozen=True)
class Resumed:
    """What a resume answers: resume_result, the final result if already sent, and the session
    now bound to the connection (None when the recording finished in another process)."""

    session: RecordingSession | None
    result: SessionSnapshot
    final: FinalResult | StoredFinalResult | None


class Connections:
    """Binds connections to sessions of `registry`, taking recordings over from other processes."""

    def __init__(self, registry: SessionRegistry, takeover: Takeover) -> None:
        self._registry = registry
        self._takeover = takeover
        # one lock for every binding change, so a resume and the old connection's disconnect
        # cannot interleave between attaching the new sink and moving the binding
        self._lock = threading.Lock()
        self._by_connection: dict[str, RecordingSession] = {}
        self._by_session: dict[str, str] = {}  # token digest -> the connection bound to it

    def session_of(self, connection: str) -> RecordingSession | None:
        """The session a connection is bound to, if any."""
        with self._lock:
            return self._by_connection.get(connection)

    def connect(self, connection: str) -> RecordingSession:
        """Bind a new idle session to a connection (SessionError `server_restarting` while draining)."""
        session = self._registry.create()
        with self._lock:
            self._bind(connection, session)
        return session

    def start(self, connection: str, options: SessionOptions, sink: EventSink) -> RecordingSession:
        """Begin recording on the connection's session; after a finished one, on a fresh session
        (refused with `busy` before the finished session's token is given up). Returns the session."""
        with self._lock:
            session = self._by_connection.get(connection)
            if session is not None and session.state is SessionState.DONE:
                self._registry.check_capacity()
                self._registry.forget(session)
                session = None
            if session is None:
                session = self._registry.create()
                self._bind(connection, session)
        self._registry.begin(session, options, sink)
        return session

    def resume(self, connection: str, token: str, sink: EventSink) -> Resumed:
        """Move the session behind `token` (here, or taken over from another process) to this
        connection, its events to `sink`. SessionError when the connection is recording, or the
        token is unknown, expired or live in another process."""
        current = self.session_of(connection)
        if current is not None and current.state not in (SessionState.IDLE, SessionState.DONE):
            raise SessionError(
                "already_recording", "this connection is recording; resume on a new connection"
            )
        found: RecordingSession | FinishedElsewhere | None = self._registry.lookup(token)
        if found is None:
            found = self._takeover.resume(token)
        if isinstance(found, FinishedElsewhere):
            return Resumed(None, found.result, found.final)
        with self._lock:
            result, final = found.attach(sink)
            previous = self._by_connection.get(connection)
            if previous is not None and previous is not found:
                self._registry.forget(previous)
            self._bind(connection, found)
        metrics.count_session("resumed")
        return Resumed(found, result, final)

    def disconnect(self, connection: str) -> None:
        """The connection closed: its idle session is dropped, its recording parked for resume.
        A connection that a resume replaced is no longer bound, so it changes nothing."""
        with self._lock:
            session = self._by_connection.pop(connection, None)
            if session is None:
                return
            self._by_session.pop(session.token_sha256, None)
            self._registry.release(session)

    def _bind(self, connection: str, session: RecordingSession) -> None:
        """Bind under the lock, unbinding the connection's old session and the session's old connection."""
        old = self._by_connection.get(connection)
        if old is not None and self._by_session.get(old.token_sha256) == connection:
            del self._by_session[old.token_sha256]
        replaced = self._by_session.get(session.token_sha256)
        if replaced is not None and replaced != connection:
            del self._by_connection[replaced]
        self._by_connection[connection] = session
        self._by_session[session.token_sha256] = connection
