"""The hotwords.json format, request hotwords, and the store's reload by API call and by file change."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from asr_service.hotwords import (
    DEFAULT_WEIGHT,
    MAX_EXTRA_HOTWORDS,
    HotwordsError,
    HotwordStore,
    Vocabulary,
    parse_extra_hotwords,
    parse_vocabulary,
)

from .conftest import ROOT


def _write(path: Path, data: object | str, bump: int = 0) -> None:
    """Write the file and move its mtime on, so a change is visible even within one clock tick."""
    path.write_text(data if isinstance(data, str) else json.dumps(data, ensure_ascii=False), encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + bump * 1_000_000_000))


def test_old_format_list_gets_the_default_weight() -> None:
    vocabulary = parse_vocabulary('{"hotwords": ["DAC", " SLA ", "DAC"], "description": "x"}', "f")
    assert dict(vocabulary.weights) == {"DAC": DEFAULT_WEIGHT, "SLA": DEFAULT_WEIGHT}
    assert vocabulary.description == "x" and dict(vocabulary.corrections) == {}


def test_weights_and_corrections_and_heaviest_first() -> None:
    text = '{"hotwords": {"DAC": 5, "星御": 20, "SLA": 5}, "corrections": {"行驶": "星御", "同": "同"}}'
    vocabulary = parse_vocabulary(text, "f")
    assert vocabulary.words == ["星御", "DAC", "SLA"]
    assert dict(vocabulary.corrections) == {"行驶": "星御"}  # a no-op correction is dropped


def test_request_words_add_to_the_file_and_keep_file_weights() -> None:
    merged = Vocabulary({"星御": 20}).with_words(["SLA", "星御"])
    assert dict(merged.weights) == {"星御": 20, "SLA": DEFAULT_WEIGHT}


def test_bad_json_names_line_and_column() -> None:
    with pytest.raises(HotwordsError, match=r"hot\.json is not valid JSON: .* line 2 column 22 \(char 23\)"):
        parse_vocabulary('{\n  "hotwords": ["DAC",]\n}', "hot.json")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('["DAC"]', "JSON object"),
        ('{"hotwords": "DAC"}', "'hotwords' must be"),
        ('{"hotwords": ["DAC", 3]}', "hotword 3"),
        ('{"hotwords": {"DAC": "high"}}', "weight of 'DAC'"),
        ('{"hotwords": {"DAC": 0}}', "weight of 'DAC'"),
        ('{"hotwords": {"DAC": true}}', "weight of 'DAC'"),
        ('{"corrections": ["a"]}', "'corrections' must be"),
        ('{"corrections": {"行驶": ""}}', "correction of '行驶'"),
        ('{"hotwords": ["' + "字" * 41 + '"]}', "longer than 40"),
        ('{"description": 1}', "'description'"),
    ],
)
def test_schema_errors_name_the_field(text: str, fragment: str) -> None:
    with pytest.raises(HotwordsError, match=fragment):
        parse_vocabulary(text, "f")


def test_shipped_file_is_in_the_old_format_and_parses() -> None:
    raw = json.loads((ROOT / "hotwords.json").read_text(encoding="utf-8"))
    assert isinstance(raw["hotwords"], list) and isinstance(raw["description"], str)
    words = set(parse_vocabulary(json.dumps(raw), "hotwords.json").weights)
    assert {"DAC", "SLA", "星御", "备份演练"} <= words


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, ()),
        ("", ()),
        ("星御, SLA，DAC,,", ("星御", "SLA", "DAC")),
        ('["星御", " SLA ", "星御"]', ("星御", "SLA")),
        (["DAC", ""], ("DAC",)),
    ],
)
def test_request_hotwords_forms(raw: object, expected: tuple[str, ...]) -> None:
    assert parse_extra_hotwords(raw, "hotwords") == expected


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (5, "list of strings"),
        (["a", 1], "list of strings"),
        ("[1, 2", "not a valid JSON array"),
        ([f"w{i}" for i in range(MAX_EXTRA_HOTWORDS + 1)], f"at most {MAX_EXTRA_HOTWORDS}"),
        (["x" * 41], "longer than 40"),
    ],
)
def test_bad_request_hotwords(raw: object, fragment: str) -> None:
    with pytest.raises(HotwordsError, match=fragment):
        parse_extra_hotwords(raw, "hotwords")


def test_missing_file_is_an_empty_list_without_error(tmp_path: Path) -> None:
    status = HotwordStore(tmp_path / "none.json").status()
    assert status["count"] == 0 and status["version"] == 0 and status["error"] is None
    assert status["file_exists"] is False and status["file"].endswith("none.json")


def test_file_change_is_picked_up_without_a_call_to_reload(tmp_path: Path) -> None:
    path = tmp_path / "hotwords.json"
    _write(path, {"hotwords": ["DAC"]})
    store = HotwordStore(path)
    assert list(store.current().weights) == ["DAC"]
    _write(path, {"hotwords": {"DAC": 10, "星御": 20}}, bump=2)
    assert store.current().words == ["星御", "DAC"]
    status = store.status()
    assert status["version"] == 2 and status["count"] == 2 and status["loaded_at"]


def test_unchanged_content_keeps_its_version(tmp_path: Path) -> None:
    path = tmp_path / "hotwords.json"
    _write(path, {"hotwords": ["DAC"]})
    store = HotwordStore(path)
    assert store.status()["version"] == 1
    _write(path, {"hotwords": ["DAC"]}, bump=2)  # touched, same words
    assert store.reload()["version"] == 1


def test_broken_file_keeps_the_last_good_list_and_reports_the_position(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "hotwords.json"
    _write(path, {"hotwords": ["DAC"]})
    store = HotwordStore(path)
    store.current()
    _write(path, '{"hotwords": ["DAC", "SLA"', bump=2)
    assert list(store.current().weights) == ["DAC"]
    status = store.status()
    assert "line 1 column" in status["error"] and "keeping version 1" in status["error"]
    assert any("not valid JSON" in r.getMessage() for r in caplog.records)
    with pytest.raises(HotwordsError, match="line 1 column"):
        store.reload()
    _write(path, {"hotwords": ["DAC", "SLA"]}, bump=4)
    assert store.reload()["hotwords"] == ["DAC", "SLA"]
    assert store.status()["error"] is None and store.status()["version"] == 2


def test_a_file_that_disappears_keeps_its_words(tmp_path: Path) -> None:
    path = tmp_path / "hotwords.json"
    _write(path, {"hotwords": ["DAC"]})
    store = HotwordStore(path)
    store.current()
    path.unlink()
    assert list(store.current().weights) == ["DAC"]
    assert "missing" in store.status()["error"]


def test_replaced_file_in_a_mounted_directory_is_picked_up(tmp_path: Path) -> None:
    """Editors and `docker cp` replace the file (new inode) rather than rewrite it."""
    path = tmp_path / "hotwords.json"
    _write(path, {"hotwords": ["DAC"]})
    store = HotwordStore(path)
    store.current()
    staged = tmp_path / "new.json"
    _write(staged, {"hotwords": ["SLA"]})
    os.utime(staged, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns))  # even with the same mtime
    staged.replace(path)
    assert list(store.current().weights) == ["SLA"]
