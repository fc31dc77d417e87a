"""Multipart form parsing that says which limit a body broke, instead of one "too large" for all.

Werkzeug raises the same bare RequestEntityTooLarge for a body over MAX_CONTENT_LENGTH, for more
than MAX_FORM_PARTS parts and for a field (or, with a boundary the body never uses, the whole
unparsed preamble) over MAX_FORM_MEMORY_SIZE, and silently answers an unparsable body with an
empty form. Counting the boundary lines as the parser reads tells these cases apart.
"""

from __future__ import annotations

from typing import IO, Any

from flask import Request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser

from .errors import FieldTooLarge, MalformedForm, ServiceError, TooManyParts


class BoundaryCounter:
    """A read-only stream wrapper counting the delimiter lines (`--boundary`) that passed through."""

    def __init__(self, stream: IO[bytes], boundary: str) -> None:
        self.boundary = boundary
        self._stream = stream
        self._delimiter = b"\r\n--" + boundary.encode("latin-1", "replace")
        self._tail = b"\r\n"  # the body's first line is a delimiter line too
        self.count = 0
        self.over_content_limit = False  # the stream itself refused: the body is over MAX_CONTENT_LENGTH

    def read(self, size: int = -1) -> bytes:
        """Read from the wrapped stream, counting delimiters (also those split across reads)."""
        try:
            data = self._stream.read(size)
        except RequestEntityTooLarge:
            self.over_content_limit = True
            raise
        window = self._tail + data
        self.count += window.count(self._delimiter)
        self._tail = window[-(len(self._delimiter) - 1) :]
        return data


class CountingFormParser(FormDataParser):
    """werkzeug's parser, with each failure of a multipart body turned into its own error."""

    def parse(
        self,
        stream: IO[bytes],
        mimetype: str,
        content_length: int | None,
        options: dict[str, str] | None = None,
    ) -> Any:
        """Parse like werkzeug; MalformedForm, TooManyParts or FieldTooLarge where it would give up."""
        if mimetype != "multipart/form-data":
            return super().parse(stream, mimetype, content_length, options)
        boundary = (options or {}).get("boundary", "")
        if not boundary:
            raise MalformedForm("the multipart/form-data Content-Type has no boundary parameter")
        counter = BoundaryCounter(stream, boundary)
        self.silent = False  # this parser serves one request: let ValueError out, to say what is wrong
        try:
            _, form, files = super().parse(counter, mimetype, content_length, options)  # type: ignore[arg-type]
        except RequestEntityTooLarge:
            if counter.over_content_limit:
                raise  # the upload limit, answered as upload_too_large
            raise self._why_too_large(counter) from None
        except ValueError as exc:
            if counter.count == 0:
                raise _boundary_not_found(boundary) from None
            raise MalformedForm(f"the multipart body is malformed: {exc}") from None
        return stream, form, files

    def _why_too_large(self, counter: BoundaryCounter) -> ServiceError:
        parts = self.max_form_parts
        if counter.count == 0:
            return _boundary_not_found(counter.boundary)
        if parts is not None and counter.count > parts:
            return TooManyParts(f"the form has more than {parts} parts")
        limit_kb = (self.max_form_memory_size or 0) / 1024
        return FieldTooLarge(f"a form field other than a file is larger than {limit_kb:g} KB")


def _boundary_not_found(boundary: str) -> MalformedForm:
    return MalformedForm(
        f"the multipart body does not contain the boundary its Content-Type declares ({boundary[:70]!r})"
    )


class FormRequest(Request):
    """Flask's request with CountingFormParser for form bodies."""

    form_data_parser_class = CountingFormParser
