"""The browser recorder page: `/` and its static assets, shipped inside the package."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, send_from_directory

# Located from this file, not the working directory, so the page is found wherever the service runs.
STATIC_DIR = Path(__file__).resolve().parent / "static"

bp = Blueprint("recorder_page", __name__)


@bp.get("/")
def recorder_page() -> Response:
    """The recorder page (HTML); it needs no API key, the calls it makes do."""
    response = send_from_directory(STATIC_DIR, "index.html", mimetype="text/html")
    # Always revalidate, so a new release's page never pairs with stale cached scripts.
    response.cache_control.no_cache = True
    return response
