#!/usr/bin/env bash
# Set up everything (venv, Debian packages, test models) and run lint, type checks and the test suite.
# Extra arguments go to pytest, e.g. scripts/run_tests.sh -k audio
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="$(scripts/bootstrap.sh)"
scripts/system_deps.sh
export PATH="$venv/bin:$PATH"
echo "== ruff"; ruff check .
echo "== mypy"; mypy
echo "== pytest"; python -m pytest "$@"
