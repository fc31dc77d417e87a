"""REST endpoints: translate HTTP requests to the core and results or errors back to JSON."""

from __future__ import annotations

import hmac
import logging
import unicodedata
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Flask, Response, current_app, jsonify, request, send_file
from werkzeug.exceptions import Conflict, HTTPException, NotFound, RequestEntityTooLarge, Unauthorized

from .audio import SUPPORTED_FORMATS
from .config import SENSEVOICE_LANGUAGES, Settings
from .errors import BadRequest, BodyTooLarge, InvalidHotwordsFile, ServiceError
from .filenames import display_name
from .handoff import token_opens
from .hotwords import HotwordsError, parse_extra_hotwords
from .multipart import FormRequest
from .ops import resume_token, upload_progress
from .pipeline import RecognitionOptions, Sentence
from .service import AsrService, FileRequest
from .subtitle_request import MAX_BODY_BYTES, parse_subtitle_request
from .subtitles import FORMATS, to_srt, to_txt, to_vtt

log = logging.getLogger(__name__)
bp = Blueprint("asr_api", __name__)

_HTTP_CODES = {
    400: "bad_request",
    409: "conflict",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",  # a body that stalls or trickles (transport_guard.DeadlineInput)
    413: "upload_too_large",
    415: "unsupported_media",
    422: "unprocessable",
    429: "too_many_requests",
    503: "not_ready",
}
UNREAD_BODY_WAIT_S = 2.0
# Open whatever the settings: liveness, and the recorder page (its calls carry the key).
_OPEN_PATHS = ("/api/health", "/")
_OPEN_PREFIXES = ("/static/",)
# Open while ASR_PUBLIC_OPS is on (the default), for load balancer probes and Prometheus.
_OPS_PATHS = ("/readyz", "/metrics")


def service() -> AsrService:
    """The AsrService this app was created with."""
    svc: AsrService = current_app.extensions["asr_service"]
    return svc


def settings() -> Settings:
    """The Settings this app was created with."""
    found: Settings = current_app.extensions["asr_settings"]
    return found


def error_response(status: int, code: str, message: str) -> tuple[Response, int]:
    """The one error shape every endpoint uses."""
    response = jsonify({"success": False, "error": message, "code": code})
    if request.content_length or request.headers.get("Transfer-Encoding"):
        _bound_unread_body()
    return response, status


def _bound_unread_body() -> None:
    """An error may leave the body unread: let the connection end soon rather than wait for the rest.

    The dev server closes every connection after its response, but first reads what the client
    still sends, blocking as long as the client sends nothing: bound each of those reads. (gunicorn
    bounds its own drain, 5 s, and closes the connection when the body has not ended by then.)
    """
    sock = request.environ.get("werkzeug.socket")
    if sock is not None:
        sock.settimeout(UNREAD_BODY_WAIT_S)


@bp.record_once
def _parse_forms_with_distinct_errors(state: Any) -> None:
    state.app.request_class = FormRequest


def _is_open(path: str, config: Settings) -> bool:
    """Whether `path` answers without the API key (README "API key")."""
    if path in _OPEN_PATHS or path.startswith(_OPEN_PREFIXES):
        return True
    return config.public_ops and path in _OPS_PATHS


@bp.before_app_request
def require_api_key() -> tuple[Response, int] | None:
    """When ASR_API_KEY is set, every path but health, the page and (ASR_PUBLIC_OPS) probes needs it."""
    config = settings()
    expected = config.api_key
    if not expected or _is_open(request.path, config) or request.method == "OPTIONS":
        return None
    given = request.headers.get("X-API-Key", "")
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        given = given or auth[7:].strip()
    if given and hmac.compare_digest(given.encode(), expected.encode()):
        return None
    return error_response(401, "unauthorized", "missing or wrong API key (send X-API-Key or Bearer token)")


@bp.get("/api/health")
def health() -> tuple[Response, int]:
    """Liveness and readiness: 200 once models are loaded, 503 before."""
    body: dict[str, Any] = service().health()
    if body["models_loaded"]:
        body["success"] = True
        return jsonify(body), 200
    body.update(success=False, code="not_ready", error=f"the service is not ready: {body['message']}")
    return jsonify(body), 503


@bp.get("/api/asr/models")
def models() -> tuple[Response, int]:
    """The loaded models, where they came from and the device."""
    engine = service().engine()
    return jsonify({"success": True, "data": {"device": engine.device, "models": engine.models}}), 200


