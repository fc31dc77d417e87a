"""Multipart parsing that names the limit a body broke: bad body, too many parts, field too large."""

from __future__ import annotations

import io

import pytest
from flask import Flask, request
from werkzeug.exceptions import RequestEntityTooLarge

from asr_service.errors import ServiceError
from asr_service.multipart import BoundaryCounter, FieldTooLarge, FormRequest, MalformedForm, TooManyParts


def _app() -> Flask:
    app = Flask(__name__)
    app.request_class = FormRequest
    app.config.update(MAX_CONTENT_LENGTH=100_000, MAX_FORM_PARTS=5, MAX_FORM_MEMORY_SIZE=1000)
    return app


def _field(name: str, value: str, boundary: str = "b") -> str:
    return f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'


def _form(body: str | bytes, content_type: str = "multipart/form-data; boundary=b") -> dict[str, str]:
    data = body.encode() if isinstance(body, str) else body
    with _app().test_request_context(method="POST", data=data, content_type=content_type):
        return dict(request.form)


def test_a_well_formed_form_parses() -> None:
    assert _form(_field("language", "zh") + _field("use_itn", "true") + "--b--\r\n") == {
        "language": "zh",
        "use_itn": "true",
    }


def _refused(body: str | bytes, content_type: str = "multipart/form-data; boundary=b") -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        _form(body, content_type)
    return caught.value


def test_each_broken_limit_has_its_own_error() -> None:
    many = "".join(_field(f"f{i}", "x") for i in range(6)) + "--b--\r\n"
    too_many = _refused(many)
    assert isinstance(too_many, TooManyParts) and (too_many.code, too_many.status) == ("too_many_parts", 413)
    large = _refused(_field("hotwords", "x" * 2000) + "--b--\r\n")
    assert isinstance(large, FieldTooLarge) and (large.code, large.status) == ("form_field_too_large", 413)
    assert "0.976562 KB" in large.message


def test_a_body_without_its_boundary_or_a_content_type_without_one_is_malformed() -> None:
    missing = _refused(_field("a", "1", boundary="other") + "--other--\r\n")
    assert isinstance(missing, MalformedForm) and "does not contain the boundary" in missing.message
    assert (missing.code, missing.status) == ("bad_multipart", 400)
    no_param = _refused("x", content_type="multipart/form-data")
    assert isinstance(no_param, MalformedForm) and "no boundary parameter" in no_param.message
    cut = _refused('--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nunfinished')
    assert isinstance(cut, MalformedForm) and "malformed" in cut.message


def test_a_body_over_the_content_limit_stays_the_upload_limit() -> None:
    with pytest.raises(RequestEntityTooLarge):
        _form(_field("f", "x" * 200_000))


def test_other_form_types_are_left_to_werkzeug() -> None:
    assert _form("a=1&b=2", content_type="application/x-www-form-urlencoded") == {"a": "1", "b": "2"}


def test_delimiters_are_counted_also_when_split_across_reads() -> None:
    body = (_field("a", "1") + _field("b", "2") + "--b--\r\n").encode()
    counter = BoundaryCounter(io.BytesIO(body), "b")
    while counter.read(3):  # every delimiter is split by some 3-byte read
        pass
    assert counter.count == 3  # two parts and the closing delimiter
    assert not counter.over_content_limit
