"""openapi.yaml and openapi.json describe exactly the routes the app registers."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import yaml
from flask import Flask

from asr_service.app import create_app
from asr_service.config import Settings
from asr_service.service import AsrService

from .conftest import ROOT

_METHODS = {"get", "post", "put", "delete", "patch"}
_SOME_ID = "0123456789abcdef0123456789abcdef"


def _spec() -> dict:
    return yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))


def _documented() -> set[tuple[str, str]]:
    return {
        (path, method) for path, item in _spec()["paths"].items() for method in item if method in _METHODS
    }


def _app(tmp_path: Path) -> Flask:
    env = {"ASR_DATA_DIR": str(tmp_path), "HOTWORDS_FILE": str(tmp_path / "none.json")}
    settings = Settings.from_env(env)
    app, _ = create_app(settings, AsrService(settings, lambda: None))  # type: ignore[arg-type,return-value]
    return app


def _registered(tmp_path: Path) -> set[tuple[str, str]]:
    app = _app(tmp_path)
    out = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        out |= {(path, m.lower()) for m in rule.methods or () if m.lower() in _METHODS}
    return out


def test_documented_routes_equal_registered_routes(tmp_path: Path) -> None:
    assert _documented() == _registered(tmp_path)


def test_json_copy_equals_the_yaml() -> None:
    assert json.loads((ROOT / "openapi.json").read_text(encoding="utf-8")) == _spec()


def test_the_documented_model_roles_are_the_specs() -> None:
    from asr_service.model_specs import MODEL_SPECS

    listing = _spec()["paths"]["/api/asr/models"]["get"]["responses"]["200"]["content"]["application/json"]
    entry = listing["schema"]["properties"]["data"]["properties"]["models"]["items"]
    assert entry["properties"]["role"]["enum"] == [spec.role for spec in MODEL_SPECS]


def test_every_error_code_the_code_uses_is_documented() -> None:
    from asr_service import errors
    from asr_service.api import _HTTP_CODES

    documented = set(_spec()["components"]["schemas"]["ErrorResponse"]["properties"]["code"]["enum"])
    used = {
        cls.code
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.ServiceError)
    }
    assert used | set(_HTTP_CODES.values()) <= documented


def _asks_for_a_resume_token(app: Flask, path: str, method: str) -> bool:
    """Whether the route answers 401 for want of a resume token (upload forms carry a session_id)."""
    url = re.sub(r"\{[^}]+\}", _SOME_ID, path)
    form = {"file": (io.BytesIO(b"RIFF"), "a.wav"), "session_id": _SOME_ID} if method == "post" else None
    with app.test_client() as client:
        response = client.open(url, method=method.upper(), data=form)
    body = response.get_json(silent=True) or {}
    return response.status_code == 401 and "resume token" in str(body.get("error"))


def _documents_a_resume_token(path: str, method: str) -> bool:
    """Whether the spec gives the operation an X-Resume-Token header and a 401 answer."""
    spec = _spec()
    item = spec["paths"][path]
    params = [*item.get("parameters", []), *item[method].get("parameters", [])]
    shared = spec["components"]["parameters"]
    resolved = [shared[p["$ref"].rsplit("/", 1)[1]] if "$ref" in p else p for p in params]
    header = any(p["in"] == "header" and p["name"] == "X-Resume-Token" for p in resolved)
    return header and "401" in item[method]["responses"]


def test_routes_that_need_a_resume_token_document_it(tmp_path: Path) -> None:
    app = _app(tmp_path)
    needing = {(p, m) for p, m in _documented() if _asks_for_a_resume_token(app, p, m)}
    assert ("/api/asr/sessions/{session_id}/result", "get") in needing  # the probe itself works
    assert needing == {(p, m) for p, m in _documented() if _documents_a_resume_token(p, m)}