@bp.get("/api/asr/formats")
def formats() -> tuple[Response, int]:
    """Upload formats and limits."""
    config = settings()
    data = {
        "formats": sorted(SUPPORTED_FORMATS),
        "descriptions": SUPPORTED_FORMATS,
        "detection": "by content; the file name's extension is not trusted",
        "max_upload_mb": config.max_upload_mb,
        "max_audio_s": config.max_audio_s,
        "sample_rate": 16000,
        "languages": list(SENSEVOICE_LANGUAGES),
    }
    return jsonify({"success": True, "data": data}), 200


@bp.post("/api/asr/transcribe")
def transcribe() -> tuple[Response, int]:
    """Transcribe one uploaded audio file into text with sentence timestamps."""
    upload = request.files.get("file")
    if upload is None:
        raise BadRequest("no file: send the audio as multipart/form-data field 'file'")
    if not upload.filename:
        raise BadRequest("the uploaded file has no name")
    config = settings()
    options = RecognitionOptions(
        language=_choice("language", SENSEVOICE_LANGUAGES, config.default_language),
        use_itn=_flag("use_itn", config.use_itn),
        word_timestamps=_flag("word_timestamps", False, query=True),
    )
    try:
        hotwords = parse_extra_hotwords(request.form.get("hotwords"), "field 'hotwords'")
    except HotwordsError as exc:
        raise BadRequest(str(exc)) from None
    output = _output_format(request.form.get("format") or request.args.get("format"))
    request_ = FileRequest(
        upload.stream,
        display_name(upload.filename),
        options,
        # text and subtitles need the sentences, and words come in them
        _flag("generate_timestamps", True) or output != "json" or options.word_timestamps,
        hotwords=hotwords,
        llm_correct=_flag("llm_correct", False),
    )
    result = service().transcribe_file(request_, upload_progress(request.form.get("session_id")))
    if output != "json":
        return _as_text(result.timestamps or (), output, result.filename), 200
    data = result.to_wire()
    return jsonify({"success": True, "data": data, "filename": data["filename"], "mode": data["mode"]}), 200


_MIMETYPES = {"txt": "text/plain", "srt": "application/x-subrip", "vtt": "text/vtt"}
_RENDER = {"txt": to_txt, "srt": to_srt, "vtt": to_vtt}


def _output_format(raw: str | None) -> str:
    """`format` of a result request: json (the default), txt, srt or vtt."""
    chosen = (raw or "json").strip().lower()
    if chosen not in FORMATS:
        raise BadRequest(f"format must be one of {', '.join(FORMATS)}, not {str(raw)[:40]!r}")
    return chosen


def _as_text(sentences: Sequence[Sentence], output: str, name: str) -> Response:
    """Sentences as a UTF-8 text or subtitle download named after `name`."""
    response = Response(_RENDER[output](sentences), content_type=f"{_MIMETYPES[output]}; charset=utf-8")
    stem = name.rsplit(".", 1)[0] if "." in name.strip(".") else name
    response.headers.set("Content-Disposition", "attachment", **_download_names(stem or "transcript", output))
    return response


def _download_names(stem: str, extension: str) -> dict[str, str]:
    """Content-Disposition's file name parameters: a header is Latin-1, so a name that is not ASCII
    goes as RFC 5987 `filename*` (UTF-8), with an ASCII `filename` for clients that only read that."""
    name = f"{stem}.{extension}"
    if name.isascii():
        return {"filename": name}
    simple = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode().strip()
    return {
        "filename": f"{simple or 'transcript'}.{extension}",
        "filename*": f"UTF-8''{quote(name, safe='')}",
    }


@bp.post("/api/asr/subtitles")
def text_of_timestamps() -> tuple[Response, int]:
    """Sentences the client already has (a result's `timestamps`) as TXT, SRT or VTT; transcribes nothing."""
    if request.mimetype != "application/json":
        raise BadRequest("send the transcript as application/json: {timestamps, format, filename?}")
    asked = parse_subtitle_request(_bounded_body(MAX_BODY_BYTES))
    return _as_text(asked.sentences, asked.output, asked.filename), 200


def _bounded_body(limit: int) -> bytes:
    """The request body, refused (BodyTooLarge) from its Content-Length or once `limit` bytes have come."""
    # one byte more than the limit: a chunked body is cut there without an error, so its length tells
    request.max_content_length = limit + 1
    try:
        body = request.get_data(cache=False)
    except RequestEntityTooLarge:  # Content-Length says so before anything is read
        body = None
    if body is None or len(body) > limit:
        raise BodyTooLarge(f"the body is larger than the limit of {limit / 1024 / 1024:g} MB")
    return body


@bp.get("/api/asr/hotwords")
def hotwords() -> tuple[Response, int]:
    """The hotword list in force (re-read first if the file changed), its version and file."""
    return jsonify({"success": True, "data": service().corrector.store.status()}), 200


