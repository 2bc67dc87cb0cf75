#!/usr/bin/env bash
# Sets everything up, then runs the main job headlessly on the embedded default model: sample a scene,
# edit its blobs (example_workflows/blobgan_edit.json), and write the before and after images, both
# blob maps and a side-by-side sheet to out/ (or the folder given), saying where they are.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
./.venv/bin/python scripts/demo.py --out "${1:-out}"
