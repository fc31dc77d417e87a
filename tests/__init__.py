"""Test suite of the 星纪 ASR service."""
