"""Speech fixtures made on the fly: espeak-ng sentences with pauses, converted by ffmpeg."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 16000
UTTERANCES = (
    ("cmn", "今天我们开会讨论备份演练的安排"),
    ("en", "Yes. OK. Well, the service level agreement is ready."),
    ("cmn", "请大家准时参加星御项目的会议"),
)
PAUSE_S = 1.5

# format -> (file extension, ffmpeg codec arguments per sample rate)
FORMATS: dict[str, tuple[str, list[str]]] = {
    "wav": ("wav", ["-c:a", "pcm_s16le"]),
    "mp3": ("mp3", ["-c:a", "libmp3lame", "-q:a", "5"]),
    "ogg": ("ogg", ["-c:a", "libvorbis"]),
    "flac": ("flac", ["-c:a", "flac"]),
    "m4a": ("m4a", ["-c:a", "aac", "-b:a", "64k"]),
    "aac": ("aac", ["-c:a", "aac", "-b:a", "64k", "-f", "adts"]),
    "wma": ("wma", ["-c:a", "wmav2", "-b:a", "64k"]),
    "webm": ("webm", ["-c:a", "libopus", "-b:a", "32k"]),
}
RATES = (8000, 16000, 44100, 48000)
CHANNELS = (1, 2)


def require_tools() -> None:
    """Fail loudly (not skip) when the fixture tools are missing: run scripts/system_deps.sh."""
    missing = [tool for tool in ("espeak-ng", "ffmpeg") if shutil.which(tool) is None]
    if missing:
        raise RuntimeError(f"missing {', '.join(missing)}: run scripts/system_deps.sh")


def ffmpeg(*args: str) -> None:
    """Run ffmpeg quietly, overwriting outputs; raise on failure."""
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args], check=True)


def silent_flac(path: Path, seconds: float) -> Path:
    """Silence as 8 kHz FLAC: tiny on disk, long once decoded (a decoder bomb)."""
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", str(seconds), "-c:a", "flac", str(path))
    return path


def speak(voice: str, text: str, out: Path) -> np.ndarray:
    """One utterance as 16 kHz mono float32 (espeak-ng speaks, ffmpeg resamples)."""
    raw = out.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True, capture_output=True)
    ffmpeg("-i", str(raw), "-ar", str(RATE), "-ac", "1", str(out))
    samples, rate = sf.read(out, dtype="float32")
    assert rate == RATE
    return np.asarray(samples, dtype=np.float32)


def make_speech(directory: Path) -> Path:
    """Mandarin and English sentences separated by pauses, framed by silence: 16 kHz mono WAV."""
    directory.mkdir(parents=True, exist_ok=True)
    pause = np.zeros(int(PAUSE_S * RATE), dtype=np.float32)
    parts = [pause]
    for index, (voice, text) in enumerate(UTTERANCES):
        parts += [speak(voice, text, directory / f"utt{index}.wav"), pause]
    path = directory / "speech16k.wav"
    sf.write(path, np.concatenate(parts), RATE, subtype="PCM_16")
    return path


@dataclass(frozen=True)
class Converted:
    """A fixture file and what it should decode to."""

    path: Path
    fmt: str
    rate: int
    channels: int
    duration_s: float


def convert(source: Path, directory: Path, fmt: str, rate: int, channels: int) -> Converted:
    """`source` re-encoded by ffmpeg into `fmt` at `rate` Hz with `channels` channels."""
    ext, codec = FORMATS[fmt]
    if fmt == "webm" and rate == 44100:
        codec = ["-c:a", "libvorbis"]  # Opus has no 44.1 kHz mode
    out = directory / f"speech_{rate}_{channels}ch.{ext}"
    ffmpeg("-i", str(source), "-ar", str(rate), "-ac", str(channels), *codec, str(out))
    return Converted(out, fmt, rate, channels, sf.info(source).duration)


def make_format_matrix(source: Path, directory: Path) -> list[Converted]:
    """Every supported format x sample rate x channel count."""
    directory.mkdir(parents=True, exist_ok=True)
    return [
        convert(source, directory, fmt, rate, channels)
        for fmt in FORMATS
        for rate in RATES
        for channels in CHANNELS
    ]
