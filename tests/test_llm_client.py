"""ChatClient and CircuitBreaker against a real HTTP server on loopback that the tests script."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from asr_service import metrics
from asr_service.llm_client import ChatClient, CircuitBreaker, LlmError, chat_completions_url

from .conftest import free_port
from .fakes import ManualClock
from .llm_server import FakeLlm, Reply

MESSAGES = [{"role": "system", "content": "fix"}, {"role": "user", "content": '{"sentences": []}'}]


@pytest.fixture
def llm() -> Iterator[FakeLlm]:
    server = FakeLlm(lambda _req: Reply("the answer"))
    yield server
    server.close()


def _client(url: str, timeout_s: float = 10.0, breaker: CircuitBreaker | None = None) -> ChatClient:
    return ChatClient(url, "test-key", "qwen3:8b", timeout_s, breaker or CircuitBreaker(3, 60.0))


def _reason(client: ChatClient, timeout_s: float | None = None) -> str:
    with pytest.raises(LlmError) as info:
        client.complete(MESSAGES, timeout_s)
    return info.value.reason


def test_url_forms() -> None:
    assert chat_completions_url("http://h:11434") == "http://h:11434/v1/chat/completions"
    assert chat_completions_url("http://h/v1/") == "http://h/v1/chat/completions"
    assert chat_completions_url("http://h/api/v1/chat/completions") == "http://h/api/v1/chat/completions"


def test_the_answer_text_comes_back_and_the_request_carries_the_settings(llm: FakeLlm) -> None:
    assert _client(llm.url).complete(MESSAGES) == "the answer"
    [request] = llm.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["Authorization"] == "Bearer test-key"
    assert request.body["model"] == "qwen3:8b" and request.body["messages"] == MESSAGES
    assert request.body["temperature"] == 0 and request.body["stream"] is False
    assert request.body["chat_template_kwargs"] == {"enable_thinking": False}


def test_no_key_sends_no_authorization_header(llm: FakeLlm) -> None:
    client = ChatClient(llm.url, None, "m", 10.0, CircuitBreaker(3, 60.0))
    client.complete(MESSAGES)
    assert "Authorization" not in llm.requests[0].headers


def test_client_errors_are_llm_errors_with_a_reason(llm: FakeLlm) -> None:
    llm.script = lambda _req: Reply(status=200, body=b'{"choices": [{"message": {"content": null}}]}')
    client = ChatClient(llm.url, None, "m", 10.0, CircuitBreaker(3, 60.0))
    with pytest.raises(LlmError) as info:
        client.complete(MESSAGES)
    assert info.value.reason == "bad_response"


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(status=500, body=b'{"error": "model crashed"}'), "http_error"),
        (Reply(status=404, body=b"no such model"), "http_error"),
        (Reply(status=200, body=b"<html>proxy error</html>"), "bad_response"),
        (Reply(status=200, body=b'{"choices": []}'), "bad_response"),
    ],
)
def test_each_failed_answer_has_its_reason(llm: FakeLlm, reply: Reply, reason: str) -> None:
    llm.script = lambda _req: reply
    assert _reason(_client(llm.url)) == reason


def test_a_hanging_llm_times_out_at_the_shorter_of_the_two_timeouts(llm: FakeLlm) -> None:
    llm.script = lambda _req: Reply(hang=True)
    with pytest.raises(LlmError, match=r"no answer within 0.2 s") as per_call:
        _client(llm.url, timeout_s=30.0).complete(MESSAGES, timeout_s=0.2)
    with pytest.raises(LlmError, match=r"no answer within 0.3 s") as configured:
        _client(llm.url, timeout_s=0.3).complete(MESSAGES, timeout_s=30.0)
    assert per_call.value.reason == configured.value.reason == "timeout"


def test_a_refused_connection_is_unreachable() -> None:
    assert _reason(_client(f"http://127.0.0.1:{free_port()}")) == "unreachable"


def test_credentials_in_the_url_stay_out_of_errors_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    client = _client(f"http://user:secret@127.0.0.1:{free_port()}")
    with pytest.raises(LlmError) as info:
        client.complete(MESSAGES)
    assert "secret" not in str(info.value) and "secret" not in caplog.text


def test_failures_open_the_breaker_and_a_malformed_answer_does_not(llm: FakeLlm) -> None:
    clock = ManualClock()
    breaker = CircuitBreaker(2, 60.0, clock)
    client = _client(llm.url, breaker=breaker)
    llm.script = lambda _req: Reply(status=200, body=b"not json")
    assert [_reason(client) for _ in range(3)] == ["bad_response"] * 3  # the LLM is up: keep calling
    assert not breaker.is_open
    llm.script = lambda _req: Reply(status=503, body=b"overloaded")
    assert [_reason(client) for _ in range(3)] == ["http_error", "http_error", "circuit_open"]
    assert breaker.is_open and len(llm.requests) == 5


def test_the_breaker_lets_one_trial_through_per_cooldown() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker(2, 60.0, clock)
    breaker.failure()
    breaker.success()  # a success in between: the count starts again
    breaker.failure()
    assert breaker.allow() and not breaker.is_open
    breaker.failure()
    assert breaker.is_open and not breaker.allow()
    clock.now = 59.9
    assert not breaker.allow()
    clock.now = 60.0
    assert breaker.allow() and not breaker.allow()  # one trial, not two
    breaker.failure()  # the trial failed: open again for a whole cooldown
    clock.now = 119.0
    assert not breaker.allow()
    clock.now = 120.0
    assert breaker.allow()
    breaker.success()
    assert not breaker.is_open and breaker.allow() and breaker.allow()


def test_each_call_is_counted_in_the_llm_metrics(llm: FakeLlm) -> None:
    before = metrics.REGISTRY.get_sample_value("asr_llm_calls_total", {"outcome": "ok"}) or 0.0
    _client(llm.url).complete(MESSAGES)
    assert metrics.REGISTRY.get_sample_value("asr_llm_calls_total", {"outcome": "ok"}) == before + 1
