"""All live sessions: creation, the active-recording cap, resume tokens, parking and expiry."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from . import metrics
from .errors import SessionError
from .events import EventSink, FinalResult, SessionSnapshot
from .handoff import HandoffState, SharedData
from .live_types import SessionOptions, SessionState
from .recording_session import RecordingSession
from .results import token_digest
from .spool import SpoolBusy

log = logging.getLogger(__name__)

_EXPIRED_MEMORY_S = 24 * 3600.0
# How long a resume on another process may take to replay the spooled audio before it answers
# (the first pass runs faster than real time; past this the client gets resume_result anyway).
_REPLAY_WAIT_S = 120.0
SHUTDOWN_MESSAGE = (
    "the server is restarting; your recording is kept: reconnect and send resume_recording with "
    "your resume token, then resend audio from received_bytes"
)


def options_to_dict(options: SessionOptions) -> dict[str, Any]:
    """SessionOptions as JSON-friendly data."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(options).items()}


def options_from_dict(raw: dict[str, Any]) -> SessionOptions:
    """The inverse of options_to_dict; unknown keys (from a newer version) are ignored."""
    known = {f.name: f for f in dataclasses.fields(SessionOptions)}
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items() if k in known}
    return SessionOptions(**values)


class SessionRegistry:
    """Finds sessions by resume token and enforces ASR_MAX_SESSIONS and ASR_RESUME_GRACE_S."""

    def __init__(
        self,
        factory: Callable[..., RecordingSession],
        max_active: int,
        grace_s: float,
        shared: SharedData | None = None,
    ) -> None:
        """`factory(**identity)` makes a session; with `shared` stores (ASR_DATA_DIR shared by
        several processes) recordings of other processes can be resumed here."""
        self._factory = factory
        self._max_active = max_active
        self._grace_s = grace_s
        self._shared = shared
        self._lock = threading.Lock()
        # token digest -> session: every session in memory, idle ones included (one per connection)
        self._by_token: dict[str, RecordingSession] = {}
        # the subset that ever began recording: counts and sweeps look only at these, never at
        # the idle sessions of however many connections are open
        self._live: dict[str, RecordingSession] = {}
        self._expired: dict[str, tuple[str, float]] = {}  # token digest -> (session id, when)
        self._closed = False

    def create(self) -> RecordingSession:
        """A new idle session for a connection."""
        self._check_open()
        session = self._factory()
        with self._lock:
            self._by_token[session.token_sha256] = session
        return session

    def _check_open(self) -> None:
        if self._closed:
            raise SessionError("server_restarting", SHUTDOWN_MESSAGE)

    def begin(
        self, session: RecordingSession, options: SessionOptions, sink: EventSink, owner: object = None
    ) -> None:
        """Start recording unless ASR_MAX_SESSIONS recordings are already active."""
        self._check_open()
        with self._lock:
            if session.state is SessionState.IDLE:
                self._check_capacity()
            session.start(options, sink, owner)
            self._live[session.token_sha256] = session
        metrics.count_session("started")
        self._persist(session, "recording")

    def _persist(self, session: RecordingSession, state: str) -> None:
        """Write the resume state other processes read; a failure only costs cross-process resume."""
        if self._shared is None:
            return
        try:
            options = options_to_dict(session.options)
            self._shared.handoff.save(session.token_sha256, session.session_id, state, options)
        except OSError:
            log.exception("session %s: cannot write its resume state", session.session_id)

    def finished(self, session: RecordingSession) -> None:
        """A session's thread ended: record that it is done (not when it was handed off)."""
        if session.state is SessionState.DONE:
            metrics.count_session("finished" if session.final_result is not None else "failed")
            self._persist(session, "done")

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

    def resume(
        self, token: str, sink: EventSink, owner: object = None
    ) -> tuple[SessionSnapshot | dict[str, Any], FinalResult | dict[str, Any] | None]:
        """Rebind the session behind `token` to a new connection; returns resume_result and a final result."""
        self._check_open()
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
        if session is None:
            return self._resume_from_disk(token, digest, sink, owner)
        metrics.count_session("resumed")
        return session.attach(sink, owner)

    def _resume_from_disk(
        self, token: str, digest: str, sink: EventSink, owner: object
    ) -> tuple[SessionSnapshot | dict[str, Any], FinalResult | dict[str, Any] | None]:
        """Resume a recording this process never held, from the shared resume state and spool."""
        state = self._shared.handoff.load(digest) if self._shared is not None else None
        if state is None:
            raise SessionError("invalid_resume_token", "no session has this resume token")
        finished = self._finished_elsewhere(state, token)
        if finished is not None:
            return finished
        with self._lock:
            self._check_capacity()
        session = self._take_over(state, resume_token=token)
        if session is None:  # finished between the two checks
            finished = self._finished_elsewhere(state, token, force=True)
            assert finished is not None
            return finished
        if not session.wait_caught_up(_REPLAY_WAIT_S):
            log.warning("session %s: replay not finished; answering the resume anyway", session.session_id)
        metrics.count_session("resumed")
        return session.attach(sink, owner)

    def _finished_elsewhere(
        self, state: HandoffState, token: str, force: bool = False
    ) -> tuple[dict[str, Any], dict[str, Any] | None] | None:
        """resume_result (and final_result) of a recording that finished, or None if it has not."""
        final = None
        if self._shared is not None:
            try:
                final = self._shared.results.load(state.session_id, token)
            except (KeyError, PermissionError):
                final = None
        if final is None and not state.done and not force:
            return None
        duration_ms = int(final["duration_ms"]) if final else 0
        snapshot: dict[str, Any] = {
            "success": True,
            "session_id": state.session_id,
            "state": SessionState.DONE.value,
            "current_text": str(final.get("paraformer", "")) if final else "",
            "duration_s": round(duration_ms / 1000, 3),
            "received_ms": duration_ms,
            "received_bytes": duration_ms * 32,
            "last_seq": 0,  # another process produced the events; their numbers are not kept
        }
        return snapshot, final

    def _take_over(self, state: HandoffState, resume_token: str = "") -> RecordingSession | None:
        """Adopt a recording from its spool; None when it finished meanwhile. SessionError if it is live."""
        identity: dict[str, str] = {"session_id": state.session_id}
        if resume_token:
            identity["resume_token"] = resume_token
        else:
            identity["token_sha256"] = state.digest
        session = self._factory(**identity)
        try:
            session.adopt(options_from_dict(state.options))
        except SpoolBusy:
            raise SessionError(
                "session_elsewhere",
                "this recording is still running on another server process; reconnect the way you "
                "connected before (same sticky route), or try again in a few seconds",
            ) from None
        except (FileNotFoundError, KeyError):
            raise SessionError(
                "invalid_resume_token", "the recording behind this token has no audio left (expired?)"
            ) from None
        # the lock is ours now: a result stored before we got it means the recording had finished
        if self._shared is not None and self._shared.results.exists(state.session_id):
            session.hand_off("finished")
            session.wait_done(5.0)
            return None
        with self._lock:
            self._by_token[session.token_sha256] = session
            self._live[session.token_sha256] = session
        metrics.count_session("adopted")
        log.info(
            "session %s: taken over from %s (%.1f s of audio to replay)",
            state.session_id,
            state.instance or "another process",
            session.snapshot().to_wire()["duration_s"],
        )
        return session

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

    def release(self, session: RecordingSession, owner: object = None) -> None:
        """A connection closed: an idle session is dropped, a recording is parked for resume."""
        session.detach(owner)
        if session.state is SessionState.IDLE:
            self.forget(session)

    def forget(self, session: RecordingSession) -> None:
        """Drop a session from memory (its files stay for the retention time)."""
        with self._lock:
            self._drop(session.token_sha256)

    def adopt_orphans(self, wall_now: float | None = None) -> int:
        """Finalise recordings whose process died or shut down and whose client has not come back
        within the grace time; returns how many this process took."""
        if self._shared is None or self._closed:
            return 0
        wall_now = time.time() if wall_now is None else wall_now
        taken = 0
        for state in self._shared.handoff.open_states():
            with self._lock:
                if state.digest in self._by_token:
                    continue
            if wall_now - self._last_activity(state) < self._grace_s:
                continue
            try:
                session = self._take_over(state)
            except SessionError:
                continue  # live elsewhere, or nothing left to finish
            if session is not None:
                log.info(
                    "session %s: not resumed within %.0f s of its process stopping: finalising",
                    state.session_id,
                    self._grace_s,
                )
                session.stop()
                taken += 1
        return taken

    def _last_activity(self, state: HandoffState) -> float:
        """When the recording last changed: its resume state or its audio, whichever is newer."""
        spool = self._shared.recordings.existing(state.session_id) if self._shared else None
        try:
            audio_at = spool.stat().st_mtime if spool is not None else 0.0
        except OSError:  # swept meanwhile
            audio_at = 0.0
        return max(state.updated_at, audio_at)

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
            if detached_at is None or now - detached_at < self._grace_s:
                continue
            if session.state is SessionState.PARKED:
                log.info(
                    "session %s not resumed within %.0f s: finalising", session.session_id, self._grace_s
                )
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
            self._persist(session, "parked")
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
