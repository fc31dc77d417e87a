"""Segment-preserving LLM correction of one window of sentences: prompt, answer parsing, validation."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz.distance import Levenshtein

from .llm_client import ChatClient, LlmError
from .pipeline import Sentence

log = logging.getLogger(__name__)

MIN_EDIT_ALLOWANCE = 2  # characters any sentence may change, however short
MAX_LANGUAGE_SHIFT = 0.5  # share of Chinese among letters may move this much before it is "another language"

SYSTEM_PROMPT = """\
You fix speech recognition errors in meeting transcripts.
The user sends JSON with:
- "sentences": the transcript to fix, one object per sentence with start_ms, end_ms and text;
- "first_pass": a rougher transcript of the same audio by another recogniser, only as a hint;
- "hotwords": the customer's product names and jargon, which recognisers often mishear;
- "known_mistakes": words that are known to be misheard, with the word that was meant.
Fix only what was misheard: a word that sounds like a hotword, a wrong homophone, clearly wrong \
punctuation. Keep the language, the wording and the meaning. Never translate, summarise, rephrase, \
merge or split sentences.
Answer with a JSON array only: exactly one object per input sentence, in the same order, each \
{"start_ms": <unchanged>, "end_ms": <unchanged>, "text": "<fixed text>"}. \
A sentence that needs no fix keeps its text."""

_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)
_FENCE = re.compile(r"```[A-Za-z]*\s*(.*?)```", re.DOTALL)
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff]")
_LATIN = re.compile(r"[A-Za-z]")


@dataclass(frozen=True)
class Window:
    """Consecutive sentences sent in one request, with what helps the LLM fix them."""

    sentences: tuple[Sentence, ...]
    hotwords: tuple[str, ...] = ()
    known_mistakes: Mapping[str, str] = field(default_factory=dict)
    reference: str = ""


@dataclass(frozen=True)
class WindowOutcome:
    """The window's sentences after correction (the originals where it failed) and why."""

    sentences: tuple[Sentence, ...]
    status: str
    message: str = ""
    changed: int = 0
    rejected: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The wire form, one entry of `llm_windows`."""
        return {
            "start_ms": self.sentences[0].start_ms if self.sentences else 0,
            "end_ms": self.sentences[-1].end_ms if self.sentences else 0,
            "sentences": len(self.sentences),
            "status": self.status,
            "changed": self.changed,
            "rejected": self.rejected,
        }


def fallback(window: Window, status: str, message: str) -> WindowOutcome:
    """The window unchanged, with the reason the LLM's answer was not used."""
    return WindowOutcome(window.sentences, status, message)


