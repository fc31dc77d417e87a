"""Build whole model directories: files, random weights, calibration and the reload check."""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from . import layouts
from .calibration import Audio, calibrate_paraformer, calibrate_punc, load_calib_audio
from .configs import NO_DITHER, SIZES, ModelSizes
from .sensevoice_calibration import calibrate_sensevoice
from .weights import CHECKPOINT, PostInit, check_roundtrip, materialize_weights

# Roles in build order, with their directory names.
ROLE_DIRS = {
    "para": layouts.PARAFORMER_DIR,
    "punc": layouts.PUNC_DIR,
    "sv": layouts.SENSEVOICE_DIR,
    "vad": layouts.FSMN_VAD_DIR,
    "spk": layouts.CAMPP_DIR,
}
# The VAD is opt-in: the real weights are normally fetched (scripts/fetch_vad_model.py).
DEFAULT_ROLES = frozenset({"para", "punc", "sv", "spk"})
# Each role has its own seed (base + offset), so its bytes do not depend on which other roles are built.
SEED_OFFSET = {"para": 0, "punc": 1, "sv": 2, "vad": 3, "spk": 4}
# Checkpoint file names where a released model does not use model.pt.
CHECKPOINTS = {"spk": layouts.CAMPP_CHECKPOINT}


@dataclass(frozen=True)
class BuildOptions:
    """How the weights are made, shared by all roles of one build."""

    seed: int = 1234
    calibrate: bool = True  # False: torch default init only (no tag lanes, no bias tuning)
    keep_dither: bool = False  # True: leave the released frontend dither (1.0, non-deterministic)
    audio: Audio | None = None  # 16 kHz speech used to tune output rates

    @property
    def dither(self) -> float | None:
        """The frontend_conf.dither to write: None leaves FunASR's default, like the released configs."""
        return None if self.keep_dither else NO_DITHER


@dataclass(frozen=True)
class BuiltModel:
    """One finished model directory and how it went."""

    role: str
    path: Path
    n_params: int
    build_s: float
    check_s: float | None = None
    n_tensors: int | None = None  # tensors verified by the reload check; None when skipped

    def summary(self) -> str:
        """One line for the console."""
        line = (f"{self.path.name}: {self.n_params / 1e6:.2f}M params, {_dir_mib(self.path):.1f} MiB, "
                f"built {self.build_s:.1f}s")
        if self.n_tensors is not None:
            line += f", reload check ok ({self.n_tensors} tensors) {self.check_s:.1f}s"
        return line


