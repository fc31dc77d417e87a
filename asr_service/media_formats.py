"""Which containers an upload may be, and the FFmpeg options that keep the decoder inside it."""

from __future__ import annotations

SUPPORTED_FORMATS: dict[str, str] = {
    "wav": "WAV (PCM, float, A-law/μ-law)",
    "mp3": "MPEG-1/2 Layer III",
    "ogg": "Ogg (Vorbis or Opus)",
    "flac": "FLAC",
    "m4a": "MPEG-4 audio (AAC, ALAC, Opus)",
    "aac": "ADTS AAC",
    "wma": "Windows Media Audio (ASF)",
    "webm": "WebM / Matroska (Opus or Vorbis)",
}

# FFmpeg demuxer names for the formats above. Everything else is refused, in particular the
# demuxers that read other files or open sockets (concat, hls, sdp, rtp, image2, tee, ...).
ALLOWED_DEMUXERS = ("wav", "mp3", "ogg", "flac", "mov", "aac", "asf", "matroska")

# No protocol at all: the upload arrives through a Python file object (which needs none), so a
# demuxer that tries to open a nested URL or path (file:, udp:, http:, ...) gets an error instead.
_NO_PROTOCOL = "none"


def open_options() -> dict[str, str]:
    """avformat_open_input options: only the allowed demuxers, no protocols, no external references."""
    return {
        "format_whitelist": ",".join(ALLOWED_DEMUXERS),
        "protocol_whitelist": _NO_PROTOCOL,
        "enable_drefs": "0",  # mov: never follow data references to other files
    }
