"""The model roles the service loads: one list shared by the service and download_models.py."""

from __future__ import annotations

from dataclasses import dataclass

from .config import Settings


@dataclass(frozen=True)
class ModelSpec:
    """One model role: which setting names its source and what it is for."""

    role: str
    env_var: str
    setting: str
    title: str

    def source(self, settings: Settings) -> str:
        """The ModelScope id or local directory configured for this role."""
        return str(getattr(settings, self.setting))

    def configured(self, settings: Settings) -> bool:
        """Whether the role is on: an empty source (only ASR_SPEAKER_MODEL allows one) turns it off."""
        return bool(self.source(settings).strip())


MODEL_SPECS: tuple[ModelSpec, ...] = (
    ModelSpec("vad", "ASR_VAD_MODEL", "vad_model", "voice activity detection (FSMN-VAD)"),
    ModelSpec("offline", "ASR_OFFLINE_MODEL", "offline_model", "offline ASR (SenseVoice)"),
    ModelSpec("streaming", "ASR_STREAMING_MODEL", "streaming_model", "streaming ASR (Paraformer)"),
    ModelSpec("punc", "ASR_PUNC_MODEL", "punc_model", "realtime punctuation (CT-Transformer)"),
    ModelSpec("speaker", "ASR_SPEAKER_MODEL", "speaker_model", "speaker embedding (CAM++)"),
)


def configured_specs(settings: Settings) -> tuple[ModelSpec, ...]:
    """The roles these settings turn on, in load order."""
    return tuple(spec for spec in MODEL_SPECS if spec.configured(settings))


def spec_for(role: str) -> ModelSpec:
    """The spec of `role`; KeyError names the known roles."""
    for spec in MODEL_SPECS:
        if spec.role == role:
            return spec
    raise KeyError(f"unknown model role {role!r}; known: {', '.join(s.role for s in MODEL_SPECS)}")
