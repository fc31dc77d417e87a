"""Hotword vocabularies: the hotwords.json format, per-request words, and a store that reloads the file."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_WEIGHT = 10
MAX_WEIGHT = 100
MAX_HOTWORD_CHARS = 40
MAX_EXTRA_HOTWORDS = 100
# Request hotwords as text: 100 words of 40 characters, quoted and separated, fit well inside.
MAX_EXTRA_HOTWORDS_CHARS = 16 * 1024
# hotwords.json is {"hotwords": {...} or [...], "corrections": {...}}: nesting 2; a margin on top.
MAX_FILE_NESTING = 8


class HotwordsError(ValueError):
    """A hotwords file or field that cannot be used; the message says where and why."""


@dataclass(frozen=True)
class Vocabulary:
    """Hotwords with their weights and explicit corrections: what text correction works from."""

    weights: Mapping[str, float] = field(default_factory=dict)
    corrections: Mapping[str, str] = field(default_factory=dict)
    description: str = ""

    @property
    def words(self) -> list[str]:
        """Hotwords, heaviest first (ties keep their order of appearance)."""
        order = {w: i for i, w in enumerate(self.weights)}
        return sorted(self.weights, key=lambda w: (-self.weights[w], order[w]))

    def with_words(self, extra: Iterable[str]) -> Vocabulary:
        """This vocabulary plus request words (at the default weight unless already listed)."""
        weights = dict(self.weights)
        for word in extra:
            weights.setdefault(word, DEFAULT_WEIGHT)
        return replace(self, weights=weights)


def json_nesting(text: str, limit: int) -> int:
    """How deeply arrays and objects nest in JSON `text`, counting no further than `limit` + 1.

    Checked before json.loads, whose recursion a deeply nested text would exhaust.
    """
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                break
        elif ch in "]}":
            depth -= 1
    return deepest


def parse_vocabulary(text: str, source: str) -> Vocabulary:
    """The vocabulary in a hotwords.json text; HotwordsError names the position or field at fault."""
    if json_nesting(text, MAX_FILE_NESTING) > MAX_FILE_NESTING:
        raise HotwordsError(f"{source} nests arrays or objects deeper than {MAX_FILE_NESTING} levels")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HotwordsError(
            f"{source} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno} (char {exc.pos})"
        ) from None
    if not isinstance(data, dict):
        raise HotwordsError(f"{source} must hold a JSON object with a 'hotwords' field")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise HotwordsError(f"{source}: 'description' must be a string")
    return Vocabulary(
        _weights(data.get("hotwords", []), source),
        _corrections(data.get("corrections", {}), source),
        description,
    )


def _weights(raw: Any, source: str) -> dict[str, float]:
    if isinstance(raw, list):
        raw = {_word(word, f"{source}: hotword {word!r}"): DEFAULT_WEIGHT for word in raw}
    if not isinstance(raw, dict):
        raise HotwordsError(f"{source}: 'hotwords' must be a list of strings or an object of word: weight")
    weights: dict[str, float] = {}
    for word, weight in raw.items():
        name = _word(word, f"{source}: hotword {word!r}")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 < weight <= MAX_WEIGHT:
            raise HotwordsError(f"{source}: the weight of {name!r} must be a number above 0 and at most 100")
        weights[name] = weight
    return weights


def _corrections(raw: Any, source: str) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise HotwordsError(f"{source}: 'corrections' must be an object of heard: meant")
    out: dict[str, str] = {}
    for heard, meant in raw.items():
        key = _word(heard, f"{source}: correction {heard!r}")
        value = _word(meant, f"{source}: the correction of {heard!r}")
        if key != value:
            out[key] = value
    return out


def _word(raw: object, where: str) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise HotwordsError(f"{where} must be a non-empty string")
    word = raw.strip()
    if len(word) > MAX_HOTWORD_CHARS:
        raise HotwordsError(f"{where} is longer than {MAX_HOTWORD_CHARS} characters")
    return word


def parse_extra_hotwords(raw: object, where: str) -> tuple[str, ...]:
    """Request hotwords: a list of strings, a JSON array text, or a string split on ',' and '，'."""
    if raw is None:
        return ()
    if isinstance(raw, str):
        text = raw.strip()
        if len(text) > MAX_EXTRA_HOTWORDS_CHARS:
            raise HotwordsError(f"{where} is longer than {MAX_EXTRA_HOTWORDS_CHARS} characters")
        if text.startswith("["):
            if json_nesting(text, 1) > 1:
                raise HotwordsError(f"{where} must be a flat JSON array of strings (nothing nested)")
            try:
                raw = json.loads(text)
            except json.JSONDecodeError as exc:
                raise HotwordsError(
                    f"{where} is not a valid JSON array: {exc.msg} (char {exc.pos})"
                ) from None
        else:
            raw = text.replace("，", ",").split(",")
    if not isinstance(raw, list) or not all(isinstance(w, str) for w in raw):
        raise HotwordsError(f"{where} must be a list of strings or a comma-separated string")
    words = tuple(dict.fromkeys(w.strip() for w in raw if w.strip()))
    if len(words) > MAX_EXTRA_HOTWORDS:
        raise HotwordsError(f"{where} has {len(words)} words; at most {MAX_EXTRA_HOTWORDS} are allowed")
    for word in words:
        if len(word) > MAX_HOTWORD_CHARS:
            raise HotwordsError(f"{where}: {word[:20]!r}... is longer than {MAX_HOTWORD_CHARS} characters")
    return words


_Signature = tuple[int, int, int]


class HotwordStore:
    """HOTWORDS_FILE's vocabulary, reloaded when the file changes; a broken file keeps the last good one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._vocabulary = Vocabulary()
        self._version = 0
        self._loaded_at: float | None = None
        self._error: str | None = None
        self._seen: _Signature | None = None
        self._checked = False

    def current(self) -> Vocabulary:
        """The vocabulary, re-read first if the file's modification time, size or inode changed."""
        with self._lock:
            signature = self._signature()
            if not self._checked or signature != self._seen:
                self._load(signature)
            return self._vocabulary

    def reload(self) -> dict[str, Any]:
        """Read the file now; HotwordsError (the last good list stays in use) when it is broken."""
        with self._lock:
            self._load(self._signature())
            if self._error is not None:
                raise HotwordsError(self._error)
            return self._status()

    def status(self) -> dict[str, Any]:
        """The list, count, version, file and last error, as GET /api/asr/hotwords shows them."""
        self.current()
        with self._lock:
            return self._status()

    def _status(self) -> dict[str, Any]:
        vocabulary = self._vocabulary
        loaded = self._loaded_at
        return {
            "hotwords": vocabulary.words,
            "weights": dict(vocabulary.weights),
            "corrections": dict(vocabulary.corrections),
            "count": len(vocabulary.weights),
            "description": vocabulary.description,
            "version": self._version,
            "file": str(self.path.resolve()),
            "file_exists": self._seen is not None,
            "loaded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(loaded)) if loaded else None,
            "error": self._error,
        }

    def _signature(self) -> _Signature | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size, stat.st_ino)

    def _load(self, signature: _Signature | None) -> None:
        self._checked, self._seen = True, signature
        if signature is None:
            if self._version:  # it was there: a missing file is more likely a bad deploy than "no words"
                self._fail(f"hotwords file {self.path} is missing; keeping version {self._version}")
            return
        try:
            vocabulary = parse_vocabulary(self.path.read_text(encoding="utf-8"), str(self.path))
        except (OSError, UnicodeDecodeError) as exc:
            self._fail(f"cannot read hotwords file {self.path}: {exc}; keeping version {self._version}")
            return
        except HotwordsError as exc:
            self._fail(f"{exc}; keeping version {self._version}")
            return
        self._error = None
        if vocabulary != self._vocabulary or not self._version:
            self._vocabulary, self._version, self._loaded_at = vocabulary, self._version + 1, time.time()
            log.info(
                "loaded %d hotwords and %d corrections from %s (version %d)",
                len(vocabulary.weights),
                len(vocabulary.corrections),
                self.path,
                self._version,
            )

    def _fail(self, message: str) -> None:
        self._error = message
        log.error("%s", message)
