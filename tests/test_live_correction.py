"""Hotwords and LLM correction of live recordings: in-process sessions with known text, and a real server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from asr_service.config import Settings
from asr_service.correction import Corrector
from asr_service.errors import SessionError
from asr_service.live_types import LiveModels, SessionLimits, SessionOptions, SessionState
from asr_service.realtime import parse_options
from asr_service.recording_session import RecordingSession
from asr_service.results import ResultStore
from asr_service.roles import Heard, RecognitionOptions, Word
from asr_service.scheduler import ModelWorker, OnWorker, Priority, StepBatcher
from asr_service.spool import RecordingStore

from .conftest import LiveServer, start_server, stop_server
from .fakes import EventSink
from .live_fakes import BracketPunc, ClockVad, CountingAsr, SentenceView, named, wait_until
from .live_fakes import pcm as _pcm
from .llm_server import FakeLlm, Reply, rewrite
from .socket_client import RecordingClient


class SayingRecognizer:
    """Recognises the n-th segment as '第n段讲星宇' in Chinese, a character every 200 ms when asked."""

    def __init__(self) -> None:
        self.count = 0

    def recognize(self, clips: Sequence[np.ndarray], options: RecognitionOptions) -> list[Heard]:
        self.count += 1
        text = f"第{self.count}段讲星宇"
        words = tuple(Word(c, 200 * i, 200 * i + 200) for i, c in enumerate(text))
        return [Heard(text, "zh", "neutral", (), words if options.word_timestamps else None) for _ in clips]


@pytest.fixture
def llm() -> Iterator[FakeLlm]:
    server = FakeLlm(rewrite(lambda text: text.replace("段", "节")))
    yield server
    server.close()


def _session(
    tmp_path: Path, workers: list[ModelWorker], llm_url: str | None, options: SessionOptions
) -> tuple[RecordingSession, list[tuple[str, Any]], threading.Event]:
    env = {"HOTWORDS_FILE": str(tmp_path / "none.json"), "LLM_WINDOW_SENTENCES": "1"}
    if llm_url:
        env["LLM_API_URL"] = llm_url
    models = LiveModels(
        vad=OnWorker(ClockVad(), workers[0], Priority.REALTIME),
        asr=StepBatcher(CountingAsr(), workers[1], Priority.REALTIME),
        punc=OnWorker(BracketPunc(), workers[2], Priority.REALTIME),
        offline=OnWorker(SayingRecognizer(), workers[3], Priority.SECOND_PASS),
    )
    session = RecordingSession(
        models,
        RecordingStore(tmp_path / "rec", 3600),
        ResultStore(tmp_path / "res", 3600),
        SessionLimits(),
        corrector=Corrector.from_settings(Settings.from_env(env)),
    )
    sink = EventSink()
    session.start(options, sink)
    return session, sink.events, sink.done


def _feed(session: RecordingSession, pcm: bytes) -> None:
    for start in range(0, len(pcm), 32000):
        session.feed(pcm[start : start + 32000])


def _final(events: list[tuple[str, Any]]) -> dict[str, Any]:
    return next(p for e, p in events if e == "final_result")


def _words(text: str, start_ms: int) -> list[dict[str, Any]]:
    return [
        {"text": c, "start_ms": start_ms + 200 * i, "end_ms": start_ms + 200 * i + 200}
        for i, c in enumerate(text)
    ]


def test_llm_windows_run_during_the_recording_and_correct_the_final_result(
    tmp_path: Path, workers: list[ModelWorker], llm: FakeLlm
) -> None:
    options = SessionOptions(hotwords=("星御",), llm_correct=True, word_timestamps=True)
    session, events, done = _session(tmp_path, workers, llm.url, options)
    pcm = _pcm(6.0)
    _feed(session, pcm[:56000])  # 1.75 s: the first segment (1.0-2.6 s) is still open
    _feed(session, pcm[56000:112000])  # 3.5 s: it closed, and its window goes out once recognised
    [first] = llm.wait_for_requests(1)
    assert session.state is SessionState.RECORDING
    assert first.prompt["sentences"] == [{"text": "第1段讲星御", "start_ms": 1000, "end_ms": 2600}]
    assert first.prompt["hotwords"] == ["星御"]
    assert first.prompt["first_pass"]  # the live text of the same segment
    _feed(session, pcm[112000:])
    session.stop()
    assert done.wait(30)
    final = _final(events)
    assert final["sensevoice"] == "第1段讲星御第2段讲星御"
    assert final["llm_merged"] == "第1节讲星御第2节讲星御" and final["llm_merged_length"] == 12
    heard = {"language": "zh", "emotion": "neutral", "events": []}
    # hotword replacement and the LLM each changed one character: every word keeps its time
    assert final["timestamps"] == [
        {
            "text": "第1节讲星御",
            "start_ms": 1000,
            "end_ms": 2600,
            **heard,
            "words": _words("第1节讲星御", 1000),
        },
        {
            "text": "第2节讲星御",
            "start_ms": 4000,
            "end_ms": 6000,
            **heard,
            "words": _words("第2节讲星御", 4000),
        },
    ]
    assert (final["language"], final["language_requested"]) == ("zh", "auto")
    assert final["corrections"] == [
        {"from": "星宇", "to": "星御", "start_ms": 1000, "end_ms": 2600, "rule": "pinyin"},
        {"from": "星宇", "to": "星御", "start_ms": 4000, "end_ms": 6000, "rule": "pinyin"},
    ]
    assert final["llm_status"] == "ok" and len(final["llm_windows"]) == 2
    stages = [p["stage"] for e, p in events if e == "processing_progress"]
    assert stages[-2:] == ["llm_correction", "done"]


def test_llm_corrections_reach_the_client_as_updates_before_the_final_result(
    tmp_path: Path, workers: list[ModelWorker], llm: FakeLlm
) -> None:
    options = SessionOptions(hotwords=("星御",), llm_correct=True)
    session, events, done = _session(tmp_path, workers, llm.url, options)
    pcm = _pcm(6.0)
    _feed(session, pcm[:112000])  # 3.5 s: the first segment (1.0-2.6 s) closed
    wait_until(lambda: bool(named(events, "sentence_update")))  # its window is done: while recording
    assert session.state is SessionState.RECORDING
    heard = {"language": "zh", "emotion": "neutral", "events": []}  # what the fake recognizer hears
    first = {
        "text": "第1段讲星御",
        "start_ms": 1000,
        "end_ms": 2600,
        **heard,
    }  # hotwords replaced, before the LLM
    assert named(events, "sentence_final") == [{"index": 0, "revision": 0, **first}]
    update = {"index": 0, "revision": 1, **first, "text": "第1节讲星御", "reason": "llm"}
    assert named(events, "sentence_update") == [update]
    _feed(session, pcm[112000:])
    session.stop()
    assert done.wait(30)
    names = [name for name, _ in events]
    assert max(i for i, n in enumerate(names) if n.startswith("sentence_")) < names.index("final_result")
    view = SentenceView().apply(events)  # each index once, each revision one up
    assert view.timestamps() == _final(events)["timestamps"]
    assert [s["revision"] for s in view.sentences.values()] == [1, 1]
    assert named(events, "sentence_final")[1]["text"] == "第2段讲星御"


def test_a_failing_llm_leaves_the_hotword_corrected_text(
    tmp_path: Path, workers: list[ModelWorker], llm: FakeLlm
) -> None:
    llm.script = lambda _req: Reply("not json at all")
    session, events, done = _session(
        tmp_path, workers, llm.url, SessionOptions(hotwords=("星御",), llm_correct=True)
    )
    _feed(session, _pcm(3.0))
    session.stop()
    assert done.wait(30)
    final = _final(events)
    assert final["llm_status"] == "malformed_answer"
    assert final["llm_merged"] == final["sensevoice"] == "第1段讲星御"
    assert SentenceView().apply(events).timestamps() == final["timestamps"]
    assert named(events, "sentence_update") == []  # nothing changed


def test_without_llm_correct_the_llm_is_not_called(
    tmp_path: Path, workers: list[ModelWorker], llm: FakeLlm
) -> None:
    session, events, done = _session(tmp_path, workers, llm.url, SessionOptions())
    _feed(session, _pcm(3.0))
    session.stop()
    assert done.wait(30)
    final = _final(events)
    assert final["llm_status"] == "off" and llm.requests == []
    assert final["sensevoice"] == "第1段讲星宇" and final["corrections"] == []


def test_start_recording_hotwords_are_checked() -> None:
    settings = Settings.from_env({})
    assert parse_options({"hotwords": "星御，SLA"}, settings).hotwords == ("星御", "SLA")
    assert parse_options({"word_timestamps": True}, settings).word_timestamps is True
    assert parse_options(None, settings).word_timestamps is False
    with pytest.raises(SessionError) as bad_flag:
        parse_options({"word_timestamps": "yes"}, settings)
    assert "word_timestamps and full_text must be true or false" in bad_flag.value.message
    with pytest.raises(SessionError) as info:
        parse_options({"hotwords": ["x" * 41]}, settings)
    assert info.value.code == "bad_options" and "longer than 40" in info.value.message


def test_start_recording_full_text_is_a_boolean() -> None:
    settings = Settings.from_env({})
    assert parse_options({"full_text": True}, settings).full_text is True
    assert parse_options({}, settings).full_text is False
    with pytest.raises(SessionError) as info:
        parse_options({"full_text": "yes"}, settings)
    assert info.value.code == "bad_options" and "full_text" in info.value.message


@pytest.fixture(scope="module")
def llm_server() -> Iterator[FakeLlm]:
    server = FakeLlm(rewrite(lambda text: text + "※"))
    yield server
    server.close()


@pytest.fixture(scope="module")
def corrected_server(
    model_env: dict[str, str], llm_server: FakeLlm, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    workdir = tmp_path_factory.mktemp("llm-live")
    (workdir / "hotwords.json").write_text(json.dumps({"hotwords": ["DAC"]}), encoding="utf-8")
    env = {**model_env, "LLM_API_URL": llm_server.url, "LLM_API_KEY": "live-key", "LLM_MODEL": "test-model"}
    server = start_server(env, workdir)
    yield server
    stop_server(server)


def test_live_server_applies_the_llm_to_final_result(
    corrected_server: LiveServer, llm_server: FakeLlm, speech_wav: Path
) -> None:
    samples, _ = sf.read(speech_wav, dtype="int16")
    client = RecordingClient(corrected_server.url)
    client.wait_for("connected")
    client.sio.emit("start_recording", {"hotwords": ["星御"], "llm_correct": True, "word_timestamps": True})
    client.wait_for("recording_started")
    client.send_audio(samples.tobytes(), 3200)
    client.sio.emit("stop_recording")
    final = client.wait_for("final_result", 180)
    client.close()
    assert final["llm_status"] == "ok", final["llm_windows"]
    assert final["timestamps"] and all(t["text"].endswith("※") for t in final["timestamps"])
    assert final["llm_merged"] != final["sensevoice"] and final["llm_merged_length"] == len(
        final["llm_merged"]
    )
    sent = [s for r in llm_server.requests for s in r.sentences]
    assert all(set(s) == {"text", "start_ms", "end_ms"} for s in sent)  # the LLM never sees the words
    got = [{"text": t["text"], "start_ms": t["start_ms"], "end_ms": t["end_ms"]} for t in final["timestamps"]]
    assert [{**s, "text": s["text"] + "※"} for s in sent] == got
    for sentence in final["timestamps"]:
        words = sentence["words"]
        assert "".join(w["text"] for w in words) == sentence["text"].replace(" ", "")
        previous = sentence["start_ms"]
        for word in words:
            assert previous <= word["start_ms"] <= word["end_ms"] <= sentence["end_ms"]
            previous = word["end_ms"]
        # the LLM's added mark is a zero-length word at the end of the word before it
        assert words[-1] == {"text": "※", "start_ms": words[-2]["end_ms"], "end_ms": words[-2]["end_ms"]}
    assert final["language"] in {t["language"] for t in final["timestamps"]}
    request = llm_server.requests[0]
    assert request.headers["Authorization"] == "Bearer live-key" and request.body["model"] == "test-model"
    assert request.prompt["hotwords"] == ["DAC", "星御"]
    assert request.body["chat_template_kwargs"] == {"enable_thinking": False}
