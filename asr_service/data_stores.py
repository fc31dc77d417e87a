"""The stores under ASR_DATA_DIR, opened once per process and shared by sessions, the service and the API."""

from __future__ import annotations

from .config import Settings
from .handoff import HandoffStore, SharedData
from .results import ResultStore
from .spool import RecordingStore


def open_stores(settings: Settings) -> SharedData:
    """Live recordings (spools and backups), final results and resume states, each in its own folder."""
    return SharedData(
        handoff=HandoffStore(settings.data_dir / "sessions", settings.retention_s),
        recordings=RecordingStore(settings.data_dir / "recordings", settings.retention_s),
        results=ResultStore(settings.data_dir / "results", settings.retention_s),
    )
