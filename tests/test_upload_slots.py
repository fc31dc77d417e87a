"""UploadSlots: at most `limit` uploads at once, the next told Busy at once; slots come back."""

from __future__ import annotations

import pytest

from asr_service.errors import Busy
from asr_service.upload_slots import UploadSlots


def test_past_the_limit_the_next_upload_is_busy_without_waiting() -> None:
    slots = UploadSlots(2)
    with slots.hold(), slots.hold():
        with pytest.raises(Busy, match="2 uploads are already being transcribed") as caught, slots.hold():
            pass
        assert caught.value.status == 503
    with slots.hold(), slots.hold():  # both came back
        pass


def test_a_failing_upload_gives_its_slot_back() -> None:
    slots = UploadSlots(1)
    with pytest.raises(ValueError), slots.hold():
        raise ValueError("decode failed")
    with slots.hold():
        pass
