"""Entry point: `python asr_api_server.py` runs the dev server; gunicorn calls `app_from_env()` here
(gunicorn.conf.py). Importing this module starts nothing."""

from __future__ import annotations

from asr_service.serve import app_from_env, run_dev_server

__all__ = ["app_from_env"]

if __name__ == "__main__":
    run_dev_server()
