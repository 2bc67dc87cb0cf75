"""Bringing a user's pictures (any size) and masks to the model's square frame, and back.

"crop" takes the centred square of side min(H, W) (what the official datasets do: resize, then
centre-crop); "stretch" scales the whole picture to a square. Scaling is antialiased bilinear.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..scene import Framing

FITS = ("crop", "stretch")


def as_rgb(images) -> torch.Tensor:
    """Check pictures [N,C,H,W] in [-1,1] and return them as float RGB [N,3,H,W] (C = 1 is grey, C = 4
    is RGBA whose alpha is dropped); ValueError naming the problem otherwise."""
    if not isinstance(images, torch.Tensor):
        raise ValueError(f"images must be a tensor [N,3,H,W], got {type(images).__name__}")
    if images.dim() != 4:
        raise ValueError(f"images must be [N,3,H,W] (N pictures), got shape {list(images.shape)}")
    if images.shape[0] == 0:
        raise ValueError("images is an empty batch; give at least one picture")
    if images.shape[1] not in (1, 3, 4):
        raise ValueError(f"images must have 3 channels (RGB; 1 = grey and 4 = RGBA are converted), got "
                         f"{images.shape[1]}")
    if min(images.shape[-2:]) < 8:
        raise ValueError(f"images are {images.shape[-1]}x{images.shape[-2]} pixels; at least 8x8 is needed")
    if not images.is_floating_point():
        raise ValueError(f"images must be floats in [-1,1], got {images.dtype}")
    if not bool(torch.isfinite(images).all()):
        raise ValueError("images hold NaN or infinite pixels")
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)       # grey -> RGB
    elif images.shape[1] == 4:
        images = images[:, :3]                      # RGBA: the alpha channel is dropped (use the mask)
    return images.float()


def _to_frame(x: torch.Tensor, resolution: int, fit: str) -> torch.Tensor:
    h, w = x.shape[-2:]
    if fit == "crop":
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        x = x[..., top:top + side, left:left + side]
    if x.shape[-1] == resolution and x.shape[-2] == resolution:
        return x
    return F.interpolate(x, size=(resolution, resolution), mode="bilinear", antialias=True, align_corners=False)


def frame_images(images: torch.Tensor, resolution: int, fit: str = "crop") -> tuple[torch.Tensor, tuple[Framing, ...]]:
    """[N,C,H,W] in [-1,1] -> ([N,3,R,R] in [-1,1], one Framing per picture)."""
    if fit not in FITS:
        raise ValueError(f"fit must be one of {list(FITS)}, got {fit!r}")
    images = as_rgb(images)
    h, w = images.shape[-2:]
    framed = _to_frame(images, resolution, fit).clamp(-1, 1)
    return framed, tuple(Framing(int(w), int(h), fit) for _ in range(images.shape[0]))


def frame_mask(mask: torch.Tensor, images: torch.Tensor, resolution: int, fit: str = "crop") -> torch.Tensor:
    """A mask [N|1,H,W] or [H,W] in [0,1] of the pictures' size -> [N,1,R,R] in [0,1]."""
    if not isinstance(mask, torch.Tensor):
        raise ValueError(f"mask must be a tensor [N,H,W], got {type(mask).__name__}")
    m = mask[None] if mask.dim() == 2 else mask
    if m.dim() != 3:
        raise ValueError(f"mask must be [N,H,W] or [H,W], got shape {list(mask.shape)}")
    n, h, w = images.shape[0], images.shape[-2], images.shape[-1]
    if tuple(m.shape[-2:]) != (h, w):
        raise ValueError(f"mask is {m.shape[-1]}x{m.shape[-2]} pixels but the image is {w}x{h}; they must match")
    if m.shape[0] not in (1, n):
        raise ValueError(f"mask has {m.shape[0]} masks for {n} images; give 1 or {n}")
    if not bool(torch.isfinite(m).all()):
        raise ValueError("mask holds NaN or infinite values")
    m = m.float().clamp(0, 1).expand(n, -1, -1)[:, None]
    out = _to_frame(m, resolution, fit).clamp(0, 1)
    if bool((out >= 1).all()):
        raise ValueError("mask covers the whole picture; nothing is left to invert")
    return out

