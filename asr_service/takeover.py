"""Recordings across processes sharing ASR_DATA_DIR: publishing where each stands, resuming one
that another process spooled, and finalising those whose process died and whose client never came back."""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import Any

from . import metrics
from .audio_units import ms_to_samples
from .errors import SessionError
from .events import PushedSentence, SessionSnapshot, StoredFinalResult
from .handoff import HandoffState, HandoffStore, SharedData
from .live_types import SessionOptions, SessionState
from .recording_session import RecordingSession
from .registry import SessionRegistry
from .results import token_digest
from .spool import SpoolBusy

log = logging.getLogger(__name__)

# How long a resume on another process may take to replay the spooled audio before it answers
# (the first pass runs faster than real time; past this the client gets resume_result anyway).
_REPLAY_WAIT_S = 120.0


def options_to_dict(options: SessionOptions) -> dict[str, Any]:
    """SessionOptions as JSON-friendly data."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(options).items()}


def options_from_dict(raw: dict[str, Any]) -> SessionOptions:
    """The inverse of options_to_dict; unknown keys (from a newer version) are ignored."""
    known = {f.name: f for f in dataclasses.fields(SessionOptions)}
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items() if k in known}
    return SessionOptions(**values)


class HandoffWriter:
    """The registry's `publish`: writes the resume state other processes read."""

    def __init__(self, handoff: HandoffStore) -> None:
        self._handoff = handoff

    def __call__(self, session: RecordingSession, state: str) -> None:
        """Save `state` for `session`; a failure only costs cross-process resume, so it is logged."""
        try:
            options = options_to_dict(session.options)
            self._handoff.save(session.token_sha256, session.session_id, state, options)
        except OSError:
            log.exception("session %s: cannot write its resume state", session.session_id)


@dataclass(frozen=True)
class FinishedElsewhere:
    """A recording that finished in another process: its resume_result, and its final result if stored."""

    result: SessionSnapshot
    final: StoredFinalResult | None


class Takeover:
    """Adopts recordings of other processes into this process's registry, from the shared stores."""

    def __init__(
        self,
        registry: SessionRegistry,
        shared: SharedData | None,
    ) -> None:
        """Sessions taken over join `registry`; without `shared` (ASR_DATA_DIR not shared)
        nothing is ever taken over."""
        self._registry = registry
        self._shared = shared

    def resume(self, token: str) -> RecordingSession | FinishedElsewhere:
        """The recording behind a token this process does not hold: taken over (audio replayed,
        parked for the client to attach) or, when it finished, its results. Raises SessionError."""
        state = self._shared.handoff.load(token_digest(token)) if self._shared is not None else None
        if state is None:
            raise SessionError("invalid_resume_token", "no session has this resume token")
        final = self._stored_result(state, token)
        if final is not None or state.done:
            return _finished(state, final)
        self._registry.check_capacity()
        session = self._take_over(state, resume_token=token)
        if session is None:  # finished between the two checks
            return _finished(state, self._stored_result(state, token))
        if not session.wait_caught_up(_REPLAY_WAIT_S):
            log.warning("session %s: replay not finished; answering the resume anyway", session.session_id)
        return session

    def _stored_result(self, state: HandoffState, token: str) -> dict[str, Any] | None:
        if self._shared is None:
            return None
        try:
            return self._shared.results.load(state.session_id, token)
        except (KeyError, PermissionError):
            return None

    def _take_over(self, state: HandoffState, resume_token: str = "") -> RecordingSession | None:
        """Adopt a recording from its spool; None when it finished meanwhile. SessionError if it is live."""
        identity: dict[str, str] = {"session_id": state.session_id}
        if resume_token:
            identity["resume_token"] = resume_token
        else:
            identity["token_sha256"] = state.digest
        session = self._registry.new_session(**identity)
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
        self._registry.add_recording(session)
        metrics.count_session("adopted")
        log.info(
            "session %s: taken over from %s (%.1f s of audio to replay)",
            state.session_id,
            state.instance or "another process",
            session.snapshot().to_wire()["duration_s"],
        )
        return session

    def adopt_orphans(self, wall_now: float | None = None) -> int:
        """Finalise recordings whose process died or shut down and whose client has not come back
        within the grace time; returns how many this process took."""
        if self._shared is None or self._registry.closed:
            return 0
        wall_now = time.time() if wall_now is None else wall_now
        grace_s = self._registry.grace_s
        taken = 0
        for state in self._shared.handoff.open_states():
            if self._registry.holds(state.digest) or wall_now - self._last_activity(state) < grace_s:
                continue
            try:
                session = self._take_over(state)
            except SessionError:
                continue  # live elsewhere, or nothing left to finish
            if session is not None:
                log.info(
                    "session %s: not resumed within %.0f s of its process stopping: finalising",
                    state.session_id,
                    grace_s,
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


def _finished(state: HandoffState, final: dict[str, Any] | None) -> FinishedElsewhere:
    """resume_result (and final_result) of a recording that finished in another process."""
    snapshot = SessionSnapshot(
        session_id=state.session_id,
        state=SessionState.DONE,
        current_text=str(final.get("paraformer", "")) if final else "",
        received_samples=ms_to_samples(int(final["duration_ms"])) if final else 0,
        pending_bytes=0,
        last_seq=0,  # another process produced the events; their numbers are not kept
        # the sentences as that process finished them; their revisions are not kept
        sentences=tuple(PushedSentence(i, 0, dict(s)) for i, s in enumerate(final.get("timestamps", [])))
        if final
        else (),
    )
    return FinishedElsewhere(snapshot, StoredFinalResult(final) if final is not None else None)
