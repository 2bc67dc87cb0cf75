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

On BlobGAN the decoder features follow the splatted blob more than the rendered content: a handle
tracked there can report arrival while the content under it is still several pixels short (issue 13).
So the drag tracks **in the render** by default (:func:`track_in_image`): the template is the
original render's patch around each handle; every integer place within reach of the drag is scored by
the normalized cross-correlation of the template and the render's patch there, and the best place is
refined on a 1/8 px grid. The position is a measurement in the image the user sees.
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


# -- tracking on the render: what the user sees ---------------------------------------------------------

def image_templates(image: torch.Tensor, handles: torch.Tensor, radius: int) -> torch.Tensor:
    """The patches [P,C,n,n] (n = 2 radius + 1) of a render [C,R,R] around the handles [P,2] (image
    pixels, bilinear, borders repeated): what each handle's content looks like in the original."""
    offsets = torch.arange(-radius, radius + 1, device=image.device, dtype=image.dtype)
    size = image.shape[-1]
    if not len(handles):
        return image.new_zeros((0, image.shape[0], 2 * radius + 1, 2 * radius + 1))
    return torch.stack([sample_grid(image, p[0] + offsets, p[1] + offsets, size) for p in handles.to(image)])


@torch.no_grad()
def track_in_image(
    image: torch.Tensor,        # [C,R,R] the current render
    templates: torch.Tensor,    # [P,C,n,n] from image_templates on the original render
    centres: torch.Tensor,      # [P,2] window centres, image pixels (the drag: the original handles)
    radii: torch.Tensor,        # [P] window half-sizes, image pixels
    subpixel: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Where each template is in the render: (positions [P,2], match scores [P] in -1..1).

    Every integer offset within ``radii`` of the centre is scored by the normalized cross-correlation
    of the template and the render's patch there (both with their mean colour removed and scaled to
    unit norm, over all channels: a re-render may change a patch's brightness or contrast a little);
    a parabola through the score next to the best place gives the sub-pixel position.
    """
    size = image.shape[-1]
    n = templates.shape[-1]
    rt = n // 2
    positions, scores = [], []
    for tpl, centre, radius in zip(templates.to(image), centres.to(image), radii.tolist()):
        m = max(0, int(math.ceil(radius)))
        offsets = torch.arange(-m, m + 1, device=image.device, dtype=image.dtype)
        reach = torch.arange(-(m + rt), m + rt + 1, device=image.device, dtype=image.dtype)
        region = sample_grid(image, centre[0] + reach, centre[1] + reach, size)     # [C,L,L]
        c = region.shape[0]
        patches = torch.nn.functional.unfold(region[None], n)[0].view(c * n * n, -1)  # [C*n*n, k*k]
        patches = _standardize(patches.view(c, n * n, -1)).view(c * n * n, -1)
        t = _standardize(tpl.reshape(c, n * n, 1)).view(1, -1)
        k = len(offsets)
        score = (t @ patches).view(k, k)                                          # rows = y
        best = int(torch.argmax(score))
        iy, ix = divmod(best, k)
        found = torch.stack([centre[0] + offsets[ix], centre[1] + offsets[iy]])
        peak = score[iy, ix]
        if subpixel:
            found, peak = _refine_match(image, t.view(c, n, n), found, peak)
        positions.append(found)
        scores.append(peak)
    if not positions:
        return centres.clone(), centres.new_zeros(0)
    return torch.stack(positions), torch.stack(scores)


SUBPIXEL_STEPS = 8   # the sub-pixel search tries offsets of 1/8 px within half a pixel of the best place


def _refine_match(image, template, place, peak) -> tuple[torch.Tensor, torch.Tensor]:
    """The best place within half a pixel of ``place`` [2], on a grid of 1/SUBPIXEL_STEPS px: the render
    read bilinearly at each fractional offset, scored against the standardized template [C,n,n] as the
    integer search does. A measured position, where a parabola through the neighbours would be biased
    by an asymmetric peak. Returns (position [2], score)."""
    c, n, _ = template.shape
    rt = n // 2
    fine = torch.arange(-SUBPIXEL_STEPS // 2, SUBPIXEL_STEPS // 2 + 1, device=image.device,
                        dtype=image.dtype) / SUBPIXEL_STEPS                                   # [f]
    grid = torch.arange(-rt, rt + 1, device=image.device, dtype=image.dtype)                  # [n]
    xs = (place[0] + fine[:, None] + grid[None, :]).reshape(-1)                               # [f*n]
    ys = (place[1] + fine[:, None] + grid[None, :]).reshape(-1)
    f = len(fine)
    region = sample_grid(image, xs, ys, image.shape[-1]).view(c, f, n, f, n)                  # [C,fy,n,fx,n]
    patches = region.permute(0, 2, 4, 1, 3).reshape(c, n * n, f * f)
    score = (template.reshape(1, -1) @ _standardize(patches).reshape(c * n * n, -1)).view(f, f)
    if float(score.max()) <= float(peak):
        return place, peak
    iy, ix = divmod(int(torch.argmax(score)), f)
    return place + torch.stack([fine[ix], fine[iy]]), score[iy, ix]


def _standardize(patches: torch.Tensor) -> torch.Tensor:
    """[C,M,K] patches (K of them): mean colour per channel removed, unit norm over channels and pixels."""
    patches = patches - patches.mean(1, keepdim=True)
    return patches / patches.pow(2).sum((0, 1), keepdim=True).sqrt().clamp_min(1e-4)
