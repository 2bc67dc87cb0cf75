#!/usr/bin/env bash
# Sets up a fresh machine for standalone use and tests: a virtual environment in .venv with the CPU
# build of torch, the runtime requirements and the test tools. Safe to run again (it only adds what is
# missing). Usage: bash scripts/setup.sh [--browser]  (--browser: also Chromium + playwright-core for
# the widget's browser tests; needs apt and npm).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[[ -x .venv/bin/python ]] || "$PY" -m venv .venv
pip="./.venv/bin/python -m pip install -q --disable-pip-version-check"
# torch first and pinned, so nothing below can pull a CUDA build from the index
./.venv/bin/python -c "import torch" 2>/dev/null || $pip "torch==2.13.0"
# test tools; aiohttp (which ComfyUI brings) lets the preview-route test run a real server on loopback;
# setuptools builds the library's wheel offline in tests/test_install.py
$pip -r requirements.txt pytest ruff aiohttp setuptools
if [[ ${1:-} == --browser ]]; then
  if ! command -v chromium >/dev/null; then
    if command -v apt-get >/dev/null; then
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
        || echo "setup: could not install chromium; the browser tests will be skipped" >&2
    fi
  fi
  if command -v npm >/dev/null && [[ ! -d tests/browser/node_modules/playwright-core ]]; then
    (cd tests/browser && npm install --silent --no-audit --no-fund >/dev/null) \
      || echo "setup: could not install playwright-core; the browser tests will be skipped" >&2
  fi
fi
