"""Socket.IO events: translate client messages into session calls and session events back to the client."""

from __future__ import annotations

import functools
import hmac
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

from flask import request
from flask_socketio import SocketIO, join_room

from .audio_units import SAMPLE_RATE
from .config import SENSEVOICE_LANGUAGES, Settings
from .connections import Connections
from .errors import NotReady, SessionError
from .events import ErrorEvent, EventSink, LiveEvent
from .hotwords import HotwordsError, parse_extra_hotwords
from .live_types import SessionOptions, SessionState
from .logs import session_scope
from .ops import progress_room
from .recording_session import RecordingSession
from .service import AsrService
from .throttle import RateLimiter

log = logging.getLogger(__name__)


class _GatedSink:
    """Holds a resumed session's events until resume_result has gone out, so that comes first."""

    def __init__(self, inner: EventSink) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self._held: list[LiveEvent] | None = []

    def __call__(self, event: LiveEvent) -> None:
        with self._lock:
            if self._held is not None:
                self._held.append(event)
                return
        self._inner(event)

    def open(self) -> None:
        """Send what was held and pass everything through from now on."""
        with self._lock:
            held, self._held = self._held or [], None
            for event in held:
                self._inner(event)


def parse_options(raw: object, settings: Settings) -> SessionOptions:
    """start_recording's optional dict, checked field by field."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise SessionError("bad_options", "start_recording takes an optional object of options")
    language = raw.get("language", settings.default_language)
    if language not in SENSEVOICE_LANGUAGES:
        raise SessionError("bad_options", f"language must be one of {', '.join(SENSEVOICE_LANGUAGES)}")
    try:
        words = parse_extra_hotwords(raw.get("hotwords"), "hotwords")
    except HotwordsError as exc:
        raise SessionError("bad_options", str(exc)) from None
    use_itn, llm = raw.get("use_itn", settings.use_itn), raw.get("llm_correct", False)
    word_times, full_text = raw.get("word_timestamps", False), raw.get("full_text", False)
    if not all(isinstance(flag, bool) for flag in (use_itn, llm, word_times, full_text)):
        raise SessionError(
            "bad_options", "use_itn, llm_correct, word_timestamps and full_text must be true or false"
        )
    return SessionOptions(
        language=language,
        use_itn=use_itn,
        hotwords=words,
        llm_correct=llm,
        word_timestamps=word_times,
        full_text=full_text,
    )


def register_realtime(socketio: SocketIO, service: AsrService, settings: Settings) -> None:
    """Attach the recording protocol (docs/websocket.md) to the default namespace."""
    handlers = _Handlers(socketio, service, settings)
    socketio.on("connect")(handlers.on_connect)
    socketio.on("disconnect")(handlers.on_disconnect)
    for event, method in (
        ("start_recording", handlers.on_start),
        ("audio_data", handlers.on_audio),
        ("stop_recording", handlers.on_stop),
        ("resume_recording", handlers.on_resume),
    ):
        socketio.on(event)(_reporting_errors(handlers, method))


def _reporting_errors(handlers: _Handlers, method: Callable[..., None]) -> Callable[..., None]:
    """Every failure becomes an `error` event; the connection and the server keep working."""

    @functools.wraps(method)
    def wrapper(*args: Any) -> None:
        sid = _sid()
        try:
            with session_scope(handlers.session_id_of(sid)):
                method(sid, *args)
        except (SessionError, NotReady) as exc:
            log.info("sid=%s %s -> %s: %s", sid, method.__name__, exc.code, exc.message)
            handlers.send_error(sid, exc.code, exc.message)
        except Exception:
            error_id = uuid.uuid4().hex[:12]
            log.exception("error_id=%s sid=%s %s failed", error_id, sid, method.__name__)
            handlers.send_error(sid, "internal_error", f"internal error (error id {error_id})")

    return wrapper


def _sid() -> str:
    sid: str = request.sid  # type: ignore[attr-defined]
    return sid


class _Handlers:
    """One method per client event; each only translates to and from the session core."""

    def __init__(self, socketio: SocketIO, service: AsrService, settings: Settings) -> None:
        self._io, self._service, self._settings = socketio, service, settings
        # resume tokens cannot be guessed, but each attempt costs a lookup (and a disk read for
        # tokens of other processes): per connection, and per address with room for a NAT or proxy
        self._resumes_by_sid = RateLimiter(settings.resume_per_min)
        self._resumes_by_address = RateLimiter(settings.resume_per_min * 10)

    def _connections(self) -> Connections:
        return self._service.engine().connections  # NotReady while still loading

    def session_id_of(self, sid: str) -> str | None:
        """The id of the session a connection is bound to, for log lines."""
        session = self._connections().session_of(sid) if self._service.ready else None
        return session.session_id if session is not None else None

    def _join(self, sid: str, session: RecordingSession) -> None:
        """Upload progress for a recording goes to its token's room."""
        join_room(progress_room(session.token_sha256), sid=sid)

    def _sink(self, sid: str) -> EventSink:
        return lambda event: self._io.emit(event.name, event.to_wire(), to=sid)

    def send_error(self, sid: str, code: str, message: str) -> None:
        """The `error` event."""
        self._sink(sid)(ErrorEvent(code, message))

    def _session(self, sid: str) -> RecordingSession:
        """The connection's session; one that opened while models were loading gets it now."""
        session = self._connections().session_of(sid)
        if session is None:
            session = self._connections().connect(sid)
            self._send_connected(sid, session)
        return session

    def _send_connected(self, sid: str, session: RecordingSession) -> None:
        self._join(sid, session)
        payload = {
            "session_id": session.session_id,
            "resume_token": session.resume_token,
            "sample_rate": SAMPLE_RATE,
        }
        self._io.emit("connected", payload, to=sid)

    def on_connect(self, auth: object = None) -> bool:
        """Check the API key, give the connection a session, send `connected`."""
        if not _authorised(self._settings.api_key, auth):
            log.info("refused a Socket.IO connection without a valid API key")
            return False
        sid = _sid()
        try:
            self._send_connected(sid, self._connections().connect(sid))
        except (NotReady, SessionError) as exc:
            self.send_error(sid, exc.code, exc.message)
        return True

    def on_start(self, sid: str, options: object = None) -> None:
        """start_recording: a new recording on this connection (after a finished one, a fresh session)."""
        self._session(sid)
        parsed = parse_options(options, self._settings)
        session = self._connections().start(sid, parsed, self._sink(sid))
        self._join(sid, session)
        payload = {
            "session_id": session.session_id,
            "resume_token": session.resume_token,
            "sample_rate": SAMPLE_RATE,
            "language": session.options.language,
        }
        self._io.emit("recording_started", payload, to=sid)

    def on_audio(self, sid: str, data: object = None) -> None:
        """audio_data: one binary frame of PCM s16le 16 kHz mono."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise SessionError(
                "invalid_audio", f"audio_data must be binary PCM s16le 16 kHz mono, not {type(data).__name__}"
            )
        self._session(sid).feed(bytes(data))

    def on_stop(self, sid: str, *_args: object) -> None:
        """stop_recording: the session answers with recording_stopped, progress and final_result."""
        self._session(sid).stop()

    def on_resume(self, sid: str, data: object = None) -> None:
        """resume_recording {resume_token}: take over a parked or finishing session."""
        self._limit_resumes(sid)
        token = data.get("resume_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise SessionError("bad_request", "resume_recording needs {resume_token: <token from connected>}")
        self._session(sid)
        gate = _GatedSink(self._sink(sid))
        resumed = self._connections().resume(sid, token, gate)
        if resumed.session is not None:
            self._join(sid, resumed.session)
        snapshot, final = resumed.result.to_wire(), resumed.final
        self._io.emit("resume_result", snapshot, to=sid)
        if final is not None:
            self._io.emit("final_result", final.to_wire(), to=sid)
        elif snapshot["state"] == SessionState.DONE.value:
            self.send_error(
                sid,
                "recording_failed",
                "this recording could not be processed; its audio is kept as backup "
                f"{snapshot['session_id']}",
            )
        gate.open()

    def _limit_resumes(self, sid: str) -> None:
        address = str(request.remote_addr or "")
        if not self._resumes_by_sid.allow(sid) or not self._resumes_by_address.allow(address):
            raise SessionError(
                "too_many_requests",
                f"too many resume attempts (at most {self._settings.resume_per_min} a minute per "
                "connection); wait and try again",
            )

    def on_disconnect(self, *_args: object) -> None:
        """The client left: park its recording for ASR_RESUME_GRACE_S."""
        sid = _sid()
        self._resumes_by_sid.forget(sid)
        if self._service.ready:
            self._connections().disconnect(sid)


def _authorised(expected: str | None, auth: object) -> bool:
    """With ASR_API_KEY set: auth {api_key}, a Bearer or X-API-Key header, or ?api_key= must carry it."""
    if not expected:
        return True
    given = ""
    if isinstance(auth, dict):
        given = str(auth.get("api_key") or auth.get("token") or "")
    bearer = request.headers.get("Authorization", "")
    if not given and bearer.lower().startswith("bearer "):
        given = bearer[7:].strip()
    given = given or request.headers.get("X-API-Key", "") or request.args.get("api_key", "")
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())
