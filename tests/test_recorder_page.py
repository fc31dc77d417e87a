"""The recorder page in real headless Chromium against a live server: record, resume, download, upload."""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import threading
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
import soundfile as sf
from playwright.sync_api import Browser, ConsoleMessage, Error, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from asr_service.page import STATIC_DIR
from asr_service.pipeline import Sentence
from asr_service.subtitles import to_srt, to_txt, to_vtt

from .conftest import ROOT, LiveServer, free_port, start_server, stop_server
from .speech_fixtures import ffmpeg

ARTIFACTS = ROOT / "test-artifacts"
TIMEOUT_MS = 120_000
# a cue's text is one line or more (the server's cues have at most 2)
SRT_CUE = re.compile(r"(\d+)\n(\d\d):(\d\d):(\d\d),(\d\d\d) --> (\d\d):(\d\d):(\d\d),(\d\d\d)\n(.+(?:\n.+)*)")


def _chromium_path() -> str:
    """The Debian chromium binary (CHROMIUM_PATH overrides); fail, never skip, when it is missing."""
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("chromium could not start: no chromium binary; install it with scripts/system_deps.sh")
    return path


class _StaticFiles(http.server.SimpleHTTPRequestHandler):
    """The page's files from another origin, laid out as the service serves them (index + static/)."""

    def translate_path(self, path: str) -> str:
        return super().translate_path(path.replace("/static/", "/", 1))

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def other_origin() -> Iterator[str]:
    """A plain static web server on another port, serving the page's files: a different origin."""
    handler = functools.partial(_StaticFiles, directory=str(STATIC_DIR))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def server(
    model_env: dict[str, str], other_origin: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A service that lets the other origin in (its own page must keep working too)."""
    live = start_server({**model_env, "ASR_CORS_ORIGINS": other_origin}, tmp_path_factory.mktemp("recorder"))
    yield live
    stop_server(live)


@dataclass(frozen=True)
class FakeMicrophone:
    """What Chromium's fake microphone plays in a loop, and the same audio at 16 kHz mono."""

    played: Path
    reference: Path


@pytest.fixture(scope="module")
def fake_microphone(speech_wav: Path, tmp_path_factory: pytest.TempPathFactory) -> FakeMicrophone:
    """The first sentence of the speech with a long pause after it (so each loop is its own VAD
    segment), played as 44.1 kHz stereo: the page must down-mix and resample whatever it gets."""
    folder = tmp_path_factory.mktemp("mic")
    reference = folder / "sentence_16k.wav"
    ffmpeg("-i", str(speech_wav), "-af", "atrim=end=7.3,apad=pad_dur=2.5", str(reference))
    played = folder / "sentence_44k_stereo.wav"
    ffmpeg("-i", str(reference), "-ar", "44100", "-ac", "2", "-c:a", "pcm_s16le", str(played))
    return FakeMicrophone(played, reference)


@pytest.fixture(scope="module")
def browser(fake_microphone: FakeMicrophone) -> Iterator[Browser]:
    """Headless Chromium whose microphone plays the speech file in a loop, permission granted."""
    executable = _chromium_path()
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(
                executable_path=executable,
                headless=True,
                args=[
                    "--use-fake-device-for-media-stream",
                    "--use-fake-ui-for-media-stream",
                    f"--use-file-for-fake-audio-capture={fake_microphone.played}",
                    "--autoplay-policy=no-user-gesture-required",
                ],
            )
        except Exception as exc:
            pytest.fail(
                f"chromium could not start: {exc}\n"
                f"install chromium and chromium-driver with scripts/system_deps.sh ({executable})"
            )
        yield chromium
        chromium.close()


class _Page:
    """A page plus every console error and uncaught exception it produced."""

    def __init__(self, browser: Browser) -> None:
        self.context = browser.new_context(accept_downloads=True)
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.errors: list[str] = []
        self.page.on("console", self._on_console)
        self.page.on("pageerror", self._on_page_error)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    def _on_page_error(self, error: Error) -> None:
        self.errors.append(f"page error: {error}")

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self.page.evaluate("window.__recorder.stats()")
        return stats

    def wait(self, condition: str) -> None:
        """Wait until the JavaScript expression (with `s` = the recorder's stats) is true."""
        script = f"(() => {{ const s = window.__recorder.stats(); return {condition}; }})()"
        self.wait_for_script(script, condition)

    def wait_for_script(self, script: str, what: str) -> None:
        """Wait for a JavaScript expression; on timeout, fail with what the page was showing."""
        try:
            self.page.wait_for_function(script)
        except PlaywrightTimeout:
            banner = self.page.text_content("#error") if self.page.is_visible("#error") else None
            stats = self.page.evaluate("window.__recorder && window.__recorder.stats()")
            raise AssertionError(
                f"timed out waiting for {what}\nerror shown: {banner}\nstats: {stats}\nconsole: {self.errors}"
            ) from None

    def download(self, button: str) -> Path:
        with self.page.expect_download() as info:
            self.page.click(button)
        path = info.value.path()
        assert path is not None
        return Path(path)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[_Page]:
    opened = _Page(browser)
    yield opened
    opened.close()


def _ms(h: str, m: str, s: str, ms: str) -> int:
    return ((int(h) * 60 + int(m)) * 60 + int(s)) * 1000 + int(ms)


def parse_srt(text: str) -> list[dict[str, Any]]:
    """SubRip cues as {index, start_ms, end_ms, text}; every block must be a well-formed cue."""
    cues = []
    for block in text.strip().split("\n\n"):
        match = SRT_CUE.fullmatch(block)
        assert match, f"not an SRT cue: {block!r}"
        g = match.groups()
        cues.append({"index": int(g[0]), "start_ms": _ms(*g[1:5]), "end_ms": _ms(*g[5:9]), "text": g[9]})
    return cues


def record(page: _Page, drop_midway: bool, min_seconds: float = 0) -> dict[str, Any]:
    """Record from the fake microphone until live text shows and `min_seconds` of audio are produced
    (dropping the connection once on the way, if asked); returns the page's stats after the result."""
    page.page.click("#start")
    live_text = "document.getElementById('live-text').textContent.trim().length > 0"
    page.wait_for_script(live_text, "live text")
    if drop_midway:
        page.wait("s.phase === 'recording'")
        page.page.evaluate("window.__recorder.dropConnection()")
        page.wait("s.resumes.length === 1")
        # some speech after the resume, so the recording goes on well past it
        page.wait("s.producedBytes > s.resumes[0].producedBytes + 3 * 32000")
    page.wait(f"s.speechSeen && s.producedBytes >= {min_seconds * 32000}")
    if min_seconds:  # long enough for a segment to close: its sentence shows before the stop
        page.wait("s.liveSentences.length > 0")
        shown = page.page.locator("#live-sentences .sentence").count()
        assert shown == len(page.stats()["liveSentences"]) > 0
    page.page.click("#stop")
    page.wait_for_script("!document.getElementById('result').hidden", "the final result")
    return page.stats()


def similarity_to_loop(recorded: np.ndarray, source: Path) -> float:
    """The best normalised correlation of `recorded` with any stretch of `source` played in a loop."""
    samples, rate = sf.read(source, dtype="float64")
    assert rate == 16000
    loop = np.tile(samples, int(np.ceil(len(recorded) / len(samples))) + 1)
    size = 1 << int(np.ceil(np.log2(len(loop) + len(recorded))))
    # correlation at every lag through the FFT, then each lag's window energy for the normalisation
    products = np.fft.irfft(np.fft.rfft(loop, size) * np.conj(np.fft.rfft(recorded, size)), size)
    lags = len(loop) - len(recorded)
    cumulative = np.concatenate([[0.0], np.cumsum(loop**2)])
    energy = cumulative[len(recorded) : len(recorded) + lags + 1] - cumulative[: lags + 1]
    scores = products[: lags + 1] / np.sqrt(energy * np.sum(recorded**2) + 1e-12)
    return float(scores.max())


def voiced_window_similarities(recorded: np.ndarray, source: Path) -> list[float]:
    """similarity_to_loop of every voiced second of `recorded`, each matched on its own, so a late
    timer in Chromium's fake capture (a few ms of silence inserted) spoils one window at most."""
    windows = [recorded[i : i + 16000] for i in range(0, len(recorded) - 15999, 16000)]
    loudest = max(float(np.sqrt(np.mean(w**2))) for w in windows)
    voiced = [w for w in windows if np.sqrt(np.mean(w**2)) > 0.1 * loudest]
    return [similarity_to_loop(w, source) for w in voiced]


def test_live_recording_resume_and_downloads(
    page: _Page, server: LiveServer, fake_microphone: FakeMicrophone
) -> None:
    page.page.goto(f"{server.url}/")
    stats = record(page, drop_midway=True, min_seconds=14)
    result = stats["lastResult"]

    # The page resampled whatever rate the browser runs at; the server got every byte it produced.
    assert stats["contextSampleRate"] and stats["producedBytes"] > 0
    assert stats["producedBytes"] % 2 == 0
    assert result["duration_ms"] == stats["producedBytes"] // 32, "audio was lost or duplicated"
    [resume] = stats["resumes"]
    assert resume["state"] == "recording"
    # dropConnection() lost 5 frames of 100 ms on the way: resent after the resume, with the outage's audio.
    assert resume["sentBytes"] - resume["receivedBytes"] == 5 * 3200
    assert stats["resentBytes"] == 5 * 3200
    assert resume["producedBytes"] > resume["sentBytes"], "no audio was buffered during the outage"
    assert stats["phase"] == "done"

    # After the stop: progress up to 1.0, then the final result with its sentences on screen.
    assert stats["progress"][-1] == {"progress": 1.0, "stage": "done"}
    sentences = result["timestamps"]
    assert sentences, "the final result has no sentence timestamps"
    assert page.page.locator("#sentences li").count() == len(sentences)
    if result["sensevoice"]:
        assert page.page.locator("#result-text").text_content() == result["sensevoice"]

    # The live text: every sentence pushed (updates applied) is the final result's, then the partial.
    live = [
        {k: v for k, v in s.items() if k not in ("index", "revision", "reason")}
        for s in stats["liveSentences"]
    ]
    assert live == sentences and [s["index"] for s in stats["liveSentences"]] == list(range(len(sentences)))
    assert page.page.locator("#live-sentences .sentence").count() == len(sentences)

    # TXT, SRT and VTT are the server's, from the stored result, fetched with the recording's token.
    url = f"{server.url}/api/asr/sessions/{result['session_id']}/result"
    for format in ("txt", "srt", "vtt"):
        served = requests.get(
            url, params={"format": format}, headers={"X-Resume-Token": stats["resumeToken"]}, timeout=10
        )
        assert served.status_code == 200
        assert page.download(f"#download-{format}").read_bytes() == served.content, format
    srt = parse_srt(page.download("#download-srt").read_text(encoding="utf-8"))
    assert srt[0]["start_ms"] == sentences[0]["start_ms"] and srt[-1]["end_ms"] == sentences[-1]["end_ms"]
    with wave.open(str(page.download("#download-wav")), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 16000)
        assert wav.getnframes() * 2 == stats["producedBytes"]
        recorded = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float64)
    # The microphone played the sentence in a loop: every voiced second of the recording is a stretch
    # of it, so the worklet resampled 44.1 kHz to 16 kHz at the right rate (measured: 0.99 or more).
    scores = voiced_window_similarities(recorded, fake_microphone.reference)
    assert len(scores) >= 5 and float(np.median(scores)) > 0.95, scores

    # A click on a sentence plays its span of the recording and pauses at its end, not the file's.
    first = sentences[0]
    assert first["end_ms"] + 3000 < result["duration_ms"], (
        "the first sentence should end well before the stop"
    )
    page.page.click("#sentences li >> nth=0")
    page.page.wait_for_function(
        f"(() => {{ const p = document.getElementById('player');"
        f" return p.paused && p.currentTime >= {first['end_ms'] / 1000}; }})()"
    )
    assert page.page.evaluate("document.getElementById('player').ended") is False

    ARTIFACTS.mkdir(exist_ok=True)
    page.page.screenshot(path=str(ARTIFACTS / "recorder-final.png"), full_page=True)
    assert page.errors == []


