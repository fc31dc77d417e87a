"""FunASR model loading: sources, download, weight checks, device choice, warm-up (with model_adapters
and paraformer_batch, the only funasr/torch/modelscope code)."""

from __future__ import annotations

import contextlib
import copy
import ctypes
import ctypes.util
import io
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from funasr import AutoModel

from .audio_units import SAMPLE_RATE, ms_to_samples
from .config import Settings
from .model_adapters import CamppEmbedder, FunasrVad, SenseVoiceRecognizer
from .model_specs import ModelSpec, configured_specs
from .roles import RecognitionOptions

log = logging.getLogger(__name__)

# FunASR's own short names resolve to these ModelScope ids (a subset of funasr's name map).
_FUNASR_ALIASES = {
    "fsmn-vad": "iic/speech_fsmn_vad_zh-cn-16k-common-pytorch",
    "paraformer-zh-streaming": "iic/speech_paraformer-large_asr_nat-zh-cn-16k-common-vocab8404-online",
    "ct-punc-c": "iic/punc_ct-transformer_zh-cn-common-vad_realtime-vocab272727",
    "SenseVoiceSmall": "iic/SenseVoiceSmall",
    "cam++": "iic/speech_campplus_sv_zh-cn_16k-common",
}


class ModelLoadError(RuntimeError):
    """A model role could not be loaded; the message is one line a person can act on."""

    def __init__(self, spec: ModelSpec, source: str, reason: str, hint: str) -> None:
        super().__init__(
            f"cannot load the {spec.title} model from {source!r} ({spec.env_var}): {reason}. {hint}"
        )
        self.spec = spec
        self.source = source


@dataclass
class LoadedModel:
    """One loaded FunASR model with where it came from."""

    spec: ModelSpec
    source: str
    path: Path
    model: Any
    load_s: float


@dataclass
class ModelSet:
    """All loaded roles, plus the device they run on."""

    device: str
    threads: int
    loaded: dict[str, LoadedModel] = field(default_factory=dict)

    def streaming_lanes(self, count: int) -> list[Any]:
        """`count` handles on the streaming model that share its weights but not its call state.

        AutoModel keeps each call's arguments on the instance, so two threads must never share
        one; a shallow copy gets its own arguments while the weights (read-only at inference)
        stay in memory once.
        """
        first = self.loaded["streaming"].model
        return [first] + [copy.copy(first) for _ in range(count - 1)]

    def second_vad(self) -> Any:
        """Another instance of the VAD model (it is small), for a second worker to own."""
        return build_automodel(self.loaded["vad"].path, self.device, self.threads)

    def describe(self) -> list[dict[str, Any]]:
        """Role, source, directory and load time of every loaded model (for /api/asr/models)."""
        return [
            {
                "role": m.spec.role,
                "title": m.spec.title,
                "source": m.source,
                "path": str(m.path),
                "device": self.device,
                "load_s": round(m.load_s, 2),
            }
            for m in self.loaded.values()
        ]


def select_device(settings: Settings) -> str:
    """CUDA, then MPS (unless USE_MPS=0), then CPU; a forced device must exist."""
    want = settings.device
    if want == "auto":
        if torch.cuda.is_available():
            return "cuda:0"
        if settings.use_mps and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if want.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"ASR_DEVICE={want} but CUDA is not available on this machine")
    if want == "mps" and not torch.backends.mps.is_available():
        raise RuntimeError("ASR_DEVICE=mps but MPS is not available on this machine")
    return "cuda:0" if want == "cuda" else want


def looks_like_path(source: str) -> bool:
    """Whether a source names a directory rather than a hub id such as 'iic/SenseVoiceSmall'."""
    return source.startswith(("/", ".", "~")) or os.sep + os.sep in source or source.count("/") > 1


def hub_id(source: str) -> str:
    """The ModelScope id for a source, resolving FunASR's short names."""
    return _FUNASR_ALIASES.get(source, source)


def find_cached(source: str) -> Path | None:
    """The local directory of a hub model already in the ModelScope cache, without network."""
    from modelscope import snapshot_download

    try:
        return Path(snapshot_download(hub_id(source), local_files_only=True))
    except Exception:  # modelscope raises several types for "not cached"
        return None


def download(source: str) -> Path:
    """Fetch a hub model into the ModelScope cache (honours MODELSCOPE_CACHE) and return its dir."""
    from modelscope import snapshot_download

    return Path(snapshot_download(hub_id(source)))


def resolve_source(spec: ModelSpec, source: str, allow_download: bool = True) -> Path:
    """The local directory for a role: a given directory, a cached hub model, or a fresh download."""
    expanded = Path(os.path.expanduser(source))
    if expanded.is_dir():
        return expanded
    if looks_like_path(source) or expanded.exists():
        raise ModelLoadError(
            spec,
            source,
            "no such directory",
            f"Set {spec.env_var} to a model directory (with configuration.json) or a ModelScope id.",
        )
    cached = find_cached(source)
    if cached is not None:
        return cached
    if not allow_download:
        raise ModelLoadError(spec, source, "not in the ModelScope cache", _download_hint(spec))
    try:
        return download(source)
    except Exception as exc:
        raise ModelLoadError(
            spec, source, f"download failed ({_first_line(exc)})", _download_hint(spec)
        ) from exc


