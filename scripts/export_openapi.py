"""Write openapi.json from openapi.yaml (the YAML is the source; a test keeps them equal)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def export(root: Path = ROOT) -> Path:
    """Regenerate openapi.json next to openapi.yaml and return its path."""
    spec = yaml.safe_load((root / "openapi.yaml").read_text(encoding="utf-8"))
    out = root / "openapi.json"
    out.write_text(json.dumps(spec, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return out


if __name__ == "__main__":
    print(export())
