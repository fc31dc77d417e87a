"""openapi.yaml and openapi.json describe exactly the routes the app registers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from asr_service.app import create_app
from asr_service.config import Settings
from asr_service.service import AsrService

from .conftest import ROOT

_METHODS = {"get", "post", "put", "delete", "patch"}


def _spec() -> dict:
    return yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))


def _documented() -> set[tuple[str, str]]:
    return {
        (path, method) for path, item in _spec()["paths"].items() for method in item if method in _METHODS
    }


def _registered(tmp_path: Path) -> set[tuple[str, str]]:
    settings = Settings.from_env({"ASR_DATA_DIR": str(tmp_path)})
    app, _ = create_app(settings, AsrService(settings, lambda: None))  # type: ignore[arg-type,return-value]
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
