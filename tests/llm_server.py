"""A chat-completions server on loopback playing the LLM: tests script its answers and read its requests."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    """What the server sends: a chat answer `content`, or a raw `body`, with `status`; `hang` waits first."""

    content: str | None = None
    status: int = 200
    body: bytes | None = None
    hang: bool = False


@dataclass(frozen=True)
class Received:
    """One request as the server saw it."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def prompt(self) -> dict[str, Any]:
        """The user message's JSON (hotwords, first_pass, sentences)."""
        parsed: dict[str, Any] = json.loads(self.body["messages"][-1]["content"])
        return parsed

    @property
    def sentences(self) -> list[dict[str, Any]]:
        """The sentences sent for correction."""
        found: list[dict[str, Any]] = self.prompt["sentences"]
        return found


Script = Callable[[Received], Reply]


def answer(sentences: list[dict[str, Any]]) -> Reply:
    """A well-formed chat answer carrying `sentences` as the JSON array."""
    return Reply(json.dumps(sentences, ensure_ascii=False))


def rewrite(fn: Callable[[str], str]) -> Script:
    """A script answering every sentence with fn(text), times unchanged."""
    return lambda req: answer([{**s, "text": fn(s["text"])} for s in req.sentences])


class FakeLlm:
    """The server; `script` decides each answer, `requests` keeps what arrived, in order."""

    def __init__(self, script: Script | None = None) -> None:
        self.script: Script = script or rewrite(lambda text: text)
        self.requests: list[Received] = []
        self.arrived = threading.Condition()
        self.release = threading.Event()  # lets hanging replies finish (set on close)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-llm", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """Base URL as LLM_API_URL takes it."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def wait_for_requests(self, count: int, timeout: float = 30.0) -> list[Received]:
        """The first `count` requests, waiting for them to arrive."""
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.requests) >= count, timeout):
                raise AssertionError(f"only {len(self.requests)} of {count} LLM requests arrived")
            return list(self.requests[:count])

    def close(self) -> None:
        """Release hanging replies and stop serving."""
        self.release.set()
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                received = Received(
                    self.path, dict(self.headers.items()), json.loads(self.rfile.read(length))
                )
                with fake.arrived:
                    fake.requests.append(received)
                    fake.arrived.notify_all()
                reply = fake.script(received)
                if reply.hang:
                    fake.release.wait(60)
                body = reply.body
                if body is None:
                    chat = {
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.content}}]
                    }
                    body = json.dumps(chat, ensure_ascii=False).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up (timeout); nothing to tell it

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
