"""Resume state on a shared data directory: one file per token, `done` replacing `open`.
(Processes handing recordings to each other through it: tests/test_takeover.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from asr_service.handoff import HandoffStore
from asr_service.results import token_digest


def test_store_keeps_one_file_per_token_and_done_replaces_open(tmp_path: Path) -> None:
    store = HandoffStore(tmp_path, 60)
    digest = token_digest("tok")
    store.save(digest, "a" * 32, "recording", {"language": "zh"})
    loaded = store.load(digest)
    assert loaded is not None and loaded.session_id == "a" * 32 and not loaded.done
    assert [s.digest for s in store.open_states()] == [digest]
    store.save(digest, "a" * 32, "done", {})
    assert store.load(digest) is not None and store.load(digest).done  # type: ignore[union-attr]
    assert store.open_states() == [] and len(list(tmp_path.iterdir())) == 1
    assert store.load(token_digest("other")) is None
    with pytest.raises(KeyError):
        store.save("../../etc", "a" * 32, "done", {})
