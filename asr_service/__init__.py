"""星纪 ASR service: streaming and file speech recognition around FunASR models."""

__version__ = "0.1.0"
