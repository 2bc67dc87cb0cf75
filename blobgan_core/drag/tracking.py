"""Point tracking: where did each handle's content go? (DragGAN Sec. 3.3.)

Each handle keeps its reference feature f_i, read once from the original scene at its original
position. After every update the handle moves to the position in a square window of half-size r2
around its current position whose feature is nearest to f_i (L2 over channels, as the official code).
A parabola through the squared distances next to the best pixel adds a sub-pixel offset, so handles can
settle closer than one pixel to their targets.
"""

from __future__ import annotations

import math

import torch

from .features import sample_grid, sample_points


def reference_features(fmap: torch.Tensor, handles: torch.Tensor, image_size: int) -> torch.Tensor:
    """f_i: the features [P,C] of a map [C,h,w] at the handles [P,2] (image pixels)."""
    return sample_points(fmap, handles, image_size).detach()


@torch.no_grad()
def track_points(
    fmap: torch.Tensor,        # [C,h,w] features of the current layout
    references: torch.Tensor,  # [P,C] f_i
    handles: torch.Tensor,     # [P,2] current handle positions, image pixels
    radius: float,             # r2: half-size of the search window, image pixels
    image_size: int,
    subpixel: bool = True,
) -> torch.Tensor:
    """New handle positions [P,2]: the nearest neighbour of f_i in the window around each handle."""
    if not radius >= 0:
        raise ValueError(f"r2 (the tracking radius) must be >= 0 pixels, got {radius}")
    m = int(math.floor(radius))
    offsets = torch.arange(-m, m + 1, device=fmap.device, dtype=fmap.dtype)
    out = []
    for p, f in zip(handles.to(fmap), references.to(fmap)):
        window = sample_grid(fmap, p[0] + offsets, p[1] + offsets, image_size)   # [C,n,n]
        dist2 = (window - f[:, None, None]).pow(2).sum(0)                         # [n,n], rows = y
        best = int(torch.argmin(dist2))
        iy, ix = divmod(best, dist2.shape[1])
        dx = _parabola_offset(dist2[iy], ix) if subpixel else 0.0
        dy = _parabola_offset(dist2[:, ix], iy) if subpixel else 0.0
        out.append(torch.stack([p[0] + offsets[ix] + dx, p[1] + offsets[iy] + dy]))
    return torch.stack(out) if out else handles.clone()


def _parabola_offset(values: torch.Tensor, i: int) -> float:
    """Vertex of the parabola through values[i-1], values[i], values[i+1], relative to i, in [-0.5, 0.5]
    (0 at the window's edge or when the three are not convex)."""
    if i == 0 or i == len(values) - 1:
        return 0.0
    a, b, c = (float(v) for v in values[i - 1:i + 2])
    curvature = a - 2 * b + c
    if curvature <= 0:
        return 0.0
    return max(-0.5, min(0.5, 0.5 * (a - c) / curvature))
