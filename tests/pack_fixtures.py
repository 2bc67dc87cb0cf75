"""Shared by the node, runner and ComfyUI tests: the pack imported as ComfyUI imports it, and tiny
checkpoints written in our .safetensors format."""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path

import torch
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
    """A random tiny BlobGAN saved as our .safetensors, with a mean latent of a few samples inside (so
    loading does not spend seconds computing one from 10,000)."""
    model = random_model(config, seed)
    save_native(path, config, model.state_dict(), model.compute_mean_latent(n=256), {"source_file": "tests"})
    return path


@contextlib.contextmanager
def one_thread():
    """Run torch on one thread: on a small shared machine two threads mostly wait for each other."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def pack():
    return load_pack()
