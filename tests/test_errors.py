"""The core's errors: each a stable code with the HTTP status that fits it; SessionError's payload."""

from __future__ import annotations

import pytest

from asr_service import errors
from asr_service.errors import ServiceError, SessionError

EXPECTED = {
    errors.ServiceError: ("internal_error", 500),
    errors.BadRequest: ("bad_request", 400),
    errors.MalformedForm: ("bad_multipart", 400),
    errors.TooManyParts: ("too_many_parts", 413),
    errors.FieldTooLarge: ("form_field_too_large", 413),
    errors.EmptyUpload: ("empty_file", 400),
    errors.BadTimestamps: ("bad_timestamps", 400),
    errors.BodyTooLarge: ("body_too_large", 413),
    errors.UnsupportedMedia: ("unsupported_media", 415),
    errors.AudioTooLong: ("audio_too_long", 413),
    errors.DecodeLimit: ("decode_limit", 413),
    errors.Busy: ("busy", 503),
    errors.InvalidHotwordsFile: ("invalid_hotwords_file", 422),
    errors.NotReady: ("not_ready", 503),
}


@pytest.mark.parametrize(("kind", "code_status"), EXPECTED.items(), ids=lambda x: getattr(x, "__name__", ""))
def test_each_error_has_its_code_status_and_message(kind: type[ServiceError], code_status: tuple) -> None:
    error = kind("what went wrong")
    assert (error.code, error.status) == code_status
    assert error.message == str(error) == "what went wrong"
    assert isinstance(error, ServiceError)


def test_every_service_error_is_listed_and_codes_are_unique() -> None:
    defined = {
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, ServiceError)
    }
    assert defined == set(EXPECTED)
    assert len({kind.code for kind in defined}) == len(defined)


def test_an_empty_upload_is_a_bad_request() -> None:
    assert issubclass(errors.EmptyUpload, errors.BadRequest)


def test_a_session_error_is_sent_as_code_and_message() -> None:
    error = SessionError("session_not_found", "no such session")
    assert error.payload() == {"code": "session_not_found", "message": "no such session"}
    assert str(error) == "no such session" and not isinstance(error, ServiceError)
