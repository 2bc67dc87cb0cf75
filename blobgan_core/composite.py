"""Putting an edit of an inverted scene back into the user's picture, at the picture's resolution.

The picture's own pixels stay everywhere the edit did not touch. Where it did (the old and new
footprints of every blob the edit changed, grown a little and feathered), the edited render takes over,
scaled up to the picture and colour-matched to it. The region is returned as a mask, so a diffusion
inpaint or img2img pass can refine the seam at full resolution.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .invert.framing import as_rgb
from .layout import TENSOR_FIELDS, Layout
from .scene import Scene
from .splat import layout_alphas

FOOTPRINT_ALPHA = 0.2   # a blob's footprint: where its visible alpha exceeds this


def changed_ids(before: Scene, after: Scene, index: int = 0, atol: float = 1e-6) -> tuple[set[int], bool]:
    """(ids of the blobs whose parameters differ between the scenes' item ``index``, whether the
    background changed). A blob only in one of them counts as changed."""
    a, b = before.layout.select(index), after.layout.select(index)
    pos_a = {i: k for k, i in enumerate(before.ids)}
    pos_b = {i: k for k, i in enumerate(after.ids)}
    changed = set(pos_a) ^ set(pos_b)
    for blob_id in set(pos_a) & set(pos_b):
        if not _same_blob(a, pos_a[blob_id], b, pos_b[blob_id], atol):
            changed.add(blob_id)
    background = not all(torch.allclose(getattr(a, n)[:, 0].float().cpu(), getattr(b, n)[:, 0].float().cpu(),
                                        atol=atol) for n in ("features", "spatial_style"))
    return changed, background


def _same_blob(a: Layout, ka: int, b: Layout, kb: int, atol: float) -> bool:
    for name in TENSOR_FIELDS:
        ta, tb = getattr(a, name), getattr(b, name)
        offset = 1 if name in ("sizes", "features", "spatial_style") else 0   # index 0 is the background
        if not torch.allclose(ta[:, ka + offset].float().cpu(), tb[:, kb + offset].float().cpu(), atol=atol):
            return False
    return True


def _footprint(layout: Layout, ids: tuple[int, ...], chosen: set[int], size: int) -> torch.Tensor:
    """Union of the visible footprints of blobs ``chosen`` (by id), [1,1,size,size] in {0,1}."""
    alpha = layout_alphas(layout.to("cpu", torch.float32), size)[:, 1:]         # [1,K,S,S]
    idx = [k for k, blob_id in enumerate(ids) if blob_id in chosen]
    if not idx:
        return alpha.new_zeros(1, 1, size, size)
    return (alpha[:, idx] > FOOTPRINT_ALPHA).any(1, keepdim=True).float()


def _gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    if sigma <= 0:
        return x
    radius = max(1, int(3 * sigma + 0.5))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype)
    k = torch.exp(-(t ** 2) / (2 * sigma ** 2))
    k = (k / k.sum()).to(x.device)
    x = F.pad(x, (radius, radius, radius, radius), mode="replicate")
    x = F.conv2d(x, k.view(1, 1, 1, -1))
    return F.conv2d(x, k.view(1, 1, -1, 1))


def edit_region(before: Scene, after: Scene, index: int, size: int, grow: float, feather: float) -> torch.Tensor:
    """Where the edit of item ``index`` shows, [1,1,size,size] in [0,1]: the old and new footprints of the
    changed blobs, grown by ``grow`` and feathered by ``feather`` (both in frame pixels at ``size``)."""
    changed, background = changed_ids(before, after, index)
    if background:
        return torch.ones(1, 1, size, size)
    region = torch.maximum(_footprint(before.layout.select(index), before.ids, changed, size),
                           _footprint(after.layout.select(index), after.ids, changed, size))
    if grow > 0:
        r = max(1, round(grow))
        region = F.max_pool2d(region, 2 * r + 1, stride=1, padding=r)
    return _gaussian_blur(region, feather).clamp(0, 1)


def match_colours(render: torch.Tensor, reference_render: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Map ``render``'s colours by the per-channel affine map that best takes ``reference_render`` to
    ``reference`` (least squares over all pixels): the inversion's leftover colour cast is removed from
    the edit the same way. All [1,3,H,W]."""
    x = reference_render.flatten(2)                              # [1,3,P]
    y = reference.flatten(2)
    xm, ym = x.mean(-1, keepdim=True), y.mean(-1, keepdim=True)
    var = ((x - xm) ** 2).mean(-1, keepdim=True)
    gain = (((x - xm) * (y - ym)).mean(-1, keepdim=True) / var.clamp_min(1e-6)).clamp(0.5, 2.0)
    out = (render.flatten(2) - xm) * gain + ym
    return out.view_as(render)


@torch.no_grad()
def composite_edit(
    original: torch.Tensor,         # [N,3,H,W] in [-1,1]: the pictures that were inverted
    before: Scene,                  # the inverted scene (Invert Image's output)
    after: Scene,                   # the edited scene (made from ``before`` by edits or dragging)
    *,
    grow: float = 2.0,              # frame pixels the changed footprints are grown by
    feather: float = 2.0,           # frame pixels of feathering (Gaussian sigma)
    colour_match: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns (pictures [N,3,H,W] in [-1,1], region masks [N,H,W] in [0,1]): the original pixels
    outside the edit region, the edited render (scaled up, colour-matched) inside it."""
    if before.framing is None:
        raise ValueError("the 'before' scene was not made by inverting a picture (no framing); give the "
                         "scene that Invert Image returned")
    if after.layout.batch != before.layout.batch:
        raise ValueError(f"the scenes hold {before.layout.batch} and {after.layout.batch} pictures; "
                         "they must hold as many")
    original = as_rgb(original)
    n, h, w = original.shape[0], original.shape[-2], original.shape[-1]
    if n != before.layout.batch:
        raise ValueError(f"image has {n} pictures but the scenes hold {before.layout.batch}")
    size = before.resolution
    out = original.float().clone()
    masks = original.new_zeros(n, h, w, dtype=torch.float32)
    renders_before = before.render().float().cpu()
    renders_after = after.render().float().cpu()
    for i in range(n):
        framing = before.framing[i]
        if (framing.width, framing.height) != (w, h):
            raise ValueError(f"image is {w}x{h} but the scene was inverted from a {framing.width}x"
                             f"{framing.height} picture; give the picture that was inverted")
        left, top, side_x, side_y = framing.window()
        window = original[i:i + 1, :, top:top + side_y, left:left + side_x].float().cpu()
        region = edit_region(before, after, i, size, grow, feather)
        if not bool(region.any()):
            continue
        edited = renders_after[i:i + 1]
        if colour_match:
            framed = F.interpolate(window, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
            edited = match_colours(edited, renders_before[i:i + 1], framed)
        up = F.interpolate(edited, size=(side_y, side_x), mode="bicubic", align_corners=False).clamp(-1, 1)
        m = F.interpolate(region, size=(side_y, side_x), mode="bilinear", align_corners=False).clamp(0, 1)
        blended = window * (1 - m) + up * m
        out[i, :, top:top + side_y, left:left + side_x] = blended[0].to(out.dtype)
        masks[i, top:top + side_y, left:left + side_x] = m[0, 0]
    return out, masks
