"""OpenAI-compatible chat completions client with a timeout on every call and a circuit breaker."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests

from . import metrics

log = logging.getLogger(__name__)

_CONNECT_TIMEOUT_S = 5.0


class LlmError(Exception):
    """A failed LLM call; `reason` is a stable word for llm_status, the message is for logs."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class CircuitBreaker:
    """Opens after `failures` calls in a row fail; after `cooldown_s` lets one trial call through."""

    def __init__(self, failures: int, cooldown_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit, self._cooldown_s, self._clock = failures, cooldown_s, clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._trial = False

    @property
    def is_open(self) -> bool:
        """Whether calls are being refused right now (a trial may still be let through)."""
        with self._lock:
            return self._opened_at is not None

    def allow(self) -> bool:
        """Whether a call may go out now; when open, one trial per cooldown period."""
        with self._lock:
            if self._opened_at is None:
                return True
            if not self._trial and self._clock() - self._opened_at >= self._cooldown_s:
                self._trial = True
                return True
            return False

    def success(self) -> None:
        """A call succeeded: close."""
        with self._lock:
            self._failures, self._opened_at, self._trial = 0, None, False

    def failure(self) -> None:
        """A call failed: open after `failures` in a row, or at once when it was the trial."""
        with self._lock:
            self._failures += 1
            if self._trial or self._failures >= self._limit:
                if self._opened_at is None or self._trial:
                    log.warning(
                        "LLM circuit breaker open for %g s after %d failures",
                        self._cooldown_s,
                        self._failures,
                    )
                self._opened_at, self._trial = self._clock(), False


def chat_completions_url(base: str) -> str:
    """LLM_API_URL as given, or with /v1/chat/completions (or /chat/completions after /v1) added."""
    url = base.rstrip("/")
    if url.endswith("/chat/completions"):
        return url
    return url + ("/chat/completions" if url.endswith("/v1") else "/v1/chat/completions")


class ChatClient:
    """Sends one chat completion request; every failure is an LlmError with a reason."""

    def __init__(
        self, url: str, api_key: str | None, model: str, timeout_s: float, breaker: CircuitBreaker
    ) -> None:
        self.url, self.model = chat_completions_url(url), model
        self._api_key, self._timeout_s, self.breaker = api_key, timeout_s, breaker
        # for logs and errors: host and port only, never the path, query or user:password
        self._where = urlsplit(self.url).netloc.rpartition("@")[2]

    def complete(self, messages: list[dict[str, str]], timeout_s: float | None = None) -> str:
        """The answer text, or LlmError: circuit_open, timeout, unreachable, http_error or bad_response."""
        if not self.breaker.allow():
            metrics.record_llm_call(0.0, "circuit_open")  # alerts on failures see an open breaker too
            raise LlmError(
                "circuit_open", "the LLM failed repeatedly; not calling it until the cooldown ends"
            )
        timeout = min(self._timeout_s, timeout_s) if timeout_s is not None else self._timeout_s
        started = time.monotonic()
        try:
            answer = self._post(messages, max(timeout, 0.05))
        except LlmError as exc:
            metrics.record_llm_call(time.monotonic() - started, exc.reason)
            if exc.reason != "bad_response":
                self.breaker.failure()
            log.warning(
                "LLM call to %s (model %s) failed after %.1f s: %s: %s",
                self._where,
                self.model,
                time.monotonic() - started,
                exc.reason,
                exc,
            )
            raise
        self.breaker.success()
        metrics.record_llm_call(time.monotonic() - started)
        log.info("LLM call to %s (model %s) took %.1f s", self._where, self.model, time.monotonic() - started)
        return answer

    def _post(self, messages: list[dict[str, str]], timeout: float) -> str:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": 0,
            "stream": False,
            # Qwen3 and similar models think aloud by default; that only costs time here.
            "chat_template_kwargs": {"enable_thinking": False},
        }
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        try:
            response = requests.post(
                self.url, json=body, headers=headers, timeout=(min(_CONNECT_TIMEOUT_S, timeout), timeout)
            )
        except requests.Timeout:
            raise LlmError("timeout", f"no answer within {timeout:g} s") from None
        except requests.RequestException as exc:
            raise LlmError("unreachable", f"cannot reach {self._where}: {type(exc).__name__}") from None
        if response.status_code >= 400:
            raise LlmError("http_error", f"HTTP {response.status_code}: {response.text[:200]!r}")
        try:
            content = response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise LlmError("bad_response", f"not a chat completion: {response.text[:200]!r}") from None
        if not isinstance(content, str):
            raise LlmError("bad_response", "the answer's message content is not text")
        return content