def _download_hint(spec: ModelSpec) -> str:
    return (
        "Run `python download_models.py` on a machine that reaches ModelScope (set MODELSCOPE_CACHE to "
        f"share the cache), or set {spec.env_var} to a local model directory."
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def check_weights(spec: ModelSpec, source: str, model: Any, checkpoint: Path) -> None:
    """Fail unless the checkpoint holds every weight of the model with the right shape.

    FunASR logs and carries on when keys are missing or mis-shaped, which would serve random output.
    """
    if not checkpoint.is_file():
        raise ModelLoadError(spec, source, f"weights file {checkpoint.name} is missing", _weights_hint(spec))
    try:
        state = torch.load(checkpoint, map_location="cpu", mmap=True, weights_only=True)
    except Exception:
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    shapes = {k.removeprefix("module."): tuple(v.shape) for k, v in state.items() if hasattr(v, "shape")}
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    missing = [k for k in expected if k not in shapes]
    wrong = [k for k in expected if k in shapes and shapes[k] != expected[k]]
    if missing or wrong:
        detail = f"{len(missing)} weights missing, {len(wrong)} with the wrong shape"
        example = (missing or wrong)[0]
        raise ModelLoadError(
            spec,
            source,
            f"{checkpoint.name} does not fit the model ({detail}, e.g. {example})",
            _weights_hint(spec),
        )


def _weights_hint(spec: ModelSpec) -> str:
    return f"Re-download the model or point {spec.env_var} at a complete model directory."


def build_automodel(path: Path, device: str, threads: int) -> Any:
    """A FunASR AutoModel from a local directory, quiet and repeatable."""
    # FunASR prints banners to stdout; keep the start-up output to our own lines.
    with contextlib.redirect_stdout(io.StringIO()):
        return AutoModel(
            model=str(path),
            device=device,
            ncpu=threads,
            disable_update=True,
            disable_pbar=True,
            disable_log=True,
            log_level="ERROR",
            frontend_conf={"dither": 0.0},  # released configs dither: same audio, other text
        )


def load_one(spec: ModelSpec, settings: Settings, device: str) -> LoadedModel:
    """Resolve, build and verify one role's model."""
    source = spec.source(settings)
    started = time.perf_counter()
    path = resolve_source(spec, source)
    if not (path / "configuration.json").is_file() and not (path / "config.yaml").is_file():
        raise ModelLoadError(
            spec,
            source,
            f"{path} has neither configuration.json nor config.yaml",
            f"Point {spec.env_var} at a FunASR model directory.",
        )
    try:
        model = build_automodel(path, device, settings.threads)
    except Exception as exc:
        raise ModelLoadError(
            spec, source, f"FunASR could not build it ({_first_line(exc)})", _weights_hint(spec)
        ) from exc
    init = model.kwargs.get("init_param")
    check_weights(spec, source, model.model, Path(str(init)) if init else expected_checkpoint(path))
    return LoadedModel(spec, source, path, model, time.perf_counter() - started)


def expected_checkpoint(path: Path) -> Path:
    """The weights file a model directory should hold: file_path_metas.init_param, else model.pt.

    FunASR leaves init_param unset when the named file is missing; CAM++, for one, names its own.
    """
    try:
        metas = json.loads((path / "configuration.json").read_text(encoding="utf-8"))["file_path_metas"]
        return path / str(metas["init_param"])
    except (OSError, ValueError, KeyError, TypeError):
        return path / "model.pt"


def load_models(
    settings: Settings, roles: Sequence[str] | None = None, report: Callable[[str], None] = log.info
) -> ModelSet:
    """Load (and warm up) the requested roles, all configured ones by default; raises ModelLoadError."""
    device = select_device(settings)
    torch.set_num_threads(settings.threads)
    models = ModelSet(device=device, threads=settings.threads)
    for spec in configured_specs(settings):
        if roles is not None and spec.role not in roles:
            continue
        loaded = load_one(spec, settings, device)
        models.loaded[spec.role] = loaded
        report(
            f"loaded {spec.title} from {loaded.path} (source {loaded.source}) on {device} "
            f"in {loaded.load_s:.1f} s"
        )
    # AutoModel resets torch's thread count per model; put back what the settings ask for.
    torch.set_num_threads(settings.threads)
    if settings.warmup:
        started = time.perf_counter()
        warm_up(models)
        report(f"warm-up done in {time.perf_counter() - started:.1f} s")
    released = release_freed_memory()
    if released:
        report(f"returned freed load-time memory to the system ({released})")
    return models


def release_freed_memory() -> str:
    """Ask glibc to give freed heap pages back to the OS; '' where that is not possible.

    Loading a checkpoint copies every tensor once; glibc keeps those freed copies mapped, so
    without this the resident size after loading is about twice the models'.
    """
    name = ctypes.util.find_library("c")
    if not name:
        return ""
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS)
        return ""
    before = _rss_kb()
    trim(ctypes.c_size_t(0))
    after = _rss_kb()
    return f"RSS {before // 1024} -> {after // 1024} MB" if before and after else "malloc_trim"


def _rss_kb() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def warm_up(models: ModelSet) -> None:
    """Run each model once so the first request does not pay for lazy initialisation."""
    noise = (np.random.default_rng(0).standard_normal(SAMPLE_RATE) * 0.01).astype(np.float32)
    if "vad" in models.loaded:
        FunasrVad(models.loaded["vad"].model).detect(noise)
    if "offline" in models.loaded:
        SenseVoiceRecognizer(models.loaded["offline"].model).recognize([noise], RecognitionOptions())
    if "streaming" in models.loaded:
        models.loaded["streaming"].model.generate(
            input=noise[: ms_to_samples(600)],  # one 600 ms chunk
            cache={},
            is_final=True,
            chunk_size=[0, 10, 5],
            encoder_chunk_look_back=4,
            decoder_chunk_look_back=1,
        )
    if "punc" in models.loaded:
        models.loaded["punc"].model.generate(input="今天 天气 很 好", cache={})
    if "speaker" in models.loaded:
        CamppEmbedder(models.loaded["speaker"].model).embed([noise])
