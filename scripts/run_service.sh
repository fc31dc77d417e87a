#!/usr/bin/env bash
# Set up the venv and run the service on $ASR_PORT (5006). Models come from ASR_*_MODEL
# (ModelScope ids by default). `--test-models` serves random-weight test models instead, for a
# machine without ModelScope access (output is gibberish; the API is real).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="$(scripts/bootstrap.sh)"
if [ "${1:-}" = "--test-models" ]; then
  dirs="$("$venv/bin/python" scripts/test_model_dirs.py --size "${2:-tiny}")"
  eval "$dirs"
fi
exec "$venv/bin/python" asr_api_server.py
