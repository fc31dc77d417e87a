"""LLM window correction against a scripted HTTP server on loopback (the client: test_llm_client)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from asr_service.llm_client import ChatClient, CircuitBreaker
from asr_service.llm_correction import LlmCorrector, Window, answer_items
from asr_service.pipeline import Sentence
from asr_service.roles import Word

from .conftest import free_port
from .fakes import ManualClock
from .llm_server import FakeLlm, Reply, answer, rewrite

SENTENCES = (
    Sentence("今天讨论星宇的上线。", 0, 2000),
    Sentence("备份眼练安排在周五。", 2500, 5000),
    Sentence("好的。", 5200, 5600),
)
WINDOW = Window(SENTENCES, ("星御", "备份演练"), {"行驶": "星御"}, "今天讨论星雨的上线备份演练安排在周五好的")
FIXED = {"星宇": "星御", "眼练": "演练"}


def _fix(text: str) -> str:
    for heard, meant in FIXED.items():
        text = text.replace(heard, meant)
    return text


@pytest.fixture
def llm() -> Iterator[FakeLlm]:
    server = FakeLlm(rewrite(_fix))
    yield server
    server.close()


def _corrector(
    url: str, timeout_s: float = 10.0, failures: int = 3, clock: ManualClock | None = None
) -> LlmCorrector:
    breaker = CircuitBreaker(failures, 60.0, clock or ManualClock())
    return LlmCorrector(ChatClient(url, "test-key", "qwen3:8b", timeout_s, breaker), 0.35, 2)


def test_correct_answer_is_used_and_the_request_carries_everything(llm: FakeLlm) -> None:
    outcome = _corrector(llm.url).correct(WINDOW)
    assert outcome.status == "ok" and outcome.changed == 2 and outcome.rejected == 0
    assert [s.text for s in outcome.sentences] == ["今天讨论星御的上线。", "备份演练安排在周五。", "好的。"]
    assert [(s.start_ms, s.end_ms) for s in outcome.sentences] == [(0, 2000), (2500, 5000), (5200, 5600)]
    [request] = llm.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["Authorization"] == "Bearer test-key"
    assert request.body["model"] == "qwen3:8b"
    assert request.body["chat_template_kwargs"] == {"enable_thinking": False}
    assert request.body["messages"][0]["role"] == "system"
    prompt = request.prompt
    assert prompt["hotwords"] == ["星御", "备份演练"] and prompt["known_mistakes"] == {"行驶": "星御"}
    assert prompt["first_pass"] == WINDOW.reference
    assert prompt["sentences"] == [
        {"start_ms": s.start_ms, "end_ms": s.end_ms, "text": s.text} for s in SENTENCES
    ]


def _char_words(text: str, start_ms: int, step_ms: int) -> tuple[Word, ...]:
    return tuple(Word(ch, start_ms + i * step_ms, start_ms + (i + 1) * step_ms) for i, ch in enumerate(text))


def test_an_edit_keeps_what_was_heard_and_the_word_times_and_the_prompt_gets_neither(llm: FakeLlm) -> None:
    heard = tuple(
        Sentence(s.text, s.start_ms, s.end_ms, "zh", "sad", ("music",), _char_words(s.text, s.start_ms, 100))
        for s in SENTENCES
    )
    outcome = _corrector(llm.url).correct(Window(heard, ("星御",)))
    assert [s.text for s in outcome.sentences] == ["今天讨论星御的上线。", "备份演练安排在周五。", "好的。"]
    for before, after in zip(heard, outcome.sentences, strict=True):
        assert (after.language, after.emotion, after.events) == ("zh", "sad", ("music",))
        assert after.words is not None and before.words is not None
        # one character for another: each new word has the times of the one it replaced
        assert [(w.start_ms, w.end_ms) for w in after.words] == [(w.start_ms, w.end_ms) for w in before.words]
        assert "".join(w.text for w in after.words) == after.text
    assert all(set(s) == {"start_ms", "end_ms", "text"} for s in llm.requests[0].prompt["sentences"])


@pytest.mark.parametrize(
    "wrap",
    [
        lambda body: f"<think>\nThe user wants fixes.\n</think>\n\n{body}",
        lambda body: f"```json\n{body}\n```",
        lambda body: f"<think>x</think>Here you are:\n```\n{body}\n```\nDone.",
        lambda body: f"thinking without an opening tag</think>{body}",
        lambda body: json.dumps({"sentences": json.loads(body)}, ensure_ascii=False),
    ],
)
def test_think_blocks_fences_and_wrappers_are_stripped(wrap: object) -> None:
    body = json.dumps([{**s.as_dict(), "text": _fix(s.text)} for s in SENTENCES], ensure_ascii=False)
    items = answer_items(wrap(body))  # type: ignore[operator]
    assert [i["text"] for i in items][:2] == ["今天讨论星御的上线。", "备份演练安排在周五。"]


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        (Reply(status=500, body=b'{"error": "model crashed"}'), "http_error"),
        (Reply(status=404, body=b"no such model"), "http_error"),
        (Reply(status=200, body=b"<html>proxy error</html>"), "bad_response"),
        (Reply("Sure! The corrected text is: 今天讨论星御的上线。"), "malformed_answer"),
        (Reply('[{"start_ms": 0, "end_ms": 2000, "text": '), "malformed_answer"),
        (Reply("   "), "empty_answer"),
        (Reply("<think>I will not answer</think>"), "empty_answer"),
        (answer([{"start_ms": 0, "end_ms": 2000, "text": "今天讨论星御的上线。"}]), "wrong_count"),
        (answer([{**s.as_dict(), "start_ms": s.start_ms + 10} for s in SENTENCES]), "wrong_times"),
        (answer([{**s.as_dict(), "text": ""} for s in SENTENCES]), "empty_answer"),
        (answer([{"start_ms": s.start_ms, "end_ms": s.end_ms} for s in SENTENCES]), "malformed_answer"),
        (
            answer(
                [
                    {"start_ms": 0, "end_ms": 2000, "text": "Today we discuss the launch of Xingyu."},
                    {"start_ms": 2500, "end_ms": 5000, "text": "The backup drill is on Friday."},
                    {"start_ms": 5200, "end_ms": 5600, "text": "OK."},
                ]
            ),
            "wrong_language",
        ),
    ],
)
def test_every_bad_answer_falls_back_to_the_original_text(llm: FakeLlm, reply: Reply, status: str) -> None:
    llm.script = lambda _req: reply
    outcome = _corrector(llm.url).correct(WINDOW)
    assert outcome.status == status, outcome.message
    assert outcome.sentences == SENTENCES
    assert len(llm.requests) == 1


def test_an_over_eager_rewrite_keeps_that_sentence_only(llm: FakeLlm) -> None:
    def eager(text: str) -> str:
        return "会议主题是新版本发布的准备工作。" if text.startswith("好") else _fix(text)

    llm.script = rewrite(eager)
    outcome = _corrector(llm.url).correct(WINDOW)
    assert outcome.status == "ok" and outcome.rejected == 1 and outcome.changed == 2
    assert [s.text for s in outcome.sentences] == ["今天讨论星御的上线。", "备份演练安排在周五。", "好的。"]


def test_a_slow_llm_times_out(llm: FakeLlm) -> None:
    llm.script = lambda _req: Reply(hang=True)
    outcome = _corrector(llm.url, timeout_s=0.3).correct(WINDOW)
    assert outcome.status == "timeout" and outcome.sentences == SENTENCES


def test_a_refused_connection_is_unreachable() -> None:
    outcome = _corrector(f"http://127.0.0.1:{free_port()}").correct(WINDOW)
    assert outcome.status == "unreachable" and outcome.sentences == SENTENCES


def test_no_time_left_means_no_call(llm: FakeLlm) -> None:
    outcome = _corrector(llm.url).correct(WINDOW, deadline=0.0)
    assert outcome.status == "budget_exhausted" and llm.requests == []


def test_circuit_breaker_stops_calling_a_failing_llm_and_tries_again_after_the_cooldown(llm: FakeLlm) -> None:
    llm.script = lambda _req: Reply(status=503, body=b"overloaded")
    clock = ManualClock()
    corrector = _corrector(llm.url, failures=2, clock=clock)
    assert [corrector.correct(WINDOW).status for _ in range(4)] == [
        "http_error",
        "http_error",
        "circuit_open",
        "circuit_open",
    ]
    assert len(llm.requests) == 2
    assert corrector.client.breaker.is_open
    clock.now = 59.0
    assert corrector.correct(WINDOW).status == "circuit_open"
    clock.now = 60.0
    assert corrector.correct(WINDOW).status == "http_error"  # the one trial call, failed: open again
    assert corrector.correct(WINDOW).status == "circuit_open"
    assert len(llm.requests) == 3
    clock.now = 120.0
    llm.script = rewrite(_fix)
    assert corrector.correct(WINDOW).status == "ok"  # the trial succeeded: closed
    assert not corrector.client.breaker.is_open
    assert corrector.correct(WINDOW).status == "ok"


def test_malformed_answers_do_not_open_the_breaker(llm: FakeLlm) -> None:
    llm.script = lambda _req: Reply("no json here")
    corrector = _corrector(llm.url, failures=1)
    assert [corrector.correct(WINDOW).status for _ in range(3)] == ["malformed_answer"] * 3
    assert len(llm.requests) == 3
