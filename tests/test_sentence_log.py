"""The sentence log: each sentence pushed once in order, changes as numbered updates, a snapshot in step."""

from __future__ import annotations

import logging
import threading

import pytest

from asr_service.events import SentenceEvent, SentenceFinal, SentenceUpdate
from asr_service.pipeline import Sentence
from asr_service.sentence_log import SentenceLog

A, B, C = Sentence("今天开会", 0, 900), Sentence("讨论备份", 900, 2000), Sentence("散会", 3000, 3500)


# what these sentences say SenseVoice heard
PLAIN: dict[str, object] = {"language": None, "emotion": None, "events": []}


def _log() -> tuple[SentenceLog, list[SentenceEvent]]:
    events: list[SentenceEvent] = []
    return SentenceLog(events.append), events


def test_new_sentences_go_out_once_each_in_order() -> None:
    log, events = _log()
    assert log.sync([A]) == 1
    assert log.sync([A, B, C]) == 2
    assert log.sync([A, B, C]) == 0  # nothing changed: nothing sent
    assert all(isinstance(e, SentenceFinal) for e in events)
    assert [e.to_wire() for e in events] == [
        {"index": 0, "revision": 0, "text": "今天开会", "start_ms": 0, "end_ms": 900, **PLAIN},
        {"index": 1, "revision": 0, "text": "讨论备份", "start_ms": 900, "end_ms": 2000, **PLAIN},
        {"index": 2, "revision": 0, "text": "散会", "start_ms": 3000, "end_ms": 3500, **PLAIN},
    ]


def test_a_changed_sentence_goes_out_as_the_next_revision() -> None:
    log, events = _log()
    log.sync([A, B])
    log.sync([A, Sentence("讨论备份。", 900, 2000), C])  # an update and a new one at once
    log.sync([A, Sentence("讨论备份演练。", 900, 2000), C])
    sent = [(e.name, e.to_wire()) for e in events[2:]]
    assert sent == [
        (
            "sentence_update",
            {
                "index": 1,
                "revision": 1,
                "text": "讨论备份。",
                "start_ms": 900,
                "end_ms": 2000,
                **PLAIN,
                "reason": "llm",
            },
        ),
        (
            "sentence_final",
            {"index": 2, "revision": 0, "text": "散会", "start_ms": 3000, "end_ms": 3500, **PLAIN},
        ),
        (
            "sentence_update",
            {
                "index": 1,
                "revision": 2,
                "text": "讨论备份演练。",
                "start_ms": 900,
                "end_ms": 2000,
                **PLAIN,
                "reason": "llm",
            },
        ),
    ]
    assert isinstance(events[2], SentenceUpdate)
    assert [s.to_wire()["text"] for s in log.snapshot()] == ["今天开会", "讨论备份演练。", "散会"]
    assert [s.revision for s in log.snapshot()] == [0, 2, 0]


def test_a_shorter_list_never_takes_a_sentence_back(caplog: pytest.LogCaptureFixture) -> None:
    log, events = _log()
    log.sync([A, B])
    with caplog.at_level(logging.WARNING):
        assert log.sync([A]) == 0
    assert len(events) == 2 and len(log.snapshot()) == 2 and "only 1 now" in caplog.text


def test_sync_and_snapshot_share_the_lock_they_are_given() -> None:
    lock = threading.RLock()
    events: list[SentenceEvent] = []
    log = SentenceLog(events.append, lock)
    synced = threading.Event()

    def push() -> None:
        log.sync([A])
        synced.set()

    with lock:  # a client being bound: no sentence goes out meanwhile
        threading.Thread(target=push, daemon=True).start()
        assert not synced.wait(0.2) and log.snapshot() == ()
    assert synced.wait(10) and [s.index for s in log.snapshot()] == [0]
