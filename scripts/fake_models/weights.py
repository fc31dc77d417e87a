"""The checkpoint (model.pt unless the model names another): instantiate through funasr.AutoModel,
initialise at random, save, and verify the reload."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from funasr import AutoModel

CHECKPOINT = "model.pt"

# Adjusts a freshly initialised model in place (under torch.no_grad) before it is saved.
PostInit = Callable[["AutoModel"], None]


def _auto_model_class() -> type[AutoModel]:
    """funasr.AutoModel, imported on first use: `import funasr` takes ~8 s, too slow for `--help`."""
    from funasr import AutoModel

    return AutoModel


def materialize_weights(model_dir: Path, seed: int, post_init: PostInit | None = None,
                        checkpoint_name: str = CHECKPOINT) -> int:
    """Write model_dir/<checkpoint_name> with torch default init under `seed`; returns the parameter count.

    AutoModel is pointed at the directory before the checkpoint exists, so it loads no checkpoint and the
    module tree, parameter names and shapes are by construction what AutoModel expects later."""
    auto_model = _auto_model_class()
    checkpoint = model_dir / checkpoint_name
    if checkpoint.exists():
        raise FileExistsError(f"{checkpoint} already exists; refusing to initialise over it")
    # AutoModel prints "funasr version: ..." to stdout on every construction; keep our output readable
    with contextlib.redirect_stdout(io.StringIO()):
        am = auto_model(model=str(model_dir), device="cpu", disable_update=True, disable_pbar=True,
                       disable_log=True, seed=seed, ncpu=torch.get_num_threads(), log_level="ERROR")
    if am.kwargs.get("init_param") is not None:
        raise RuntimeError(f"AutoModel loaded a checkpoint ({am.kwargs['init_param']}) while initialising")
    if post_init is not None:
        with torch.no_grad():
            post_init(am)
    # a plain state_dict: FunASR's load_pretrained_model accepts it as-is
    state = {k: v.detach().clone().contiguous() for k, v in am.model.state_dict().items()}
    torch.save(state, checkpoint)
    return sum(v.numel() for v in state.values())


def check_roundtrip(model_dir: Path, checkpoint_name: str = CHECKPOINT) -> int:
    """Reload model_dir the way the service does and verify every tensor came from the checkpoint.

    FunASR's loader skips missing or mis-shaped keys with only a log line, so a broken directory would
    otherwise "load" with random weights.  Returns the number of tensors checked."""
    # build_model (not AutoModel()) skips the version banner; ncpu keeps the caller's thread setting
    model, kwargs = _auto_model_class().build_model(model=str(model_dir), device="cpu", disable_update=True,
                                          disable_log=True, ncpu=torch.get_num_threads())
    loaded_from = str(kwargs.get("init_param") or "")
    if not loaded_from.endswith(checkpoint_name):
        raise RuntimeError(
            f"{model_dir}: AutoModel did not load {checkpoint_name} (init_param={loaded_from!r})")
    saved: dict[str, torch.Tensor] = torch.load(model_dir / checkpoint_name, map_location="cpu")
    loaded: dict[str, torch.Tensor] = model.state_dict()
    problems = {
        "missing": [k for k in loaded if k not in saved],
        "unexpected": [k for k in saved if k not in loaded],
        "shape": [k for k in loaded if k in saved and saved[k].shape != loaded[k].shape],
        "value": [k for k in loaded if k in saved and saved[k].shape == loaded[k].shape
                  and not torch.equal(saved[k], loaded[k])],
    }
    bad = {kind: keys[:5] for kind, keys in problems.items() if keys}
    if bad:
        raise RuntimeError(f"{model_dir}: reloaded weights differ from {checkpoint_name}: {bad}")
    return len(loaded)
