"""Shared by the node, runner and ComfyUI tests: the pack imported as ComfyUI imports it, and tiny
checkpoints written in our .safetensors format."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import sys
from pathlib import Path

import torch
from conftest import TINY, random_model

from blobgan_core.checkpoint.native import save_native

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


PACK_MODULE = "blobgan_pack"  # the name the pack is imported under here (ComfyUI uses its path)


def pack():
    """The node pack imported the way ComfyUI imports it: its ``__init__.py`` by file, under a name of
    our choosing, so that its relative imports work (once per process)."""
    if PACK_MODULE in sys.modules:
        return sys.modules[PACK_MODULE]
    spec = importlib.util.spec_from_file_location(PACK_MODULE, ROOT / "__init__.py",
                                                  submodule_search_locations=[str(ROOT)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACK_MODULE] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[PACK_MODULE]
        raise
    return module