@bp.post("/api/asr/hotwords/reload")
def reload_hotwords() -> tuple[Response, int]:
    """Read the hotwords file now; a broken file is a 422 and the last good list stays."""
    try:
        data = service().corrector.store.reload()
    except HotwordsError as exc:
        raise InvalidHotwordsFile(str(exc)) from None
    return jsonify({"success": True, "data": data}), 200


@bp.get("/api/asr/backup-audio/<recording_id>")
def backup_audio(recording_id: str) -> Response:
    """The WAV of a live recording (16 kHz mono s16le) for its resume token's holder, until retention."""
    path = _owned_recording(recording_id)
    return send_file(path, mimetype="audio/wav", as_attachment=True, download_name=f"{recording_id}.wav")


@bp.delete("/api/asr/backup-audio/<recording_id>")
def delete_backup_audio(recording_id: str) -> tuple[Response, int]:
    """Delete a recording's backup audio now (not while the recording is still being written)."""
    _owned_recording(recording_id)
    svc = service()
    if svc.ready and svc.engine().sessions.is_running(recording_id):
        raise Conflict(f"recording {recording_id!r} is still running; delete it after its final result")
    if not svc.recordings.delete(recording_id):
        raise NotFound(f"no backup audio with id {recording_id!r}")
    return jsonify({"success": True, "data": {"deleted": recording_id}}), 200


def _owned_recording(recording_id: str) -> Path:
    """The recording's file, if the request carries its resume token (401) and it exists (404)."""
    token = resume_token()
    svc = service()
    path = svc.recordings.existing(recording_id)
    if path is None:
        raise NotFound(f"no backup audio with id {recording_id!r} (it may have expired)")
    live = svc.engine().sessions.session_for(token) if svc.ready else None
    if live is not None and live.session_id == recording_id:
        return path
    if not token_opens(recording_id, token, svc.handoff, svc.results):
        log.info("backup audio %s: refused a resume token that is not this recording's", recording_id)
        raise Unauthorized("the resume token does not belong to this recording")
    return path


@bp.get("/api/asr/sessions/<session_id>/result")
def session_result(session_id: str) -> tuple[Response, int]:
    """A finished live session's final_result, for its resume token's holder."""
    token = resume_token()
    try:
        result = service().results.load(session_id, token)
    except KeyError:
        raise NotFound(f"no finished result for session {session_id!r} (still running, or expired)") from None
    except PermissionError:
        raise Unauthorized("the resume token does not match this session") from None
    output = _output_format(request.args.get("format"))
    if output != "json":
        timed = result.get("timestamps") or []
        sentences = [Sentence.from_wire(t) for t in timed]
        return _as_text(sentences, output, session_id), 200
    return jsonify({"success": True, "data": result}), 200


def _flag(name: str, default: bool, query: bool = False) -> bool:
    """A true/false form field; with `query`, the URL's query parameter when the form has none."""
    raw = request.form.get(name)
    if raw is None and query:
        raw = request.args.get(name)
    if raw is None or raw.strip() == "":
        return default
    low = raw.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise BadRequest(f"field {name!r} must be true or false, got {raw[:40]!r}")


def _choice(name: str, allowed: tuple[str, ...], default: str) -> str:
    raw = (request.form.get(name) or "").strip()
    if not raw:
        return default
    if raw not in allowed:
        raise BadRequest(f"field {name!r} must be one of {', '.join(allowed)}, got {raw[:40]!r}")
    return raw


def register_error_handlers(app: Flask) -> None:
    """Every failure leaves as the JSON error shape; unexpected ones get an id that is also logged."""

    @app.errorhandler(ServiceError)
    def _service_error(exc: ServiceError) -> tuple[Response, int]:
        log.info("%s %s -> %d %s: %s", request.method, request.path, exc.status, exc.code, exc.message)
        return error_response(exc.status, exc.code, exc.message)

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(_exc: RequestEntityTooLarge) -> tuple[Response, int]:
        limit = settings().max_upload_mb
        log.info("%s %s -> 413 upload over %g MB", request.method, request.path, limit)
        return error_response(413, "upload_too_large", f"upload is larger than the limit of {limit:g} MB")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> tuple[Response, int]:
        status = exc.code or 500
        code, message = _HTTP_CODES.get(status, "http_error"), exc.description or exc.name
        log.info("%s %s -> %d %s: %s", request.method, request.path, status, code, message)
        return error_response(status, code, message)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> tuple[Response, int]:
        error_id = uuid.uuid4().hex[:12]
        log.exception("error_id=%s unexpected failure on %s %s", error_id, request.method, request.path)
        return error_response(
            500, "internal_error", f"internal error (error id {error_id}); the service keeps running"
        )
