"""Our checkpoint format: one ``.safetensors`` file with the configuration in its metadata.

Tensors: the BlobGAN state dict in our naming (see ``expected_shapes``) plus, optionally, the truncation
mean latent as ``"mean_latent"`` ([mlp_width]). Metadata (all strings, as safetensors requires):
``format`` = ``"blobgan-comfyui"``, ``format_version`` = ``"1"``, ``config`` = ``BlobGANConfig.to_json()``,
``created_at`` (UTC, ISO 8601), and provenance such as ``source_file``, ``source_format``,
``converted_at``, ``epoch``, ``global_step``, ``jitter_trained``.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from ..config import BlobGANConfig
from .official import validate_state_dict
from .torch_file import CheckpointFormatError

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "MEAN_LATENT_KEY", "load_native", "looks_like_safetensors",
           "save_native"]

FORMAT_NAME = "blobgan-comfyui"
FORMAT_VERSION = "1"
MEAN_LATENT_KEY = "mean_latent"
_RESERVED = ("format", "format_version", "config")


def looks_like_safetensors(path: str | Path) -> bool:
    """True if the file starts like a safetensors file (8-byte header length, then a JSON object)."""
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(9)
    if len(head) < 9:
        return False
    header_len = int.from_bytes(head[:8], "little")
    return 2 <= header_len <= size - 8 and head[8:9] == b"{"


def save_native(path: str | Path, config: BlobGANConfig, state_dict: dict[str, torch.Tensor],
                mean_latent: torch.Tensor | None = None, extra_meta: dict | None = None) -> dict[str, str]:
    """Write ``state_dict`` (our naming, validated against ``config``) and the optional mean latent
    ([H] or [1, H]) to ``path``; returns the metadata written. The file is written beside the target
    and renamed into place, so an interrupted write never leaves a half file under ``path``."""
    path = Path(path)
    validate_state_dict(state_dict, config, source="the state dict to save")
    tensors = {k: v.detach().contiguous() for k, v in state_dict.items()}
    if mean_latent is not None:
        mean_latent = mean_latent.detach().reshape(-1)
        if mean_latent.numel() != config.mlp_width or not mean_latent.is_floating_point():
            raise ValueError(f"mean_latent must be a float tensor of {config.mlp_width} values (mlp_width), "
                             f"got {mean_latent.dtype} {list(mean_latent.shape)}")
        tensors[MEAN_LATENT_KEY] = mean_latent.float().contiguous()
    now = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    metadata = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "config": config.to_json(),
                "created_at": now}
    for key, value in (extra_meta or {}).items():
        if key in _RESERVED:
            raise ValueError(f"extra_meta may not set {key!r}; reserved keys: {list(_RESERVED)}")
        metadata[str(key)] = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=metadata)
        # mkstemp creates 0600 files; a model file should get the usual permissions (0666 less the umask)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return metadata


def _describe_foreign(keys: list[str], meta: dict[str, str]) -> str:
    """What a safetensors file that is not ours looks like, for the error message."""

    def has(*needles):
        return any(any(n in k for n in needles) for k in keys)

    if has("model.diffusion_model."):
        what = "a Stable Diffusion checkpoint (UNet tensors model.diffusion_model.*)"
    elif has("lora_unet_", "lora_te", ".lora_down.", ".lora_A.", "lora_up"):
        what = "a LoRA"
    elif has("first_stage_model.") or (has("encoder.down.") and has("decoder.up.")):
        what = "a VAE"
    elif has("cond_stage_model.", "conditioner.embedders.", "text_model.encoder."):
        what = "a text encoder"
    elif has("generator_ema.", "layout_net_ema."):
        what = ("official BlobGAN tensor names without our metadata; convert the original .ckpt with "
                "`python -m blobgan_core convert IN.ckpt OUT.safetensors`")
    elif has("generator.") and has("layout_net."):
        what = ("BlobGAN-like tensors without the 'blobgan-comfyui' metadata that holds the configuration; "
                "convert the original .ckpt with `python -m blobgan_core convert IN.ckpt OUT.safetensors`")
    else:
        heads: dict[str, int] = {}
        for k in keys:
            heads[k.split(".", 1)[0]] = heads.get(k.split(".", 1)[0], 0) + 1
        top = sorted(heads.items(), key=lambda kv: -kv[1])[:6]
        what = "tensors " + (", ".join(f"{h}.* ({n})" for h, n in top) or "(none)")
    arch = meta.get("modelspec.architecture")
    if arch:
        what += f"; its metadata says modelspec.architecture={arch!r}"
    return what


def update_native_metadata(path: str | Path, **values) -> dict[str, str]:
    """Rewrite a file written by :func:`save_native` with extra metadata ``values`` set (tensors and
    the other metadata unchanged); returns the new metadata."""
    config, state_dict, mean_latent, meta = load_native(path)
    extra = {k: v for k, v in meta.items() if k not in _RESERVED}
    extra.update(values)
    return save_native(path, config, state_dict, mean_latent, extra_meta=extra)


def load_native(path: str | Path, device: str | torch.device | None = None
                ) -> tuple[BlobGANConfig, dict[str, torch.Tensor], torch.Tensor | None, dict[str, str]]:
    """Read a file written by :func:`save_native`: ``(config, state_dict, mean_latent or None, meta)``.

    ``mean_latent`` is [mlp_width]; tensors land on ``device`` (default CPU). A safetensors file that is
    not ours raises CheckpointFormatError saying what it looks like.
    """
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt", device=str(device or "cpu")) as f:
            meta = dict(f.metadata() or {})
            keys = list(f.keys())
            if meta.get("format") != FORMAT_NAME:
                raise CheckpointFormatError(
                    f"{path} is a .safetensors file but not a BlobGAN model made by this pack (no "
                    f"format={FORMAT_NAME!r} metadata); it looks like {_describe_foreign(keys, meta)}")
            if meta.get("format_version") != FORMAT_VERSION:
                raise CheckpointFormatError(
                    f"{path}: format_version {meta.get('format_version')!r} is not supported (this version "
                    f"reads {FORMAT_VERSION!r}); update the pack")
            try:
                config = BlobGANConfig.from_json(meta["config"])
            except (KeyError, ValueError, TypeError) as e:
                raise CheckpointFormatError(f"{path}: the 'config' metadata is missing or invalid ({e})") from e
            state_dict = {k: f.get_tensor(k) for k in keys if k != MEAN_LATENT_KEY}
            mean_latent = f.get_tensor(MEAN_LATENT_KEY) if MEAN_LATENT_KEY in keys else None
    except SafetensorError as e:
        raise CheckpointFormatError(f"{path} is not a readable .safetensors file ({e})") from e
    validate_state_dict(state_dict, config, source=str(path))
    if mean_latent is not None and tuple(mean_latent.shape) != (config.mlp_width,):
        raise CheckpointFormatError(f"{path}: mean_latent has shape {list(mean_latent.shape)}, expected "
                                    f"[{config.mlp_width}] (mlp_width)")
    return config, state_dict, mean_latent, meta
