"""Random-weight test models (and the real FSMN-VAD) made once and cached outside the checkout.

`python scripts/test_model_dirs.py --size tiny` prints `export ASR_..._MODEL=...` lines for a shell.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shlex
import shutil
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPTS))

from fetch_vad_model import fetch_vad  # noqa: E402
from make_test_models import build_models  # noqa: E402

ROLE_ENV = {
    "streaming": "ASR_STREAMING_MODEL",
    "punc": "ASR_PUNC_MODEL",
    "vad": "ASR_VAD_MODEL",
    "offline": "ASR_OFFLINE_MODEL",
    "speaker": "ASR_SPEAKER_MODEL",
}


def cache_root() -> Path:
    """Where built models live: $ASR_CACHE_DIR or ~/.cache/xingji-asr."""
    base = os.environ.get("ASR_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "xingji-asr"
    )
    return Path(base) / "test-models"


def generator_key() -> str:
    """Hash of the generator's sources: a changed generator builds fresh models."""
    digest = hashlib.sha256()
    for path in sorted([SCRIPTS / "make_test_models.py", *(SCRIPTS / "fake_models").glob("*.py")]):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def ensure_test_models(size: str = "tiny", calib_wav: Path | None = None) -> dict[str, Path]:
    """Role -> model directory, building the random-weight models on first use."""
    root = cache_root()
    target = root / f"{size}-{generator_key()}"
    if not (target / ".complete").is_file():
        staging = root / f".{target.name}.partial-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        build_models(size, staging, calib_wav=calib_wav)
        (staging / ".complete").write_text("ok\n")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    dirs = {role: target / name for role, name in _model_names().items()}
    dirs["vad"] = fetch_vad(root / "vad")
    return dirs


def _model_names() -> dict[str, str]:
    return {
        "streaming": "paraformer-zh-streaming",
        "punc": "punc_ct-transformer_zh-cn-common-vad_realtime",
        "offline": "SenseVoiceSmall",
        "speaker": "speech_campplus_sv_zh-cn_16k-common",
    }


def model_env(dirs: dict[str, Path]) -> dict[str, str]:
    """The ASR_*_MODEL variables that point the service at `dirs`."""
    return {ROLE_ENV[role]: str(path) for role, path in dirs.items()}


def main() -> None:
    """Print shell export lines for the test models of the requested size."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", choices=["tiny", "full"], default="tiny")
    args = parser.parse_args()
    for name, value in model_env(ensure_test_models(args.size)).items():
        print(f"export {name}={shlex.quote(value)}")


if __name__ == "__main__":
    main()
