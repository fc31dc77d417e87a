"""Final-text correction: hotword replacement per sentence, then LLM windows within a time budget."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from .config import Settings
from .hotwords import HotwordStore, Vocabulary
from .llm_client import ChatClient, CircuitBreaker
from .llm_correction import LlmCorrector, Window, WindowOutcome, fallback
from .pipeline import Sentence
from .replacement import HotwordReplacer

log = logging.getLogger(__name__)

WINDOW_MAX_CHARS = 1500  # a window is also closed at this many characters, so prompts stay bounded
MAX_PROMPT_HOTWORDS = 200
MAX_PROMPT_MISTAKES = 100


@dataclass(frozen=True)
class CorrectedText:
    """A transcript after correction, with what changed and how the LLM fared."""

    sentences: list[Sentence]  # final: LLM-corrected where that worked
    replaced: list[Sentence]  # after hotword replacement, before the LLM
    corrections: list[dict[str, Any]]
    llm_status: str
    llm_windows: list[dict[str, Any]]


class Corrector:
    """Owns the hotword store and the LLM; hands out one TextCorrection per transcript."""

    def __init__(
        self,
        store: HotwordStore,
        replacer: HotwordReplacer,
        llm: LlmCorrector | None = None,
        window_sentences: int = 12,
        budget_s: float = 20.0,
    ) -> None:
        self.store, self.replacer, self.llm = store, replacer, llm
        self.window_sentences, self.budget_s = window_sentences, budget_s

    @classmethod
    def from_settings(cls, settings: Settings) -> Corrector:
        """The hotwords file from HOTWORDS_FILE and, when LLM_API_URL is set, the LLM."""
        llm = None
        if settings.llm_api_url:
            breaker = CircuitBreaker(settings.llm_breaker_failures, settings.llm_breaker_cooldown_s)
            client = ChatClient(
                settings.llm_api_url,
                settings.llm_api_key,
                settings.llm_model,
                settings.llm_timeout_s,
                breaker,
            )
            llm = LlmCorrector(client, settings.llm_max_edit_ratio, settings.llm_concurrency)
        replacer = HotwordReplacer(settings.hotwords_pinyin_threshold, settings.hotwords_pinyin_min_chars)
        return cls(
            HotwordStore(settings.hotwords_file),
            replacer,
            llm,
            settings.llm_window_sentences,
            settings.llm_budget_s,
        )

    def warm_up(self) -> None:
        """Load the hotwords file and the word list now, not in the first recording's path."""
        self.store.current()
        self.replacer.warm_up()

    def vocabulary(self, extra: Iterable[str] = ()) -> Vocabulary:
        """The file's vocabulary (re-read if it changed) plus request words."""
        return self.store.current().with_words(extra)

    def start(self, extra: Sequence[str] = (), llm_requested: bool = False) -> TextCorrection:
        """A correction for one transcript whose sentences arrive in order."""
        return TextCorrection(
            self, tuple(extra), self.llm if llm_requested else None, self._idle_status(llm_requested)
        )

    def correct(
        self, sentences: Sequence[Sentence], extra: Sequence[str] = (), llm: bool = False
    ) -> CorrectedText:
        """A whole transcript at once (files): replacement, then all windows in parallel within the budget."""
        job = self.start(extra, llm)
        job.add(sentences)
        return job.finish()

    def _idle_status(self, llm_requested: bool) -> str:
        if self.llm is None:
            return "disabled"
        return "no_text" if llm_requested else "off"

    def close(self) -> None:
        """Stop the LLM's threads."""
        if self.llm is not None:
            self.llm.close()


