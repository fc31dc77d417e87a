"""Errors the core raises, each with a stable machine code and the HTTP status that fits it."""

from __future__ import annotations


class ServiceError(Exception):
    """A failure the client can act on: `code` is stable, `message` is for people."""

    code = "internal_error"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(ServiceError):
    """The request is missing something or has a malformed field."""

    code = "bad_request"
    status = 400


class EmptyUpload(BadRequest):
    """The uploaded file has no bytes."""

    code = "empty_file"


class MalformedForm(BadRequest):
    """The multipart body cannot be parsed (no boundary, or one the body never uses)."""

    code = "bad_multipart"


class BadTimestamps(BadRequest):
    """The `timestamps` of a transcript sent to be formatted are missing or malformed."""

    code = "bad_timestamps"


class BodyTooLarge(ServiceError):
    """A request body other than an upload is over its own limit (POST /api/asr/subtitles)."""

    code = "body_too_large"
    status = 413


class TooManyParts(ServiceError):
    """The form has more parts than MAX_FORM_PARTS."""

    code = "too_many_parts"
    status = 413


class FieldTooLarge(ServiceError):
    """A non-file form field is larger than MAX_FORM_MEMORY_SIZE."""

    code = "form_field_too_large"
    status = 413


class UnsupportedMedia(ServiceError):
    """The upload is not audio the decoder can read (wrong type, corrupt or truncated)."""

    code = "unsupported_media"
    status = 415


class AudioTooLong(ServiceError):
    """The decoded audio is longer than ASR_MAX_AUDIO_S."""

    code = "audio_too_long"
    status = 413


class DecodeLimit(ServiceError):
    """Decoding the upload would cost far more than its size justifies (a decoder bomb)."""

    code = "decode_limit"
    status = 413


class Busy(ServiceError):
    """ASR_MAX_UPLOADS uploads are already being transcribed; try again shortly."""

    code = "busy"
    status = 503


class InvalidHotwordsFile(ServiceError):
    """The hotwords file cannot be used; the last good list stays in force."""

    code = "invalid_hotwords_file"
    status = 422


class NotReady(ServiceError):
    """Models are still loading (or failed to load)."""

    code = "not_ready"
    status = 503


class SessionError(Exception):
    """A Socket.IO request that cannot be honoured; sent to the client as `error {code, message}`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def payload(self) -> dict[str, str]:
        """The `error` event body."""
        return {"code": self.code, "message": self.message}
