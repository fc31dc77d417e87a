"""Worker RSS under two memory attacks of issue 13, against gunicorn with the shipped gunicorn.conf.py
on the test models:

    python -m bench.hostile_memory attachments [--count 100000] [--root DIR]
    python -m bench.hostile_memory uploads --audio FILE [--clients 3] [--max-uploads 3] [--root DIR]

`attachments`: a connected socket sends one binary event declaring `--count` attachments, then
that many 1 KiB binary messages (until the server closes the socket). `uploads`: `--clients`
concurrent POSTs of the same file to /api/asr/transcribe (ASR_MAX_UPLOADS=`--max-uploads`) while
the worker's RSS is sampled every 0.2 s. `--root` runs another checkout's service (before/after).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
import websocket

from bench.socket_cycles import ROOT, _session, _start, _worker_rss_mb


def _settled_rss(arbiter: int) -> float:
    time.sleep(2)
    return round(_worker_rss_mb(arbiter), 1)


def attachments(arbiter: int, url: str, count: int) -> dict[str, Any]:
    """RSS before and after a packet declaring `count` attachments and as many 1 KiB attachments."""
    ws = _session(url)
    before = _settled_rss(arbiter)
    ws.send(f'45{count}-["audio_data",{{"_placeholder":true,"num":0}}]')
    sent, closed_after = 0, None
    attachment = b"\x00" * 1024
    try:
        while sent < count:
            ws.send_binary(attachment)
            sent += 1
    except (OSError, websocket.WebSocketException):
        closed_after = sent  # the server closed the socket
    peak = _settled_rss(arbiter)
    errors = _error_codes(ws)
    ws.close()
    return {
        "declared": count,
        "attachments_sent": sent,
        "closed_after": closed_after,
        "error_codes": errors,
        "rss_before_mb": before,
        "rss_after_mb": peak,
        "rss_growth_mb": round(peak - before, 1),
    }


def _error_codes(ws: websocket.WebSocket) -> list[str]:
    """The codes of the `error` events the server sent (read until the socket closes or is quiet)."""
    codes: list[str] = []
    ws.settimeout(2)
    try:
        while len(codes) < 100:
            message = ws.recv()
            if isinstance(message, str) and message.startswith('42["error"'):
                codes.append(json.loads(message[2:])[1]["code"])
            elif message in ("", "1"):
                break
    except (OSError, websocket.WebSocketException):
        pass
    return codes


def uploads(arbiter: int, url: str, audio: Path, clients: int) -> dict[str, Any]:
    """Peak worker RSS while `clients` uploads of `audio` run at once, and each one's answer."""
    before = _settled_rss(arbiter)
    samples: list[float] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            samples.append(_worker_rss_mb(arbiter))

    def post(_index: int) -> dict[str, Any]:
        started = time.monotonic()
        with audio.open("rb") as file:
            answer = requests.post(
                f"{url}/api/asr/transcribe", files={"file": (audio.name, file)}, timeout=3600
            )
        body = answer.json()
        data = body.get("data") or {}
        return {
            "status": answer.status_code,
            "code": body.get("code"),
            "duration_ms": data.get("duration_ms"),
            "sentences": len(data.get("timestamps") or []),
            "wall_s": round(time.monotonic() - started, 1),
        }

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    with ThreadPoolExecutor(clients) as pool:
        answers = list(pool.map(post, range(clients)))
    done.set()
    sampler.join()
    after = _settled_rss(arbiter)
    peak = round(max(samples, default=before), 1)
    return {
        "audio": audio.name,
        "audio_mb": round(audio.stat().st_size / 1e6, 1),
        "clients": clients,
        "max_uploads": int(os.environ["ASR_MAX_UPLOADS"]),
        "answers": answers,
        "rss_before_mb": before,
        "rss_peak_mb": peak,
        "rss_peak_growth_mb": round(peak - before, 1),
        "rss_after_mb": after,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("attack", choices=["attachments", "uploads"])
    parser.add_argument("--root", type=Path, default=ROOT)
    parser.add_argument("--count", type=int, default=100_000, help="attachments declared")
    parser.add_argument("--audio", type=Path, help="the file each upload sends")
    parser.add_argument("--clients", type=int, default=3, help="concurrent uploads")
    parser.add_argument("--max-uploads", type=int, default=3, help="ASR_MAX_UPLOADS of the service")
    args = parser.parse_args()
    if args.attack == "uploads" and args.audio is None:
        parser.error("uploads needs --audio")
    os.environ["ASR_MAX_UPLOADS"] = str(args.max_uploads)  # _start passes this process's environment
    with tempfile.TemporaryDirectory() as tmp:
        process, url = _start(args.root, Path(tmp))
        try:
            if args.attack == "attachments":
                result = attachments(process.pid, url, args.count)
            else:
                result = uploads(process.pid, url, args.audio, args.clients)
            print(json.dumps({"attack": args.attack, "root": str(args.root), **result}))
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()


if __name__ == "__main__":
    main()
