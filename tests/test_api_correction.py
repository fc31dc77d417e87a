"""REST: the hotwords endpoints, and hotwords and llm_correct on /api/asr/transcribe with known text."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from flask.testing import FlaskClient

from asr_service.app import create_app
from asr_service.config import Settings
from asr_service.correction import Corrector
from asr_service.data_stores import open_stores
from asr_service.engine import ModelRoles, build_engine
from asr_service.roles import Heard, RecognitionOptions, Span, Word
from asr_service.service import AsrService

from .fakes import FixedDetector, NoSpeechStream, PlainPunctuator, SilentStream
from .llm_server import FakeLlm, Reply, rewrite

TEXTS = ["今天讨论星宇的上线。", "the sla is ready."]


LANGUAGES = ["zh", "en"]
WORDS = [
    tuple(Word(c, 200 * i, 200 * i + 200) for i, c in enumerate(TEXTS[0])),
    (
        Word("the", 0, 300),
        Word("sla", 400, 800),
        Word("is", 900, 1100),
        Word("ready", 1200, 1800),
        Word(".", 1800, 2000),
    ),
]


class ScriptedRecognizer:
    """Says the same sentences for every call, in order, with word times when asked."""

    def recognize(self, clips: Sequence[np.ndarray], options: RecognitionOptions) -> list[Heard]:
        return [
            Heard(text, language, None, (), words if options.word_timestamps else None)
            for text, language, words in zip(TEXTS[: len(clips)], LANGUAGES, WORDS, strict=False)
        ]


@pytest.fixture
def llm() -> Iterator[FakeLlm]:
    server = FakeLlm(rewrite(lambda text: text.replace("上线", "发布")))
    yield server
    server.close()


@pytest.fixture
def hotwords_file(tmp_path: Path) -> Path:
    path = tmp_path / "hotwords.json"
    path.write_text(json.dumps({"hotwords": ["DAC"], "description": "test"}), encoding="utf-8")
    return path


def _client(tmp_path: Path, hotwords_file: Path, llm_url: str | None = None) -> Iterator[FlaskClient]:
    env = {"ASR_DATA_DIR": str(tmp_path / "data"), "HOTWORDS_FILE": str(hotwords_file)}
    if llm_url:
        env["LLM_API_URL"] = llm_url
    settings = Settings.from_env(env)
    roles = ModelRoles(
        vad=FixedDetector([Span(500, 2500), Span(3000, 5000)]),
        offline=ScriptedRecognizer(),
        streaming_vad=NoSpeechStream(),
        streaming=SilentStream(),
        punc=PlainPunctuator(),
    )
    corrector = Corrector.from_settings(settings)
    stores = open_stores(settings)
    engine = build_engine(settings, roles, stores, "x", "cpu", [], corrector)
    service = AsrService(settings, lambda: engine, corrector, stores)
    service.load()
    app, _ = create_app(settings, service)
    with app.test_client() as client:
        yield client
    service.close()


@pytest.fixture
def client(tmp_path: Path, hotwords_file: Path) -> Iterator[FlaskClient]:
    yield from _client(tmp_path, hotwords_file)


@pytest.fixture
def llm_client(tmp_path: Path, hotwords_file: Path, llm: FakeLlm) -> Iterator[FlaskClient]:
    yield from _client(tmp_path, hotwords_file, llm.url)


@pytest.fixture(scope="module")
def wav() -> bytes:
    out = io.BytesIO()
    sf.write(out, np.zeros(16000 * 6, dtype=np.float32), 16000, format="WAV")
    return out.getvalue()


def _transcribe(client: FlaskClient, wav: bytes, **fields: str) -> Any:
    form: dict[str, Any] = {"file": (io.BytesIO(wav), "a.wav"), **fields}
    return client.post("/api/asr/transcribe", data=form, content_type="multipart/form-data")


def test_hotwords_list_count_version_and_file(client: FlaskClient, hotwords_file: Path) -> None:
    body = client.get("/api/asr/hotwords").get_json()
    data = body["data"]
    assert body["success"] is True
    assert data["hotwords"] == ["DAC"] and data["count"] == 1 and data["version"] == 1
    assert data["file"] == str(hotwords_file.resolve()) and data["error"] is None


def test_reload_by_api_and_by_file_change(client: FlaskClient, hotwords_file: Path) -> None:
    client.get("/api/asr/hotwords")
    hotwords_file.write_text(json.dumps({"hotwords": {"DAC": 5, "星御": 20}}), encoding="utf-8")
    reloaded = client.post("/api/asr/hotwords/reload").get_json()["data"]
    assert reloaded["hotwords"] == ["星御", "DAC"] and reloaded["version"] == 2
    hotwords_file.write_text(
        json.dumps({"hotwords": ["SLA"], "corrections": {"行驶": "星御"}}), encoding="utf-8"
    )
    stat = hotwords_file.stat()
    os.utime(hotwords_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
    data = client.get("/api/asr/hotwords").get_json()["data"]
    assert data["hotwords"] == ["SLA"] and data["corrections"] == {"行驶": "星御"} and data["version"] == 3


def test_broken_file_is_a_422_and_the_last_good_list_stays(client: FlaskClient, hotwords_file: Path) -> None:
    client.get("/api/asr/hotwords")
    hotwords_file.write_text('{"hotwords": ["DAC" "SLA"]}', encoding="utf-8")
    response = client.post("/api/asr/hotwords/reload")
    body = response.get_json()
    assert response.status_code == 422 and body["code"] == "invalid_hotwords_file"
    assert "line 1 column 21" in body["error"]
    data = client.get("/api/asr/hotwords").get_json()["data"]
    assert data["hotwords"] == ["DAC"] and data["version"] == 1 and "line 1 column 21" in data["error"]


def test_request_hotwords_fix_the_text_and_report_the_corrections(client: FlaskClient, wav: bytes) -> None:
    data = _transcribe(client, wav, hotwords="星御,SLA").get_json()["data"]
    assert data["text"] == "今天讨论星御的上线。the SLA is ready."
    assert [t["text"] for t in data["timestamps"]] == ["今天讨论星御的上线。", "the SLA is ready."]
    assert data["corrections"] == [
        {"from": "星宇", "to": "星御", "start_ms": 500, "end_ms": 2500, "rule": "pinyin"},
        {"from": "sla", "to": "SLA", "start_ms": 3000, "end_ms": 5000, "rule": "case"},
    ]
    assert data["llm_status"] == "disabled"


def test_without_request_hotwords_the_file_list_alone_applies(client: FlaskClient, wav: bytes) -> None:
    data = _transcribe(client, wav).get_json()["data"]
    assert data["text"] == "今天讨论星宇的上线。the sla is ready." and data["corrections"] == []


def test_bad_hotwords_field_is_a_400(client: FlaskClient, wav: bytes) -> None:
    body = _transcribe(client, wav, hotwords='["DAC", 3]').get_json()
    assert body["code"] == "bad_request" and "hotwords" in body["error"]


def test_llm_correct_gives_corrected_text_and_timestamps(
    llm_client: FlaskClient, llm: FakeLlm, wav: bytes
) -> None:
    data = _transcribe(llm_client, wav, hotwords="星御", llm_correct="true").get_json()["data"]
    assert data["llm_status"] == "ok"
    assert data["text"] == "今天讨论星御的发布。the sla is ready."
    heard: dict[str, Any] = {"language": "zh", "emotion": None, "events": []}
    assert data["timestamps"][0] == {"text": "今天讨论星御的发布。", "start_ms": 500, "end_ms": 2500, **heard}
    assert (data["language"], data["language_requested"]) == ("zh", "auto")  # zh and en tie: the first
    assert data["llm_windows"] == [
        {"start_ms": 500, "end_ms": 5000, "sentences": 2, "status": "ok", "changed": 1, "rejected": 0}
    ]
    [request] = llm.requests
    assert request.prompt["hotwords"] == ["DAC", "星御"]
    assert request.prompt["sentences"][0]["text"] == "今天讨论星御的上线。"  # hotwords applied first


def test_hotword_and_llm_edits_keep_the_word_times(llm_client: FlaskClient, llm: FakeLlm, wav: bytes) -> None:
    asked = _transcribe(llm_client, wav, hotwords="星御,SLA", llm_correct="true", word_timestamps="true")
    data = asked.get_json()["data"]
    assert data["text"] == "今天讨论星御的发布。the SLA is ready."
    chinese, english = (
        [(w["text"], w["start_ms"], w["end_ms"]) for w in s["words"]] for s in data["timestamps"]
    )
    # 星宇 -> 星御 (hotword), 上线 -> 发布 (LLM): each replaced character keeps its 200 ms
    assert chinese == [(c, 500 + 200 * i, 700 + 200 * i) for i, c in enumerate("今天讨论星御的发布。")]
    assert english == [
        ("the", 3000, 3300),
        ("SLA", 3400, 3800),
        ("is", 3900, 4100),
        ("ready", 4200, 4800),
        (".", 4800, 5000),
    ]
    assert all(set(s) == {"text", "start_ms", "end_ms"} for s in llm.requests[0].prompt["sentences"])


def test_llm_is_not_called_unless_asked(llm_client: FlaskClient, llm: FakeLlm, wav: bytes) -> None:
    data = _transcribe(llm_client, wav).get_json()["data"]
    assert data["llm_status"] == "off" and llm.requests == [] and "llm_windows" not in data


def test_a_failing_llm_never_breaks_the_result(llm_client: FlaskClient, llm: FakeLlm, wav: bytes) -> None:
    llm.script = lambda _req: Reply(status=500, body=b"internal")
    response = _transcribe(llm_client, wav, llm_correct="1")
    data = response.get_json()["data"]
    assert response.status_code == 200 and data["llm_status"] == "http_error"
    assert data["text"] == "今天讨论星宇的上线。the sla is ready."
