#!/usr/bin/env bash
# Sets everything up, then runs every check: ruff, the Python suite, and the frontend module tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser
./.venv/bin/python -m ruff check .
node --test tests/js/
./.venv/bin/python -m pytest -q
