"""Point tracking: where did each handle's content go? (DragGAN Sec. 3.3.)

Each handle keeps its reference feature f_i, read once from the original scene at its original
position. After every update the handle moves to the position in a square window of half-size r2
around its current position whose feature is nearest to f_i (L2 over channels, as the official code).
A parabola through the squared distances next to the best pixel adds a sub-pixel offset, so handles can
settle closer than one pixel to their targets.

Plain nearest neighbour is arbitrary where the features are flat (inside a uniform region, which blob
cores often are): every position in the window matches about equally, and the handle jumps around.
With ``prior`` > 0 the window is centred on a *predicted* position (in the drag: where the handle's
blob has carried it) and the cost is

    |F(q) - f_i|^2 / median_window |F - f_i|^2  +  prior * |q - predicted|^2 / r2^2

so a distinctive match wins by far (its normalized distance is near 0 against about 1 for the rest),
while in a flat window the handle follows its blob. ``prior=0`` is DragGAN's tracker.
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
    handles: torch.Tensor,     # [P,2] window centres: current (or predicted) handle positions, image pixels
    radius: float,             # r2: half-size of the search window, image pixels
    image_size: int,
    subpixel: bool = True,
    prior: float = 0.0,        # weight of the pull toward the window centre (see the module docstring)
) -> torch.Tensor:
    """New handle positions [P,2]: the best match of f_i in the window around each handle."""
    if not radius >= 0:
        raise ValueError(f"r2 (the tracking radius) must be >= 0 pixels, got {radius}")
    if not prior >= 0:
        raise ValueError(f"the tracking prior must be >= 0, got {prior}")
    m = int(math.floor(radius))
    offsets = torch.arange(-m, m + 1, device=fmap.device, dtype=fmap.dtype)
    pull = (offsets[None, :] ** 2 + offsets[:, None] ** 2) / max(radius, 1.0) ** 2     # [n,n]
    out = []
    for p, f in zip(handles.to(fmap), references.to(fmap)):
        window = sample_grid(fmap, p[0] + offsets, p[1] + offsets, image_size)   # [C,n,n]
        cost = (window - f[:, None, None]).pow(2).sum(0)                          # [n,n], rows = y
        if prior > 0:
            cost = cost / cost.median().clamp_min(1e-12) + prior * pull
        best = int(torch.argmin(cost))
        iy, ix = divmod(best, cost.shape[1])
        dx = _parabola_offset(cost[iy], ix) if subpixel else 0.0
        dy = _parabola_offset(cost[:, ix], iy) if subpixel else 0.0
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
