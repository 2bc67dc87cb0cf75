"""Shared by the node, runner and ComfyUI tests: the pack imported as ComfyUI imports it, and tiny
checkpoints written in our .safetensors format."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from conftest import TINY, random_model

from blobgan_core.checkpoint.native import save_native
from blobgan_core.runner import load_pack

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "example_workflows"
API_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "workflows_api"
# ten blobs, as the example edit list uses ids up to 8
TINY10 = dataclasses.replace(TINY, n_blobs=10)
TINY_NAME = "blobgan_test_tiny.safetensors"


def write_tiny_checkpoint(path: Path, config=TINY10, seed: int = 0) -> Path:
    """A random tiny BlobGAN saved as our .safetensors (mean latent computed on load)."""
    save_native(path, config, random_model(config, seed).state_dict(), None, {"source_file": "tests"})
    return path


def pack():
    return load_pack()
