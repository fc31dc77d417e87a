"""The recorder page blueprint: `/` is the packaged index.html, always revalidated."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from flask import Flask

import asr_service
from asr_service.page import STATIC_DIR, bp


def _app() -> Flask:
    app = Flask(__name__)
    app.register_blueprint(bp)
    return app


def test_the_page_is_the_packaged_index_and_never_served_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # found from the package, wherever the service runs
    with _app().test_client() as c:
        page = c.get("/")
        body = page.get_data()
        page.close()
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert body == (STATIC_DIR / "index.html").read_bytes()
    assert "no-cache" in page.headers["Cache-Control"]


def test_the_static_folder_lives_inside_the_package() -> None:
    package = Path(asr_service.__file__).resolve().parent
    assert package / "static" == STATIC_DIR and STATIC_DIR.is_absolute()
    assert (STATIC_DIR / "index.html").is_file() and os.access(STATIC_DIR / "app.js", os.R_OK)


def test_only_get_serves_the_page() -> None:
    with _app().test_client() as c:
        assert c.post("/").status_code == 405
