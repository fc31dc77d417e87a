"""Correction of a whole transcript: replacement, LLM windows, the time budget and the statuses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from asr_service.config import Settings
from asr_service.correction import Corrector
from asr_service.pipeline import Sentence
from asr_service.roles import Word

from .llm_server import FakeLlm, Reply, rewrite


def _sentences(count: int) -> list[Sentence]:
    return [Sentence(f"第{i}句讲星宇。", i * 1000, i * 1000 + 800) for i in range(count)]


@pytest.fixture
def llm() -> Iterator[FakeLlm]:
    server = FakeLlm(rewrite(lambda text: text.replace("星宇", "星御")))
    yield server
    server.close()


def _corrector(tmp_path: Path, llm_url: str | None, **env: str) -> Corrector:
    hotwords = tmp_path / "hotwords.json"
    hotwords.write_text(json.dumps({"hotwords": ["DAC"]}), encoding="utf-8")
    base = {"HOTWORDS_FILE": str(hotwords), "LLM_API_KEY": "k", **env}
    if llm_url:
        base["LLM_API_URL"] = llm_url
    return Corrector.from_settings(Settings.from_env(base))


def test_without_an_llm_only_hotwords_apply(tmp_path: Path) -> None:
    corrector = _corrector(tmp_path, None)
    result = corrector.correct(_sentences(2), extra=["星御"], llm=True)
    assert result.llm_status == "disabled" and result.llm_windows == []
    assert [s.text for s in result.sentences] == ["第0句讲星御。", "第1句讲星御。"]
    assert result.corrections == [
        {"from": "星宇", "to": "星御", "start_ms": 0, "end_ms": 800, "rule": "pinyin"},
        {"from": "星宇", "to": "星御", "start_ms": 1000, "end_ms": 1800, "rule": "pinyin"},
    ]


def test_llm_not_requested_is_off_and_not_called(tmp_path: Path, llm: FakeLlm) -> None:
    result = _corrector(tmp_path, llm.url).correct(_sentences(2))
    assert result.llm_status == "off" and llm.requests == []
    assert result.sentences == result.replaced == _sentences(2)


def test_long_transcripts_go_in_bounded_windows(tmp_path: Path, llm: FakeLlm) -> None:
    corrector = _corrector(tmp_path, llm.url, LLM_WINDOW_SENTENCES="4")
    result = corrector.correct(_sentences(10), extra=["SLA"], llm=True)
    assert result.llm_status == "ok"
    assert sorted(len(r.sentences) for r in llm.requests) == [2, 4, 4]
    assert all(r.prompt["hotwords"] == ["DAC", "SLA"] for r in llm.requests)
    assert [w["sentences"] for w in result.llm_windows] == [4, 4, 2]
    assert [s.text for s in result.sentences] == [f"第{i}句讲星御。" for i in range(10)]
    assert [s.text for s in result.replaced] == [f"第{i}句讲星宇。" for i in range(10)]


def test_one_failing_window_is_partial_and_keeps_its_text(tmp_path: Path, llm: FakeLlm) -> None:
    def script(request: object) -> Reply:
        sentences = request.sentences  # type: ignore[attr-defined]
        if sentences[0]["start_ms"] == 0:
            return Reply(status=500, body=b"boom")
        return rewrite(lambda text: text.replace("星宇", "星御"))(request)  # type: ignore[arg-type]

    llm.script = script
    result = _corrector(tmp_path, llm.url, LLM_WINDOW_SENTENCES="2").correct(_sentences(4), llm=True)
    assert result.llm_status == "partial"
    assert [w["status"] for w in result.llm_windows] == ["http_error", "ok"]
    assert [s.text for s in result.sentences] == [
        "第0句讲星宇。",
        "第1句讲星宇。",
        "第2句讲星御。",
        "第3句讲星御。",
    ]


def test_the_budget_bounds_the_wait_and_late_windows_keep_their_text(tmp_path: Path, llm: FakeLlm) -> None:
    llm.script = lambda _req: Reply(hang=True)
    corrector = _corrector(
        tmp_path, llm.url, LLM_BUDGET_S="0.3", LLM_TIMEOUT_S="30", LLM_WINDOW_SENTENCES="1"
    )
    job = corrector.start(llm_requested=True)
    job.add(_sentences(3))  # three windows sent at once, each allowed LLM_TIMEOUT_S
    result = job.finish()
    assert result.llm_status == "budget_exhausted"
    assert [w["status"] for w in result.llm_windows] == ["budget_exhausted"] * 3
    assert result.sentences == _sentences(3)
    llm.wait_for_requests(2)
    assert len(llm.requests) == 2  # LLM_CONCURRENCY 2: the third waited, and was dropped
    corrector.close()


def test_nothing_to_correct(tmp_path: Path, llm: FakeLlm) -> None:
    result = _corrector(tmp_path, llm.url).correct([], llm=True)
    assert result.llm_status == "no_text" and llm.requests == []


def test_windows_start_as_sentences_arrive(tmp_path: Path, llm: FakeLlm) -> None:
    corrector = _corrector(tmp_path, llm.url, LLM_WINDOW_SENTENCES="2")
    job = corrector.start(["星御"], llm_requested=True)
    job.add(_sentences(3)[:2], ["第零句讲星雨", "第一句讲星雨"])
    [first] = llm.wait_for_requests(1)  # sent before the transcript is finished
    assert first.prompt["first_pass"] == "第零句讲星雨第一句讲星雨"
    job.add(_sentences(3)[2:], ["第二句"])
    result = job.finish()
    assert len(llm.wait_for_requests(2)) == 2
    assert result.llm_status == "ok" and len(result.llm_windows) == 2


def test_hotword_replacement_keeps_what_was_heard_and_the_replaced_words_spans(tmp_path: Path) -> None:
    hotwords = tmp_path / "hotwords.json"
    hotwords.write_text(
        json.dumps({"hotwords": ["DAC"], "corrections": {"星宇": "星纪元"}}), encoding="utf-8"
    )
    corrector = Corrector.from_settings(Settings.from_env({"HOTWORDS_FILE": str(hotwords)}))
    chinese = Sentence(
        "讲星宇。",
        1000,
        1400,
        "zh",
        "neutral",
        (),
        tuple(Word(c, 1000 + i * 100, 1100 + i * 100) for i, c in enumerate("讲星宇。")),
    )
    latin = Sentence(
        "the dac is up",
        2000,
        3000,
        "en",
        "happy",
        ("applause",),
        (Word("the", 2000, 2200), Word("dac", 2300, 2700), Word("is", 2700, 2800), Word("up", 2800, 2990)),
    )
    result = corrector.correct([chinese, latin])
    assert [s.text for s in result.sentences] == ["讲星纪元。", "the DAC is up"]
    assert [(s.language, s.emotion, s.events) for s in result.sentences] == [
        ("zh", "neutral", ()),
        ("en", "happy", ("applause",)),
    ]
    first, second = (s.words or () for s in result.sentences)
    # 星宇 (1100-1300) became 星纪元: the stretch 宇 was (1200-1300) is shared by 纪 and 元
    assert [(w.text, w.start_ms, w.end_ms) for w in first] == [
        ("讲", 1000, 1100),
        ("星", 1100, 1200),
        ("纪", 1200, 1250),
        ("元", 1250, 1300),
        ("。", 1300, 1400),
    ]
    assert [(w.text, w.start_ms, w.end_ms) for w in second] == [
        ("the", 2000, 2200),
        ("DAC", 2300, 2700),  # the replaced word keeps its span
        ("is", 2700, 2800),
        ("up", 2800, 2990),
    ]