def test_page_on_another_origin_records_and_uploads(
    page: _Page, server: LiveServer, other_origin: str, speech_wav: Path
) -> None:
    page.page.goto(f"{other_origin}/index.html?server={server.url}/")
    stats = record(page, drop_midway=False)
    assert stats["lastResult"]["duration_ms"] == stats["producedBytes"] // 32

    page.page.click("#tab-upload")
    page.page.set_input_files("#upload-file", str(speech_wav))
    page.page.click("#upload-start")
    page.wait("s.lastResult && s.lastResult.mode === 'offline'")
    shown = page.stats()
    files = {"file": (speech_wav.name, speech_wav.read_bytes())}
    direct = requests.post(f"{server.url}/api/asr/transcribe", files=files, timeout=120).json()["data"]
    assert shown["lastResult"] == direct
    assert shown["uploadProgress"] and shown["uploadProgress"][-1] == 1
    page.page.wait_for_selector("#result", state="visible")
    assert page.page.locator("#sentences li").count() == len(direct["timestamps"])
    assert page.page.locator("#download-wav").is_hidden()
    # An upload has no stored result, yet its TXT, SRT and VTT are the server's formatter's too.
    for format, made in served_formats(direct["timestamps"]).items():
        assert page.download(f"#download-{format}").read_bytes() == made, format
    srt = parse_srt(page.download("#download-srt").read_text(encoding="utf-8"))
    assert srt[0]["start_ms"] >= direct["timestamps"][0]["start_ms"]
    assert srt[-1]["end_ms"] <= direct["timestamps"][-1]["end_ms"]
    assert page.errors == []


