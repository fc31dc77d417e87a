"""display_name: what the client called its upload, made safe to echo back."""

from __future__ import annotations

import pytest

from asr_service.filenames import FALLBACK_NAME, MAX_NAME_CHARS, display_name


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\m\0e\x1b[31m.wav", "me[31m.wav"),
        ("<img src=x onerror=1>.wav", "img src=x onerror=1.wav"),
        ("会议\u202e3pm.wav", "会议3pm.wav"),  # a bidi override would reverse what people read
        ("a\u200bb\u2028c.mp3", "abc.mp3"),  # zero-width and line separators
        ("  two\u3000\u00a0spaces   here .wav ", "two spaces here .wav"),  # odd blanks: one space
        ("tab\there.wav", "tabhere.wav"),  # a tab is a control character: dropped, not a blank
        ("录音 2024.m4a", "录音 2024.m4a"),
    ],
)
def test_names_keep_their_last_component_without_control_characters(raw: str, shown: str) -> None:
    assert display_name(raw) == shown


@pytest.mark.parametrize("raw", ["", "dir/", "..", "...", "\x00\x01", "a/\u200b"])
def test_a_name_with_nothing_left_is_the_fallback(raw: str) -> None:
    assert display_name(raw) == FALLBACK_NAME


def test_a_long_name_is_cut_keeping_its_extension() -> None:
    long_name = display_name("a" * 10_000 + ".wav")
    assert len(long_name) == MAX_NAME_CHARS == 120 and long_name == "a" * 116 + ".wav"
    assert display_name("b" * 50 + ".flac", limit=20) == "b" * 15 + ".flac"


def test_a_long_name_without_a_short_extension_is_simply_cut() -> None:
    assert display_name("c" * 200) == "c" * 120
    assert display_name("x." + "d" * 200, limit=30) == ("x." + "d" * 200)[:30]  # 200-char "extension"
