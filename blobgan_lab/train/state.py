"""Training checkpoints (OUT/last.pt) and the exported model (OUT/model.safetensors).

last.pt holds only plain containers and tensors (G, G_ema, D, both optimizers, step, RNG states),
so torch's weights-only loader reads it with nothing added to its allowlist and never runs code stored
in the file. Every file is written to a temporary name and moved into place with ``os.replace``, so a
crash mid-write never leaves a truncated checkpoint.
"""

from __future__ import annotations

import json
import os

import torch

from blobgan_core.checkpoint.native import save_native
from blobgan_core.checkpoint.torch_file import load_torch_file
from blobgan_core.config import BlobGANConfig

STATE_FORMAT = "blobgan-train-state"
STATE_VERSION = 1


def atomic_write(path: str, write_fn) -> None:
    """Call ``write_fn(tmp_path)`` and move the result to ``path`` in one step."""
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        write_fn(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def save_train_state(path: str, state: dict) -> None:
    """Write a training state dict (see :func:`load_train_state`) atomically with torch.save."""
    payload = {"format": STATE_FORMAT, "version": STATE_VERSION, **state}
    atomic_write(path, lambda tmp: torch.save(payload, tmp))


def load_train_state(path: str) -> dict:
    """Read OUT/last.pt without executing pickled code; check its format tag.

    Keys: step (int), config (dict), options (dict), G / G_ema / D (state dicts), opt_G / opt_D
    (optimizer state dicts), rng (list of per-rank dicts), sample_z ([n_samples, noise_dim]).
    """
    state = load_torch_file(path)  # torch's default allowlist covers everything save_train_state writes
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise ValueError(f"{path} is not a BlobGAN training checkpoint (expected format {STATE_FORMAT!r})")
    if state.get("version") != STATE_VERSION:
        raise ValueError(f"{path}: training-checkpoint version {state.get('version')!r} is not supported "
                         f"(this trainer reads version {STATE_VERSION})")
    return state


def save_model(path: str, config: BlobGANConfig, state_dict: dict, mean_latent: torch.Tensor,
               extra_meta: dict[str, str]) -> None:
    """Export generator weights in the pack's .safetensors format (written atomically by save_native).

    state_dict: ``layout_net.*`` / ``generator.*`` tensors; mean_latent: [mlp_width].
    """
    tensors = {k: v.detach().to("cpu") for k, v in state_dict.items()}
    save_native(path, config, tensors, mean_latent.detach().to("cpu", torch.float32), extra_meta)


def write_json(path: str, obj) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(json.dumps(obj, indent=2) + "\n")

    atomic_write(path, write)
