"""Checkpoint formats: official BlobGAN Lightning ``.ckpt`` files (read with torch's weights-only loader,
never executing pickled code) and our ``.safetensors`` files (configuration in the metadata).

    config, state_dict, mean_latent, info = read_checkpoint("bedrooms.ckpt")   # or a .safetensors
    convert_checkpoint("bedrooms.ckpt", "bedrooms.safetensors")                # mean latent included

``state_dict`` uses our parameter names (``expected_shapes(config)``), so ``BlobGAN(config)
.load_state_dict(state_dict, strict=True)`` loads it.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path

import torch

from ..config import BlobGANConfig
from .hparams import OFFICIAL_CHECKPOINT_GLOBALS, plain
from .native import FORMAT_NAME, load_native, looks_like_safetensors, save_native
from .official import (
    expected_shapes,
    find_mean_latent,
    read_mean_latent_file,
    read_official_checkpoint,
    validate_state_dict,
)
from .torch_file import CheckpointFormatError, UnsafeCheckpointError, load_torch_file, sniff_torch_format

__all__ = [
    "OFFICIAL_CHECKPOINT_GLOBALS",
    "CheckpointFormatError",
    "UnsafeCheckpointError",
    "convert_checkpoint",
    "convert_cli",
    "expected_shapes",
    "find_mean_latent",
    "load_native",
    "load_torch_file",
    "plain",
    "read_checkpoint",
    "read_mean_latent_file",
    "read_official_checkpoint",
    "save_native",
    "validate_state_dict",
]

SUPPORTED_FORMATS = (
    "an official BlobGAN PyTorch-Lightning checkpoint (.ckpt, torch zip or legacy format)",
    f"a BlobGAN .safetensors written by `python -m blobgan_core convert` (metadata format={FORMAT_NAME!r})",
)


def read_checkpoint(path: str | Path) -> tuple[BlobGANConfig, dict[str, torch.Tensor], torch.Tensor | None, dict]:
    """Read any supported BlobGAN checkpoint, chosen by content (not by extension).

    Returns ``(config, state_dict, mean_latent or None, info)``; ``mean_latent`` is [mlp_width] (for an
    official checkpoint it comes from ``<stem>_mean_latent.pt`` beside it); ``info["format"]`` is
    ``"official-lightning"`` or ``"blobgan-comfyui"``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    if sniff_torch_format(path) is not None:
        config, state_dict, info = read_official_checkpoint(path)
        mean_latent = find_mean_latent(path, config.mlp_width)
        info["mean_latent"] = f"{path.stem}_mean_latent.pt" if mean_latent is not None else None
        return config, state_dict, mean_latent, info
    if looks_like_safetensors(path):
        config, state_dict, mean_latent, meta = load_native(path)
        info = dict(meta)
        info["format"] = FORMAT_NAME
        info["source"] = path.name
        return config, state_dict, mean_latent, info
    raise CheckpointFormatError(f"{path} is not a supported checkpoint; supported: " + "; ".join(SUPPORTED_FORMATS))


def _package_version() -> str:
    try:
        from importlib.metadata import version
        return version("comfyui-blobgan")
    except Exception:  # not installed as a distribution (a ComfyUI custom_nodes checkout)
        return "unknown"


def convert_checkpoint(src: str | Path, dst: str | Path,
                       mean_latent: str | Path | torch.Tensor | None = None) -> dict[str, str]:
    """Convert ``src`` (official ``.ckpt`` or our ``.safetensors``) to our ``.safetensors`` at ``dst``.

    ``mean_latent``: a [H] / [1, H] tensor, a ``.pt`` file holding one, or None to use the one found with
    ``src`` (``<stem>_mean_latent.pt`` beside an official checkpoint). Returns the metadata written.
    """
    src, dst = Path(src), Path(dst)
    if src.resolve() == dst.resolve():
        raise ValueError(f"source and destination are the same file: {src}")
    config, state_dict, found_mean, info = read_checkpoint(src)
    if isinstance(mean_latent, (str, Path)):
        mean_latent = read_mean_latent_file(mean_latent, config.mlp_width)
    if mean_latent is None:
        mean_latent = found_mean
    now = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    if info.get("format") == FORMAT_NAME:
        extra = {k: v for k, v in info.items() if k not in ("format", "format_version", "config", "source",
                                                            "created_at")}
    else:
        extra = {
            "source_file": src.name,
            "source_format": info.get("format", "unknown"),
            "lightning_version": info.get("lightning_version"),
            "epoch": info.get("epoch"),
            "global_step": info.get("global_step"),
            "weights": info.get("weights"),
            "jitter_trained": info.get("jitter_trained"),
            "config_sources": info.get("config_sources"),
            "mean_latent_source": info.get("mean_latent") or ("given" if mean_latent is not None else "none"),
        }
    extra["converted_at"] = now
    extra["converter"] = f"comfyui-blobgan {_package_version()}"
    extra = {k: v for k, v in extra.items() if v is not None}
    return save_native(dst, config, state_dict, mean_latent, extra)


def convert_cli(argv: list[str] | None = None) -> int:
    """``python -m blobgan_core convert IN OUT [--mean-latent PT] [--force]``; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m blobgan_core convert",
        description="Convert an official BlobGAN checkpoint (.ckpt) to a .safetensors file with the "
                    "configuration and the truncation mean latent inside. Nothing stored in the .ckpt is "
                    "executed.")
    parser.add_argument("src", type=Path, help="official BlobGAN .ckpt (or one of our .safetensors)")
    parser.add_argument("dst", type=Path, help="output .safetensors path")
    parser.add_argument("--mean-latent", type=Path, default=None,
                        help="the <stem>_mean_latent.pt to embed (default: found beside SRC)")
    parser.add_argument("--force", action="store_true", help="overwrite DST if it exists")
    args = parser.parse_args(argv)
    if args.dst.suffix != ".safetensors":
        parser.error(f"the output must end in .safetensors, got {args.dst}")
    if args.dst.exists() and not args.force:
        parser.error(f"{args.dst} exists; pass --force to overwrite it")
    try:
        meta = convert_checkpoint(args.src, args.dst, args.mean_latent)
    except (CheckpointFormatError, UnsafeCheckpointError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    config = BlobGANConfig.from_json(meta["config"])
    mean = meta.get("mean_latent_source", "kept")
    print(f"wrote {args.dst}: {config.resolution}px, {config.n_blobs} blobs, d_in {config.d_in}, "
          f"d_style {config.d_style}; mean latent: {mean}")
    return 0