class ModelDirExistsError(FileExistsError):
    """Model directories to build already exist and replacing them was not asked for."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        what = "model directory already exists" if len(paths) == 1 else "model directories already exist"
        super().__init__(f"{what}: {', '.join(map(str, paths))} (--force / force=True replaces)")


# Writes a role's files into a directory and returns its calibration (None: keep the random init).
RoleWriter = Callable[[Path, ModelSizes, BuildOptions, int], PostInit | None]


def _paraformer(model_dir: Path, sizes: ModelSizes, opts: BuildOptions, seed: int) -> PostInit | None:
    """Streaming Paraformer files; calibration: no <unk>, fewer English units, realistic token rate."""
    tokens = layouts.write_paraformer_files(model_dir, sizes.para, opts.dither)
    if not opts.calibrate:
        return None
    return lambda am: calibrate_paraformer(am, tokens, opts.audio)


def _punc(model_dir: Path, sizes: ModelSizes, opts: BuildOptions, seed: int) -> PostInit | None:
    """Realtime punctuation files; calibration: a Mandarin-like punctuation mix."""
    layouts.write_punc_files(model_dir, sizes.punc)
    if not opts.calibrate:
        return None
    return lambda am: calibrate_punc(am, sizes.punc.vocab, seed)


def _sensevoice(model_dir: Path, sizes: ModelSizes, opts: BuildOptions, seed: int) -> PostInit | None:
    """SenseVoiceSmall files; calibration: the released tag prefix and a realistic blank rate."""
    pieces = layouts.write_sensevoice_files(model_dir, sizes.sv, opts.dither)
    if not opts.calibrate:
        return None
    return lambda am: calibrate_sensevoice(am, pieces, seed, opts.audio)


def _fsmn_vad(model_dir: Path, sizes: ModelSizes, opts: BuildOptions, seed: int) -> PostInit | None:
    """FSMN-VAD files; random weights are left as they are (its released config already has dither 0)."""
    layouts.write_fsmn_vad_files(model_dir)
    return None


def _campplus(model_dir: Path, sizes: ModelSizes, opts: BuildOptions, seed: int) -> PostInit | None:
    """CAM++ speaker embedding files; random weights are left as they are (embeddings need no format)."""
    layouts.write_campplus_files(model_dir, sizes.campp)
    return None


ROLE_WRITERS: dict[str, RoleWriter] = {
    "para": _paraformer, "punc": _punc, "sv": _sensevoice, "vad": _fsmn_vad, "spk": _campplus,
}


def build_role(role: str, out: Path, sizes: ModelSizes, opts: BuildOptions, *, check: bool = True,
               force: bool = False) -> BuiltModel:
    """Build out/<role dir> in a scratch directory and move it into place only once it is complete."""
    final = out / ROLE_DIRS[role]
    scratch = out / f".{final.name}.partial"
    if scratch.exists():  # left over from an interrupted build: ours to remove
        shutil.rmtree(scratch)
    scratch.mkdir(parents=True)
    seed = opts.seed + SEED_OFFSET[role]
    started = time.perf_counter()
    try:
        post_init = ROLE_WRITERS[role](scratch, sizes, opts, seed)
        checkpoint = CHECKPOINTS.get(role, CHECKPOINT)
        n_params = materialize_weights(scratch, seed, post_init, checkpoint)
        built = time.perf_counter()
        n_tensors = check_roundtrip(scratch, checkpoint) if check else None
        checked = time.perf_counter()
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    if final.exists() and force:
        shutil.rmtree(final)
    scratch.rename(final)  # fails, rather than merging, if `final` appeared meanwhile
    return BuiltModel(role=role, path=final, n_params=n_params, build_s=built - started,
                      check_s=checked - built if check else None, n_tensors=n_tensors)


def build_models(size: str, out: Path, *, seed: int = 1234, calib_wav: Path | None = None,
                 only: set[str] | None = None, force: bool = False, check: bool = True,
                 calibrate: bool = True, keep_dither: bool = False,
                 on_built: Callable[[BuiltModel], None] | None = None) -> dict[str, Path]:
    """Build the requested roles (default para, punc, sv, spk) under `out`; returns role -> directory.

    Output is byte-identical for the same size, seed and calibration audio.  A missing calib_wav is
    skipped (Gaussian probes only).  Raises ModelDirExistsError before building anything when a target
    directory exists and force is False."""
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; choose from {sorted(SIZES)}")
    roles = selected_roles(only)
    existing = existing_model_dirs(out, roles)
    if existing and not force:
        raise ModelDirExistsError(existing)
    audio = load_calib_audio(calib_wav) if calibrate else None
    opts = BuildOptions(seed=seed, calibrate=calibrate, keep_dither=keep_dither, audio=audio)
    out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Path] = {}
    with _quiet_logging():
        for role in roles:
            model = build_role(role, out, SIZES[size], opts, check=check, force=force)
            result[role] = model.path
            if on_built is not None:
                on_built(model)
    return result


def selected_roles(only: set[str] | None) -> list[str]:
    """The roles to build in build order (default para, punc, sv, spk); ValueError on an unknown role."""
    unknown = (only or set()) - set(ROLE_DIRS)
    if unknown:
        raise ValueError(f"unknown model roles {sorted(unknown)}; choose from {list(ROLE_DIRS)}")
    return [r for r in ROLE_DIRS if r in (DEFAULT_ROLES if only is None else only)]


def existing_model_dirs(out: Path, roles: list[str]) -> list[Path]:
    """The directories of `roles` under `out` that already exist."""
    return [out / ROLE_DIRS[r] for r in roles if (out / ROLE_DIRS[r]).exists()]


@contextlib.contextmanager
def _quiet_logging() -> Iterator[None]:
    """Silence log records below ERROR: FunASR logs warnings and INFO lines on every build."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(previous)


def _dir_mib(path: Path) -> float:
    """Total size of the files under path, in MiB."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20
