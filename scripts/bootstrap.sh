#!/usr/bin/env bash
# Create or reuse the project's virtualenv, cached outside the checkout and keyed by the
# requirements' hash, so a second run (or CI rerun) installs nothing. Prints the venv path last.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python_bin="${ASR_PYTHON:-python3}"
cache_root="${ASR_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/xingji-asr}"
key="$( (cat requirements.txt requirements-dev.txt; "$python_bin" -c 'import sys; print(sys.version)') | sha256sum | cut -c1-16)"
venv="$cache_root/venv-$key"
if [ ! -f "$venv/.complete" ]; then
  echo "bootstrap: creating $venv (torch and FunASR download about 4 GB the first time)" >&2
  mkdir -p "$cache_root"
  rm -rf "$venv"
  "$python_bin" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip >&2
  "$venv/bin/python" -m pip install --quiet --progress-bar off -r requirements-dev.txt >&2
  touch "$venv/.complete"
  # old environments of this project are dead weight once the requirements change
  find "$cache_root" -maxdepth 1 -name 'venv-*' ! -name "venv-$key" -exec rm -rf {} + 2>/dev/null || true
fi
echo "$venv"