class TextCorrection:
    """One transcript: each sentence is replaced as it arrives; LLM windows start as soon as one is full."""

    def __init__(
        self, owner: Corrector, extra: tuple[str, ...], llm: LlmCorrector | None, idle_status: str
    ) -> None:
        self._owner, self._extra, self._llm, self._idle_status = owner, extra, llm, idle_status
        self._replaced: list[Sentence] = []
        self._corrections: list[dict[str, Any]] = []
        self._pending: list[
            tuple[Sentence, str]
        ] = []  # replaced sentences not in a window yet, with reference
        self._windows: list[tuple[Window, Future[WindowOutcome]]] = []
        self._on_window_done: Callable[[], None] | None = None

    def add(self, sentences: Sequence[Sentence], references: Sequence[str] | None = None) -> None:
        """Sentences in time order, each optionally with the first-pass text of the same audio."""
        vocabulary = self._owner.vocabulary(self._extra)
        for index, sentence in enumerate(sentences):
            text, replacements = self._owner.replacer.apply(sentence.text, vocabulary)
            fixed = sentence.with_text(text)
            self._replaced.append(fixed)
            self._corrections += [
                {
                    "from": r.heard,
                    "to": r.meant,
                    "start_ms": fixed.start_ms,
                    "end_ms": fixed.end_ms,
                    "rule": r.rule,
                }
                for r in replacements
            ]
            if self._llm is not None:
                self._pending.append((fixed, references[index] if references else ""))
                if self._window_full():
                    self._submit(vocabulary, None)

    def finish(self) -> CorrectedText:
        """Send what is left and wait for the windows, at most the budget; late windows keep their text."""
        if self._llm is None or not self._replaced:
            status = self._idle_status if self._llm is None else "no_text"
            return CorrectedText(self._replaced, self._replaced, self._corrections, status, [])
        deadline = time.monotonic() + self._owner.budget_s
        vocabulary = self._owner.vocabulary(self._extra)
        while self._pending:
            self._submit(vocabulary, deadline)
        outcomes = [self._outcome(window, future, deadline) for window, future in self._windows]
        sentences = [s for outcome in outcomes for s in outcome.sentences]
        status = _overall(outcomes)
        log.info("LLM correction of %d sentences in %d windows: %s", len(sentences), len(outcomes), status)
        return CorrectedText(
            sentences, self._replaced, self._corrections, status, [o.as_dict() for o in outcomes]
        )

    def _window_full(self) -> bool:
        chars = sum(len(s.text) for s, _ in self._pending)
        return len(self._pending) >= self._owner.window_sentences or chars >= WINDOW_MAX_CHARS

    def _submit(self, vocabulary: Vocabulary, deadline: float | None) -> None:
        assert self._llm is not None
        size = 0
        chars = 0
        while size < min(len(self._pending), self._owner.window_sentences):
            chars += len(self._pending[size][0].text)
            size += 1
            if chars >= WINDOW_MAX_CHARS:
                break
        taken, self._pending = self._pending[:size], self._pending[size:]
        mistakes = dict(list(vocabulary.corrections.items())[:MAX_PROMPT_MISTAKES])
        window = Window(
            tuple(s for s, _ in taken),
            tuple(vocabulary.words[:MAX_PROMPT_HOTWORDS]),
            mistakes,
            "".join(r for _, r in taken),
        )
        future = self._llm.submit(window, deadline)
        self._windows.append((window, future))
        on_done = self._on_window_done
        if on_done is not None:
            future.add_done_callback(lambda _f: on_done())

    def watch(self, on_window_done: Callable[[], None]) -> None:
        """Call `on_window_done` (on the LLM's thread) each time an LLM window submitted later finishes."""
        self._on_window_done = on_window_done

    def current(self) -> list[Sentence]:
        """The sentences added so far: the LLM's where its window is done, else after hotword replacement."""
        sentences = list(self._replaced)
        position = 0  # the windows take the replaced sentences in order, from the first
        for window, future in self._windows:
            size = len(window.sentences)
            if future.done() and not future.cancelled() and future.exception() is None:
                corrected = future.result().sentences
                if len(corrected) == size:
                    sentences[position : position + size] = corrected
            position += size
        return sentences

    @staticmethod
    def _outcome(window: Window, future: Future[WindowOutcome], deadline: float) -> WindowOutcome:
        try:
            return future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            future.cancel()
            log.warning(
                "LLM window at %d-%d ms not done within the budget; its text is kept",
                window.sentences[0].start_ms,
                window.sentences[-1].end_ms,
            )
            return fallback(window, "budget_exhausted", "not done within LLM_BUDGET_S")
        except Exception as exc:  # a cancelled job (shutdown); correct() itself never raises
            return fallback(window, "error", f"{type(exc).__name__}: {exc}")


def _overall(outcomes: list[WindowOutcome]) -> str:
    """ok when every window was corrected, partial when some were, else the first window's reason."""
    statuses = [o.status for o in outcomes]
    if all(s == "ok" for s in statuses):
        return "ok"
    return "partial" if "ok" in statuses else statuses[0]
