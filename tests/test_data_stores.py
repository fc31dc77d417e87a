"""open_stores: each store in its own folder under ASR_DATA_DIR, with the retention time of the settings;
two openings of one data dir (two processes) share what either writes."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np

from asr_service.config import Settings
from asr_service.data_stores import open_stores
from asr_service.handoff import SharedData
from asr_service.results import token_digest

RETENTION_S = 90.0


def _stores(data_dir: Path) -> SharedData:
    settings = Settings.from_env({"ASR_DATA_DIR": str(data_dir), "ASR_RETENTION_S": str(RETENTION_S)})
    return open_stores(settings)


def test_each_store_lives_in_its_own_folder_under_the_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "not" / "made" / "yet"
    stores = _stores(data)
    # README, ASR_DATA_DIR: recordings/ (spool and backup), results/ (final results), sessions/ (resume)
    assert stores.recordings.directory == (data / "recordings").resolve()
    assert stores.results.directory == data / "results"
    assert stores.handoff.directory == data / "sessions"
    assert sorted(p.name for p in data.iterdir() if p.is_dir()) == ["recordings", "results", "sessions"]


def test_every_store_keeps_files_for_the_retention_time_of_the_settings(tmp_path: Path) -> None:
    stores = _stores(tmp_path / "data")
    assert (stores.recordings.retention_s, stores.results.retention_s, stores.handoff.retention_s) == (
        RETENTION_S,
        RETENTION_S,
        RETENTION_S,
    )
    session_id = uuid.uuid4().hex
    stores.results.save(session_id, "token", {"text": "kept"})
    written = (stores.results.directory / f"{session_id}.json").stat().st_mtime
    assert stores.results.sweep(now=written + RETENTION_S - 1) == 0  # younger than the retention time
    assert stores.results.sweep(now=written + RETENTION_S + 1) == 1


def test_two_openings_of_one_data_dir_share_recordings_results_and_resume_states(tmp_path: Path) -> None:
    writer, reader = _stores(tmp_path / "data"), _stores(tmp_path / "data")
    session_id, token = uuid.uuid4().hex, "resume-token"

    spool = writer.recordings.create(session_id)
    spool.append(np.arange(4, dtype="<i2").tobytes())
    spool.close()
    found = reader.recordings.existing(session_id)
    assert found is not None and found == writer.recordings.path(session_id)

    writer.results.save(session_id, token, {"text": "shared"})
    assert reader.results.load(session_id, token)["text"] == "shared"

    writer.handoff.save(token_digest(token), session_id, "recording", {"language": "auto"})
    state = reader.handoff.load(token_digest(token))
    assert state is not None and state.session_id == session_id and state.state == "recording"
