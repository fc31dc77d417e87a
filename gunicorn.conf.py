"""gunicorn settings for production: `gunicorn -c gunicorn.conf.py` (README "Production").

One gthread worker per process (per GPU): every model is loaded once and shared by all sessions,
and each open WebSocket holds one thread, so ASR_HTTP_THREADS bounds connections plus uploads.
Everything comes from the same environment variables as the dev server.
"""

from __future__ import annotations

from typing import Any

from asr_service.config import Settings

_settings = Settings.from_env()

# an app factory: the worker builds the app (importing asr_api_server starts nothing)
wsgi_app = "asr_api_server:app_from_env()"
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
    """In the worker: start the janitor, load the models in the background, make SIGTERM graceful."""
    from asr_service.app import lifecycle_of

    lifecycle = lifecycle_of(worker.wsgi)
    # exit code 3 is gunicorn's "worker failed to boot": the arbiter stops instead of respawning it
    lifecycle.start(exit_code=3)
    lifecycle.drain_on_sigterm(worker.handle_exit)


def worker_exit(_server: Any, worker: Any) -> None:
    """However the worker ends, recordings are handed off first (a no-op after SIGTERM did it)."""
    from asr_service.app import lifecycle_of

    app = getattr(worker, "wsgi", None)  # None: the app never loaded, or the arbiter reaps a lost worker
    if app is not None:
        lifecycle_of(app).hand_off()
