"""Conversions at the boundary: the core works in [N,3,H,W] on the official scale (about [-1,1]);
ComfyUI's IMAGE is [B,H,W,3] in [0,1]; files are 8-bit RGB."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image


def to_comfy_image(img: torch.Tensor) -> torch.Tensor:
    """[N,3,H,W] on the official scale -> ComfyUI IMAGE [N,H,W,3] float32 in [0,1] on the CPU."""
    return ((img.detach().float() + 1) / 2).clamp(0, 1).movedim(1, -1).cpu().contiguous()


def from_comfy_image(image: torch.Tensor) -> torch.Tensor:
    """ComfyUI IMAGE [B,H,W,C] in [0,1] -> [B,3,H,W] in [-1,1] (one channel is grey, repeated; extra
    channels such as alpha are dropped)."""
    if image.dim() != 4 or not (image.shape[-1] == 1 or image.shape[-1] >= 3):
        raise ValueError(f"IMAGE must be [B,H,W,3] (1 channel = grey), got {list(image.shape)}")
    if image.shape[-1] == 1:
        image = image.expand(-1, -1, -1, 3)
    return image[..., :3].movedim(-1, 1).float() * 2 - 1


def to_uint8(img: torch.Tensor) -> np.ndarray:
    """[N,3,H,W] on the official scale -> uint8 [N,H,W,3], as the official demo maps it:
    (x + 1) / 2 * 255, rounded and clamped."""
    x = (img.detach().float().cpu() + 1) / 2 * 255
    return x.round().clamp(0, 255).to(torch.uint8).movedim(1, -1).numpy()


def unit_to_uint8(img: torch.Tensor) -> np.ndarray:
    """[N,3,H,W] in [0,1] (blob maps) -> uint8 [N,H,W,3]."""
    return (img.detach().float().cpu() * 255).round().clamp(0, 255).to(torch.uint8).movedim(1, -1).numpy()


def image_grid(images: np.ndarray, columns: int | None = None, *, scale: int = 1, gap: int = 0,
               background: int = 0) -> np.ndarray:
    """Tile uint8 [N,H,W,3] into one image, ``columns`` wide (default: about square), each tile upscaled
    ``scale`` times (nearest) and ``gap`` pixels of ``background`` between and around tiles."""
    n, h, w, c = images.shape
    columns = columns or int(np.ceil(np.sqrt(n)))
    rows = -(-n // columns)
    th, tw = h * scale, w * scale
    grid = np.full((rows * (th + gap) + gap, columns * (tw + gap) + gap, c), background, dtype=images.dtype)
    for i, im in enumerate(images):
        r, col = divmod(i, columns)
        y, x = gap + r * (th + gap), gap + col * (tw + gap)
        grid[y:y + th, x:x + tw] = im.repeat(scale, 0).repeat(scale, 1) if scale > 1 else im
    return grid


def save_png(path: str | Path, image: np.ndarray, *, compress_level: int = 6) -> Path:
    """Write a uint8 [H,W,3] (or [H,W] grey) array as PNG, creating parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(image)).save(path, compress_level=compress_level)
    return path


def save_comfy_images(images: torch.Tensor, folder: str | Path, stem: str, *, compress_level: int = 6) -> list[Path]:
    """Write a ComfyUI IMAGE [B,H,W,C] or MASK [B,H,W] in [0,1] as ``{stem}_{i:05d}.png``, one file per
    batch item; returns the paths."""
    arrays = (images.detach().float().cpu().clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    return [save_png(Path(folder) / f"{stem}_{i:05d}.png", arr.squeeze(-1) if arr.ndim == 3 and arr.shape[-1] == 1
                     else arr, compress_level=compress_level) for i, arr in enumerate(arrays)]
