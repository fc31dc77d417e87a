"""Process figures read from /proc: CPU seconds and resident memory, sampled over a run."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process (all its threads) has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # fields[0] is the state (3rd field of stat); utime and stime are the 14th and 15th
    return (int(fields[11]) + int(fields[12])) / _TICKS


def rss_mb(pid: int) -> float:
    """Resident set size in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentiles(values: list[float], *qs: float) -> list[float]:
    """The requested percentiles (nan when there are no values), rounded to 0.1."""
    if not values:
        return [float("nan")] * len(qs)
    return [round(float(np.percentile(values, q)), 1) for q in qs]


class CpuMeter:
    """CPU seconds a process uses between start() and stop()."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._cpu0 = self._wall0 = 0.0
        self.cpu_s = self.wall_s = 0.0

    def start(self) -> CpuMeter:
        """Mark the beginning of the measured span."""
        self._cpu0, self._wall0 = cpu_seconds(self.pid), time.monotonic()
        return self

    def stop(self) -> CpuMeter:
        """Mark its end; cpu_s and wall_s hold the span's figures."""
        self.cpu_s = cpu_seconds(self.pid) - self._cpu0
        self.wall_s = time.monotonic() - self._wall0
        return self


class RssSampler:
    """Samples a process's RSS every `every_s` seconds on a background thread."""

    def __init__(self, pid: int, every_s: float = 5.0) -> None:
        self.pid, self.every_s = pid, every_s
        self.samples: list[tuple[float, float]] = []  # (seconds since start, MB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._t0 = time.monotonic()

    def _loop(self) -> None:
        while True:
            self.samples.append((round(time.monotonic() - self._t0, 1), round(rss_mb(self.pid), 1)))
            if self._stop.wait(self.every_s):
                return

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append((round(time.monotonic() - self._t0, 1), round(rss_mb(self.pid), 1)))
