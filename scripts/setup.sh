#!/usr/bin/env bash
# Set up CLaC Explorer on a fresh machine: Python venv, pip packages, the offline 3Dmol.js copy.
#   bash scripts/setup.sh          # app + library
#   bash scripts/setup.sh --dev    # + test tools (pytest, playwright) and Debian's Chromium for browser tests
set -euo pipefail
cd "$(dirname "$0")/.."
DEV=0
[ "${1:-}" = "--dev" ] && DEV=1
PY=${PYTHON:-python3}

if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv"
  "$PY" -m venv .venv
fi
# torch is pinned in requirements.txt: an unpinned torch pulls a multi-GB CUDA build.
if [ "$DEV" = 1 ]; then
  .venv/bin/pip install --disable-pip-version-check -q -r requirements-dev.txt
else
  .venv/bin/pip install --disable-pip-version-check -q -r requirements.txt
fi

# 3Dmol.js for the offline 3D viewer (py3Dmol points at a CDN by default).
if command -v npm >/dev/null 2>&1; then
  npm install --no-audit --no-fund --silent
  mkdir -p static
  cp node_modules/3dmol/build/3Dmol-min.js static/3Dmol-min.js
else
  echo "[setup] npm not found: the 3D viewer falls back to a plotly view" >&2
fi

if [ "$DEV" = 1 ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "[setup] installing Debian's chromium for the browser test"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "[setup] /usr/bin/chromium missing and not root: browser tests will be skipped" >&2
  fi
fi
echo "[setup] done"
