"""Benchmarks of the 星纪 ASR service (results in docs/benchmarks.md)."""
