#!/usr/bin/env python3
"""Create FunASR model directories with the released architectures and file layouts but RANDOM
(fixed-seed) weights, for tests (--size tiny) and benchmarks (--size full) on machines without a hub.

    python scripts/make_test_models.py --size tiny --out models/test-tiny
    python scripts/make_test_models.py --size full --out models/test-full --calib-wav speech16k.wav

Creates under --out:
    paraformer-zh-streaming/                         ParaformerStreaming, ..-vocab8404-online
    punc_ct-transformer_zh-cn-common-vad_realtime/   CTTransformerStreaming, ..-vocab272727
    SenseVoiceSmall/                                 SenseVoiceSmall
    speech_campplus_sv_zh-cn_16k-common/             CAMPPlus speaker embedding (campplus_cn_common.bin)
and with --with-vad (or --only ...,vad) fsmn-vad/ with random weights; normally fetch the real one
with scripts/fetch_vad_model.py.

Each directory loads with funasr.AutoModel(model=<dir>, disable_update=True) exactly like a released
one.  Unless --pure-random, output layers are calibrated so the text has the released format (no <unk>,
Mandarin-like rates, SenseVoice's <|lang|><|emo|><|event|><|itn|> prefix); the content is gibberish.
Output is byte-identical for the same --size, --seed and --calib-wav.  Deviation from the released
config.yaml: frontend_conf.dither is 0.0 (repeatable features) unless --keep-dither.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# scripts/ is on sys.path both when run as `python scripts/make_test_models.py` and when imported the
# way tests do (conftest puts scripts/ on sys.path), so the helper package imports as `fake_models`.
from fake_models.builders import (
    DEFAULT_ROLES,
    ROLE_DIRS,
    BuiltModel,
    ModelDirExistsError,
    build_models,
    existing_model_dirs,
    selected_roles,
)
from fake_models.configs import SIZES

__all__ = ["build_models", "main"]


def _roles(text: str) -> set[str]:
    """argparse type for --only: a comma list of known roles."""
    roles = {r.strip() for r in text.split(",") if r.strip()}
    unknown = roles - set(ROLE_DIRS)
    if unknown:
        choices = ",".join(ROLE_DIRS)
        raise argparse.ArgumentTypeError(f"unknown roles {sorted(unknown)}; choose from {choices}")
    return roles


def _parser() -> argparse.ArgumentParser:
    """The command line."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=sorted(SIZES), required=True)
    ap.add_argument("--out", type=Path, required=True, help="parent directory of the model directories")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--only", type=_roles, default=set(DEFAULT_ROLES),
                    help=f"comma list of {','.join(ROLE_DIRS)} (default: {','.join(sorted(DEFAULT_ROLES))})")
    ap.add_argument("--with-vad", action="store_true", help="also write a random-weight fsmn-vad/")
    ap.add_argument("--force", action="store_true", help="replace existing model directories")
    ap.add_argument("--no-check", action="store_true", help="skip the AutoModel reload check")
    ap.add_argument("--pure-random", action="store_true",
                    help="skip output calibration (no SenseVoice tag lanes, no blank/punc bias tuning)")
    ap.add_argument("--calib-wav", type=Path, default=None,
                    help="16 kHz speech to tune output rates on (first 60 s); skipped if the file is missing")
    ap.add_argument("--keep-dither", action="store_true",
                    help="keep the released configs' frontend dither (FunASR default 1.0, non-deterministic)")
    return ap


def _print_summary(model: BuiltModel) -> None:
    """One console line per finished model."""
    print(model.summary(), flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    roles = set(args.only) | ({"vad"} if args.with_vad else set())
    existing = existing_model_dirs(args.out, selected_roles(roles))
    if existing and not args.force:  # before any output or the slow funasr import
        print(f"error: {ModelDirExistsError(existing)}", file=sys.stderr)
        return 1
    calibrate = not args.pure_random
    calib_wav: Path | None = args.calib_wav
    uses_audio = calibrate and calib_wav is not None and calib_wav.exists()
    print(f"calibration audio: {calib_wav if uses_audio else 'none (Gaussian probe only)'}", flush=True)
    try:
        build_models(args.size, args.out, seed=args.seed, calib_wav=calib_wav, only=roles, force=args.force,
                     check=not args.no_check, calibrate=calibrate, keep_dither=args.keep_dither,
                     on_built=_print_summary)
    except ModelDirExistsError as exc:  # appeared since the check above
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
