#!/usr/bin/env bash
# Sets everything up, then runs every check: ruff, the frontend module tests, the widget in headless
# Chromium (skipped with a reason where Chromium or playwright-core is missing), and the Python suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser
./.venv/bin/python -m ruff check .
node --test tests/js/
node --test tests/browser/
./.venv/bin/python -m pytest -q