class AnswerError(Exception):
    """The LLM answered, but not with something usable; `reason` goes into llm_status."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def build_messages(window: Window) -> list[dict[str, str]]:
    """The chat messages for one window."""
    payload: dict[str, Any] = {
        "hotwords": list(window.hotwords),
        "known_mistakes": dict(window.known_mistakes),
        "first_pass": window.reference,
        "sentences": [{"start_ms": s.start_ms, "end_ms": s.end_ms, "text": s.text} for s in window.sentences],
    }
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": json.dumps(payload, ensure_ascii=False)},
    ]


def answer_items(content: str) -> list[Any]:
    """The JSON array in an answer, after <think> blocks and Markdown fences are stripped."""
    text = _THINK.sub("", content)
    if "</think>" in text:  # the opening tag was part of the chat template
        text = text.rsplit("</think>", 1)[1]
    fenced = _FENCE.search(text)
    if fenced:
        text = fenced.group(1)
    text = text.strip()
    if not text:
        raise AnswerError("empty_answer", "the LLM answered nothing")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        start, end = text.find("["), text.rfind("]")
        try:
            data = json.loads(text[start : end + 1]) if 0 <= start < end else None
        except json.JSONDecodeError:
            data = None
    if isinstance(data, dict) and isinstance(data.get("sentences"), list):
        data = data["sentences"]
    if not isinstance(data, list):
        raise AnswerError("malformed_answer", f"no JSON array in the answer: {text[:120]!r}")
    return data


def validate(window: Window, items: list[Any], max_edit_ratio: float) -> WindowOutcome:
    """Corrected sentences; a sentence whose edit is too large keeps its text. AnswerError if unusable."""
    originals = window.sentences
    if len(items) != len(originals):
        raise AnswerError("wrong_count", f"{len(items)} sentences answered for {len(originals)} sent")
    texts: list[str] = []
    for item, original in zip(items, originals, strict=True):
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise AnswerError(
                "malformed_answer", f"an answer item is not {{start_ms, end_ms, text}}: {item!r:.80}"
            )
        if (item.get("start_ms"), item.get("end_ms")) != (original.start_ms, original.end_ms):
            raise AnswerError(
                "wrong_times", f"times {item.get('start_ms')}-{item.get('end_ms')} were changed"
            )
        texts.append(item["text"].strip())
    if not any(texts):
        raise AnswerError("empty_answer", "every sentence came back empty")
    if _language_shift(" ".join(s.text for s in originals), " ".join(texts)) > MAX_LANGUAGE_SHIFT:
        raise AnswerError("wrong_language", "the answer is in another language than the transcript")
    corrected: list[Sentence] = []
    changed = rejected = 0
    for original, text in zip(originals, texts, strict=True):
        allowed = max(MIN_EDIT_ALLOWANCE, max_edit_ratio * len(original.text))
        if not text or Levenshtein.distance(original.text, text) > allowed:
            rejected += 1
            corrected.append(original)
            continue
        changed += text != original.text
        corrected.append(original.with_text(text))
    return WindowOutcome(tuple(corrected), "ok", "", changed, rejected)


def _language_shift(before: str, after: str) -> float:
    """How far the share of Chinese/Japanese characters among letters moved (0 when either has none)."""
    shares = []
    for text in (before, after):
        han, latin = len(_HAN.findall(text)), len(_LATIN.findall(text))
        if han + latin == 0:
            return 0.0
        shares.append(han / (han + latin))
    return abs(shares[0] - shares[1])


class LlmCorrector:
    """Corrects windows on a small thread pool; never raises, always returns an outcome."""

    def __init__(self, client: ChatClient, max_edit_ratio: float, concurrency: int) -> None:
        self.client = client
        self._max_edit_ratio = max_edit_ratio
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="llm")

    def submit(self, window: Window, deadline: float | None = None) -> Future[WindowOutcome]:
        """Correct `window` in the background; a deadline (time.monotonic) caps its request time."""
        return self._pool.submit(self.correct, window, deadline)

    def correct(self, window: Window, deadline: float | None = None) -> WindowOutcome:
        """The corrected window, or the original sentences with the reason."""
        timeout = None if deadline is None else deadline - time.monotonic()
        if timeout is not None and timeout <= 0:
            return fallback(window, "budget_exhausted", "no time left for the LLM")
        try:
            content = self.client.complete(build_messages(window), timeout)
            outcome = validate(window, answer_items(content), self._max_edit_ratio)
        except LlmError as exc:
            return fallback(window, exc.reason, str(exc))
        except AnswerError as exc:
            log.warning(
                "LLM answer for %d sentences at %d-%d ms not used: %s: %s",
                len(window.sentences),
                window.sentences[0].start_ms,
                window.sentences[-1].end_ms,
                exc.reason,
                exc,
            )
            return fallback(window, exc.reason, str(exc))
        if outcome.rejected:
            log.info(
                "LLM edits of %d of %d sentences were too large; kept",
                outcome.rejected,
                len(window.sentences),
            )
        return outcome

    def close(self) -> None:
        """Stop taking windows; running requests finish on their own timeouts."""
        self._pool.shutdown(wait=False, cancel_futures=True)
