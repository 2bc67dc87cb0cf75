"""DragGAN's motion supervision and mask terms on a decoder feature map.

Motion supervision (Pan et al. 2023, eq. 1): for each handle p with target t, the features one step
along d = (t - p)/|t - p| must match the current (detached) features of the disc around p, so the only
way to lower the loss is to move the content around p towards t by about one pixel.
"""

from __future__ import annotations

import math

import torch

from .features import sample_grid


def disc_offsets(radius: float, device=None, dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer offsets of a square window just holding a disc, and the disc inside it.

    Returns (offsets [n] in pixels, -m..m with m = floor(radius); disc [n,n] bool, |(ox, oy)| <= radius).
    """
    if not radius >= 0:
        raise ValueError(f"r1 (the motion-supervision radius) must be >= 0 pixels, got {radius}")
    m = int(math.floor(radius))
    offsets = torch.arange(-m, m + 1, device=device, dtype=dtype)
    disc = offsets[None, :] ** 2 + offsets[:, None] ** 2 <= radius ** 2 + 1e-6
    return offsets, disc


def motion_step(handle: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The shift d [2] the content at ``handle`` [2] is asked to make this iteration: unit length
    towards ``target``, shortened to the remaining distance in the last pixel (no overshoot)."""
    delta = target - handle
    dist = delta.norm()
    return delta / dist.clamp_min(1e-8) * dist.clamp(max=1.0)


def motion_loss(
    fmap: torch.Tensor,        # [C,h,w] decoder features of the current layout (with gradient)
    handles: torch.Tensor,     # [P,2] current handle positions, image pixels
    targets: torch.Tensor,     # [P,2] target positions, image pixels
    active: torch.Tensor,      # [P] bool: handles still to move (arrived ones get no term)
    radius: float,             # r1, image pixels
    image_size: int,
) -> torch.Tensor:
    """Sum over active handles of mean_{q in disc(p, r1), c} |sg[F(q)] - F(q + d)|  (a scalar)."""
    offsets, disc = disc_offsets(radius, fmap.device, fmap.dtype)
    n_disc = disc.sum() * fmap.shape[0]
    total = fmap.new_zeros(())
    for p, t, on in zip(handles, targets, active):
        if not bool(on):
            continue
        d = motion_step(p, t)
        source = sample_grid(fmap, p[0] + offsets, p[1] + offsets, image_size).detach()
        shifted = sample_grid(fmap, p[0] + d[0] + offsets, p[1] + d[1] + offsets, image_size)
        total = total + ((shifted - source).abs() * disc).sum() / n_disc
    return total


def template_motion_loss(
    image: torch.Tensor,       # [C,R,R] the current render (with gradient)
    templates: torch.Tensor,   # [P,C,n,n] the original render's patches around the original handles
    handles: torch.Tensor,     # [P,2] where each handle's content is now (tracked in the render), px
    targets: torch.Tensor,     # [P,2] px
    active: torch.Tensor,      # [P] bool
) -> torch.Tensor:
    """Motion supervision on the render with the original as the source: for each active handle p, the
    render's patch one step along d must look like the original's patch at the handle,
    ``mean_{o,c} |I(p + d + o) - T_i(o)|`` summed over handles.

    DragGAN's term compares with the current patch (sg[F(q)]), so a patch that has already drifted from
    what it showed is pushed along as it now is; here the reference is what the user pointed at, as in
    GoodDrag's information-preserving motion supervision (Zhang et al., ICLR 2025).
    """
    n = templates.shape[-1]
    offsets = torch.arange(-(n // 2), n // 2 + 1, device=image.device, dtype=image.dtype)
    size = image.shape[-1]
    total = image.new_zeros(())
    for p, t, tpl, on in zip(handles, targets, templates, active):
        if not bool(on):
            continue
        q = p + motion_step(p, t)
        total = total + (sample_grid(image, q[0] + offsets, q[1] + offsets, size) - tpl).abs().mean()
    return total


def mask_loss(fmap: torch.Tensor, fmap0: torch.Tensor, fixed: torch.Tensor) -> torch.Tensor:
    """mean |F - F0| over channels and pixels, weighted by ``fixed`` [h,w] (1 = must not change)."""
    return ((fmap - fmap0).abs() * fixed).mean()


def fixed_region(mask: torch.Tensor, feature_size: int) -> torch.Tensor:
    """The region that must stay, 1 - mask, averaged down to the feature map's side: [R,R] -> [r,r]."""
    keep = 1 - mask.clamp(0, 1)
    factor = keep.shape[-1] // feature_size
    if factor > 1:
        keep = torch.nn.functional.avg_pool2d(keep[None, None], factor)[0, 0]
    return keep
