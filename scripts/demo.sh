#!/usr/bin/env bash
# Sets everything up, then runs the main job headlessly on the embedded default model: sample a scene,
# edit its blobs, render, and write the images to out/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
./.venv/bin/python . example_workflows/blobgan_edit.json --out "${1:-out}"
