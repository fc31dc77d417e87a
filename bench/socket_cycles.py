"""Worker RSS over Socket.IO connect/close cycles, and the cost of `connect` sent as an event,
against gunicorn with the shipped gunicorn.conf.py on the test models.

    python -m bench.socket_cycles [--cycles 5000] [--root DIR]

`--root` runs another checkout's service (to compare before and after a change).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
import websocket

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _worker_rss_mb(arbiter: int) -> float:
    child = Path(f"/proc/{arbiter}/task/{arbiter}/children").read_text().split()[0]
    for line in Path(f"/proc/{child}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _start(root: Path, work: Path) -> tuple[subprocess.Popen[bytes], str]:
    sys.path.insert(0, str(ROOT / "scripts"))
    import test_model_dirs

    port = _free_port()
    env = {
        **os.environ,
        **test_model_dirs.model_env(test_model_dirs.ensure_test_models("tiny")),
        "ASR_HOST": "127.0.0.1",
        "ASR_PORT": str(port),
        "ASR_DATA_DIR": str(work / "data"),
        "PYTHONPATH": str(root),
    }
    log = (work / "gunicorn.log").open("wb")
    cmd = [sys.executable, "-m", "gunicorn", "-c", str(root / "gunicorn.conf.py")]
    process = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/readyz", timeout=5).status_code == 200:
                return process, url
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError("the server never became ready")


def _session(url: str) -> websocket.WebSocket:
    ws = websocket.create_connection(
        url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket", timeout=20
    )
    ws.recv()
    ws.send("40{}")
    while True:
        message = ws.recv()
        if isinstance(message, str) and message.startswith('42["connected"'):
            return ws


def _cycles(url: str, count: int) -> None:
    for _ in range(count):
        _session(url).close()


def _connect_events(url: str, count: int) -> None:
    """`connect` sent as an event `count` times on one connection (reconnecting if closed)."""
    ws = _session(url)
    for _ in range(count):
        try:
            ws.send('42["connect",{}]')
        except (OSError, websocket.WebSocketException):
            ws = _session(url)
    ws.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cycles", type=int, default=5000)
    parser.add_argument("--root", type=Path, default=ROOT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        process, url = _start(args.root, Path(tmp))
        try:
            _cycles(url, 500)  # warm-up: allocator pools, caches
            time.sleep(2)
            before = _worker_rss_mb(process.pid)
            started = time.monotonic()
            checkpoints = []
            for _ in range(5):  # RSS after each fifth: growth that levels off is the allocator's pools
                _cycles(url, args.cycles // 5)
                checkpoints.append(round(_worker_rss_mb(process.pid), 1))
            elapsed = time.monotonic() - started
            time.sleep(2)
            after = _worker_rss_mb(process.pid)
            _connect_events(url, args.cycles)
            time.sleep(2)
            events = _worker_rss_mb(process.pid)
            result = {
                "cycles": args.cycles,
                "cycles_per_s": round(args.cycles / elapsed, 1),
                "rss_before_mb": round(before, 1),
                "rss_checkpoints_mb": checkpoints,
                "rss_after_cycles_mb": round(after, 1),
                "rss_after_connect_events_mb": round(events, 1),
            }
            print(json.dumps(result))
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()


if __name__ == "__main__":
    main()
