"""Pre-download the models the service loads (same spec list), or `--check` what is present.

A role whose setting is empty (ASR_SPEAKER_MODEL="") is off: not downloaded, reported as off."""

from __future__ import annotations

import argparse
import sys
import time

from asr_service.config import Settings, SettingsError
from asr_service.model_specs import MODEL_SPECS, ModelSpec, configured_specs


def _status(spec: ModelSpec, settings: Settings) -> tuple[bool, str]:
    """Whether a role's model is available without network, and where."""
    from asr_service import model_loading

    source = spec.source(settings)
    try:
        path = model_loading.resolve_source(spec, source, allow_download=False)
    except model_loading.ModelLoadError as exc:
        return False, str(exc)
    return True, str(path)


def check(settings: Settings) -> int:
    """Print one line per role; non-zero when any configured model is missing."""
    missing = 0
    for spec in MODEL_SPECS:
        if not spec.configured(settings):
            print(f"{spec.role:10s} {'off':8s} ({spec.env_var} is empty)")
            continue
        ok, where = _status(spec, settings)
        missing += not ok
        label = "present" if ok else "MISSING"
        print(
            f"{spec.role:10s} {label:8s} {spec.source(settings)} -> {where}"
            if ok
            else f"{spec.role:10s} {label:8s} {where}"
        )
    return 1 if missing else 0


def download_all(settings: Settings) -> int:
    """Fetch every configured role's model into the ModelScope cache; stops at the first failure."""
    from asr_service import model_loading

    specs = configured_specs(settings)
    for index, spec in enumerate(specs, start=1):
        source = spec.source(settings)
        print(f"[{index}/{len(specs)}] {spec.title}: {source}", flush=True)
        started = time.perf_counter()
        try:
            path = model_loading.resolve_source(spec, source, allow_download=True)
        except model_loading.ModelLoadError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"    ready at {path} ({time.perf_counter() - started:.1f} s)", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report which models are present")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"error: configuration: {exc}", file=sys.stderr)
        return 2
    return check(settings) if args.check else download_all(settings)


if __name__ == "__main__":
    sys.exit(main())