def served_formats(timestamps: list[dict[str, Any]]) -> dict[str, bytes]:
    """The server's TXT, SRT and VTT of a result's sentences, from its formatter (asr_service.subtitles)."""
    sentences = [Sentence.from_wire(t) for t in timestamps]
    made = {"txt": to_txt(sentences), "srt": to_srt(sentences), "vtt": to_vtt(sentences)}
    return {format: text.encode("utf-8") for format, text in made.items()}


def test_page_and_assets_are_served_from_the_package(server: LiveServer) -> None:
    page = requests.get(f"{server.url}/", timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    # Relative URLs only: the page must work under a reverse proxy's path prefix.
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert urls and all(not u.startswith(("/", "http:", "https:")) for u in urls), urls
    for name in ("app.js", "recorder-worklet.js", "vendor/socket.io.min.js", "style.css"):
        asset = requests.get(f"{server.url}/static/{name}", timeout=10)
        assert asset.status_code == 200, name
    assert "javascript" in requests.get(f"{server.url}/static/app.js", timeout=10).headers["Content-Type"]
    absolute = re.compile(r"""["'`]/(api|socket\.io|static)\b""")
    for script in STATIC_DIR.glob("*.js"):
        assert not absolute.search(script.read_text(encoding="utf-8")), script


NGINX_CONF = """
{user}
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    client_max_body_size 10m;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    server {{
        listen 127.0.0.1:{port};
        location /asr/ {{
            proxy_pass http://127.0.0.1:{backend}/;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $http_host;
            proxy_read_timeout 300s;
        }}
    }}
}}
"""
API_KEY = "recorder-test-key"


@pytest.fixture(scope="module")
def proxied(model_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A service with ASR_API_KEY behind nginx under the path prefix /asr/; yields the page's URL."""
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if nginx is None:
        pytest.fail("nginx is needed for the reverse-proxy test: install it with scripts/system_deps.sh")
    work = tmp_path_factory.mktemp("proxied")
    backend = start_server({**model_env, "ASR_API_KEY": API_KEY}, work)
    port = free_port()
    user = "user root;" if os.geteuid() == 0 else ""  # workers stay root: they write the temp dirs here
    conf = work / "nginx.conf"
    conf.write_text(NGINX_CONF.format(user=user, tmp=work, port=port, backend=backend.url.rsplit(":", 1)[1]))
    proxy = subprocess.Popen([nginx, "-p", str(work), "-c", str(conf), "-e", str(work / "error.log")])
    url = f"http://127.0.0.1:{port}/asr/"
    try:
        _wait_until_served(f"{url}api/health", proxy, work / "error.log")
        yield url
    finally:
        proxy.terminate()
        proxy.wait(timeout=20)
        stop_server(backend)


def _wait_until_served(url: str, proxy: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(100):
        if proxy.poll() is not None:
            pytest.fail(f"nginx exited with {proxy.returncode}: {log.read_text(errors='replace')}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    pytest.fail(f"nginx never served {url}: {log.read_text(errors='replace')}")


def test_behind_a_reverse_proxy_under_a_prefix_with_an_api_key(
    page: _Page, proxied: str, speech_wav: Path
) -> None:
    assert requests.get(proxied, timeout=10).status_code == 200, "the page itself needs no key"
    assert requests.get(f"{proxied}api/asr/formats", timeout=10).status_code == 401
    page.page.goto(proxied)

    # Without the key: both tabs say so in plain words.
    page.page.click("#start")
    page.page.wait_for_selector("#error:has-text('API 密钥')")
    assert "Connection refused" in (page.page.text_content("#error") or "")
    page.page.wait_for_selector("#start:enabled")
    page.page.click("#tab-upload")
    page.page.set_input_files("#upload-file", str(speech_wav))
    page.page.click("#upload-start")
    page.page.wait_for_selector("#error:has-text('The API key is missing or wrong')")

    # With the key saved in the settings: a recording through the proxy, its WAV fetched with the key.
    page.page.click("#settings summary")
    page.page.fill("#api-key", API_KEY)
    page.page.click("#save-settings")
    assert page.page.evaluate("localStorage.length") == 1
    page.page.click("#tab-record")
    stats = record(page, drop_midway=False)
    assert stats["lastResult"]["duration_ms"] == stats["producedBytes"] // 32
    with wave.open(str(page.download("#download-wav")), "rb") as wav:
        assert wav.getnframes() * 2 == stats["producedBytes"]
    # An upload's text comes from POST api/asr/subtitles, which needs the key too.
    page.page.click("#tab-upload")
    page.page.click("#upload-start")
    page.wait("s.lastResult && s.lastResult.mode === 'offline'")
    page.page.wait_for_selector("#result", state="visible")
    served = served_formats(page.stats()["lastResult"]["timestamps"])
    assert page.download("#download-vtt").read_bytes() == served["vtt"]
    # The refused upload is the one failed request the browser logs; nothing else went wrong.
    assert all("status of 401" in error for error in page.errors), page.errors
