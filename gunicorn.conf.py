"""gunicorn settings for production: `gunicorn -c gunicorn.conf.py` (README "Production").

One gthread worker per process (per GPU): every model is loaded once and shared by all sessions,
and each open WebSocket holds one thread, so ASR_HTTP_THREADS bounds connections plus uploads.
Everything comes from the same environment variables as the dev server.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from asr_service.config import Settings

_settings = Settings.from_env()

wsgi_app = "asr_api_server:app"
bind = [f"{_settings.host}:{_settings.port}"]
workers = 1  # more workers would load every model again and split the sessions' shared state
worker_class = "gthread"
threads = _settings.http_threads
# Models load in the worker after it has started (post_worker_init), never in the arbiter: CUDA
# state must not cross a fork, and /readyz answers 503 meanwhile.
preload_app = False
# SIGTERM: final passes get ASR_SHUTDOWN_GRACE_S, then sockets are closed; a margin on top.
graceful_timeout = int(_settings.shutdown_grace_s) + 15
timeout = 120  # the gthread main loop notifies the arbiter; long requests do not count against this
keepalive = 5
# Several processes on one host (the scale-out test, or replicas without containers) would fight
# over the default control socket path; the service does not use it.
control_socket_disable = True
accesslog = None  # the service logs one line per request itself, with its request id
errorlog = "-"
loglevel = "warning"


def post_worker_init(worker: Any) -> None:
    """In the worker: load the models in the background, and make SIGTERM a graceful hand-off."""
    import asr_api_server

    # exit code 3 is gunicorn's "worker failed to boot": the arbiter stops instead of respawning it
    asr_api_server.start_loading(exit_code=3)
    stop_accepting = worker.handle_exit

    def on_sigterm(signum: int, frame: Any) -> None:
        drain = threading.Thread(target=asr_api_server.graceful_shutdown, name="drain", daemon=True)
        drain.start()
        stop_accepting(signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.siginterrupt(signal.SIGTERM, False)


def worker_exit(_server: Any, _worker: Any) -> None:
    """However the worker ends, recordings are handed off first (a no-op after SIGTERM did it)."""
    import asr_api_server

    asr_api_server.service.shutdown(asr_api_server.settings.shutdown_grace_s)
