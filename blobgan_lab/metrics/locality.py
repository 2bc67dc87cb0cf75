"""Edit locality: when one blob moves, how much of the image change stays where the blob was and went.

Definitions (all at the render resolution R):

- A blob's *footprint* in a layout is where its composited alpha (after occlusion by the blobs in
  front) is at least ``FOOTPRINT_ALPHA`` = 0.1, i.e. where it contributes at least a tenth of the
  features the decoder sees.
- The *change* of a pixel is the L1 distance over RGB between the edited and the original render, in
  8-bit levels (images clamped to [-1, 1] first). Both renders use the same noise.
- *Locality share* of a move = change inside (old footprint U new footprint) / total change. 1 means
  nothing outside the blob's region changed. For scale, ``area`` is the fraction of the image that
  region covers: a change spread evenly over the picture would give share = area.
- *Carry*: does the blob's content travel with it? Over the pixels p of the new footprint whose source
  p - d (d = the move in pixels) lay in the old footprint, compare the edited image E with the original
  O shifted by d and with O unshifted: carry = 1 - sum|E(p) - O(p - d)| / sum|E(p) - O(p)|. 1 = the
  blob's pixels moved exactly; 0 = no closer to a shifted copy than to the unedited picture.
- A move of a hidden blob changes nothing (total change 0); its share is undefined (NaN).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

from blobgan_core.layout import Layout
from blobgan_core.splat import layout_alphas

FOOTPRINT_ALPHA = 0.1
MIN_VISIBLE_AREA = 0.01     # blobs covering less of the image are not moved by plan_moves
MOVE_FRACTION = 0.15        # default move length, as a fraction of the image side


@dataclass
class MoveResult:
    """One blob move in one scene. Changes are sums over pixels of the RGB L1 change in 8-bit levels."""

    scene: int
    blob: int
    dx_px: int
    dy_px: int
    total_change: float
    inside_change: float
    area: float            # fraction of the image in old U new footprint
    carried_error: float   # sum |E(p) - O(p - d)| over the carry region
    stayed_error: float    # sum |E(p) - O(p)| over the carry region
    carry_pixels: int

    @property
    def share(self) -> float:
        return self.inside_change / self.total_change if self.total_change > 0 else math.nan

    def to_dict(self) -> dict:
        return {**asdict(self), "share": self.share}


def footprints(layout: Layout, size: int, threshold: float = FOOTPRINT_ALPHA) -> torch.Tensor:
    """Bool [N,K,size,size]: where each blob's composited alpha is >= threshold."""
    alpha = layout_alphas(layout.to("cpu", torch.float32), size)[:, 1:]
    return alpha >= threshold


def pixel_change(before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
    """Per-pixel RGB L1 change in 8-bit levels: [N,3,H,W] x2 (official scale) -> [N,H,W]."""
    return ((after.float().clamp(-1, 1) - before.float().clamp(-1, 1)).abs() * 127.5).sum(1)


def shift_image(img: torch.Tensor, dx: int, dy: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``img`` [...,H,W] moved by (dx, dy) pixels, and a bool [H,W] mask of the pixels that have a source."""
    h, w = img.shape[-2:]
    out = torch.zeros_like(img)
    valid = torch.zeros(h, w, dtype=torch.bool)
    ys, yd = slice(max(0, -dy), h - max(0, dy)), slice(max(0, dy), h - max(0, -dy))
    xs, xd = slice(max(0, -dx), w - max(0, dx)), slice(max(0, dx), w - max(0, -dx))
    out[..., yd, xd] = img[..., ys, xs]
    valid[yd, xd] = True
    return out, valid


def move_layout(layout: Layout, blobs: int | list[int], dx_px: int, dy_px: int, size: int) -> Layout:
    """Copy of a one-scene layout with the centres of ``blobs`` (one index or several) moved by whole
    pixels at ``size``."""
    xs, ys = layout.xs.clone(), layout.ys.clone()
    xs[:, blobs] += dx_px / size
    ys[:, blobs] += dy_px / size
    return layout.replace(xs=xs, ys=ys)


def plan_moves(
    layout: Layout,                # one scene, [1,K]
    size: int,
    rng: np.random.Generator,
    length: float = MOVE_FRACTION,
    min_area: float = MIN_VISIBLE_AREA,
) -> list[tuple[int, int, int]]:
    """(blob, dx_px, dy_px) for every blob with at least ``min_area`` of footprint: a move of about
    ``length`` x size pixels in a random direction, turned back where the centre would leave the image."""
    area = footprints(layout, size)[0].float().mean((1, 2))
    moves = []
    for k in range(layout.n_blobs):
        angle = rng.uniform(0, 2 * math.pi)   # drawn for every blob, so the plan of one blob never
        if float(area[k]) < min_area:         # depends on which others are visible
            continue
        dx, dy = round(length * size * math.cos(angle)), round(length * size * math.sin(angle))
        x, y = float(layout.xs[0, k]), float(layout.ys[0, k])
        if not 0 <= x + dx / size <= 1:
            dx = -dx
        if not 0 <= y + dy / size <= 1:
            dy = -dy
        moves.append((k, dx, dy))
    return moves


@torch.no_grad()
def measure_moves(
    model,                          # a BlobGAN
    layout: Layout,                 # one scene, [1,K]
    moves: list[tuple[int, int, int]],
    noise_seed: int = 0,
    scene: int = 0,
    threshold: float = FOOTPRINT_ALPHA,
) -> list[MoveResult]:
    """Render the scene and every move of it (same noise) and measure each move."""
    if layout.batch != 1:
        raise ValueError(f"measure_moves takes one scene (batch 1), got batch {layout.batch}")
    if not moves:
        return []
    size = model.resolution
    layout = layout.to("cpu")
    moved = Layout.cat([move_layout(layout, k, dx, dy, size) for k, dx, dy in moves])
    # one scene per render call: rows of a batched call may differ in the last float bits, which
    # would show up as change where nothing changed
    original = model.render(layout, noise=noise_seed).float().cpu().clamp(-1, 1)
    edited = torch.cat([model.render(moved.select(i), noise=noise_seed) for i in range(len(moves))])
    edited = edited.float().cpu().clamp(-1, 1)
    change = pixel_change(original.expand_as(edited), edited)                  # [M,H,W]
    before = footprints(layout, size, threshold)[0]                             # [K,H,W]
    after = footprints(moved, size, threshold)                                  # [M,K,H,W]
    results = []
    for i, (k, dx, dy) in enumerate(moves):
        region = before[k] | after[i, k]
        shifted, has_source = shift_image(original[0], dx, dy)
        source_in_blob, _ = shift_image(before[k].float(), dx, dy)
        carry_region = after[i, k] & has_source & (source_in_blob > 0.5)
        carried = ((edited[i] - shifted).abs() * 127.5).sum(0)[carry_region].sum()
        stayed = ((edited[i] - original[0]).abs() * 127.5).sum(0)[carry_region].sum()
        results.append(MoveResult(
            scene=scene, blob=k, dx_px=dx, dy_px=dy,
            total_change=float(change[i].sum()), inside_change=float(change[i][region].sum()),
            area=float(region.float().mean()), carried_error=float(carried), stayed_error=float(stayed),
            carry_pixels=int(carry_region.sum())))
    return results


def pooled_carry(results: list[MoveResult]) -> float:
    """1 - sum carried error / sum stayed error over ``results`` (NaN when nothing stayed to compare)."""
    stayed = sum(r.stayed_error for r in results)
    return float(1 - sum(r.carried_error for r in results) / stayed) if stayed > 0 else math.nan


def summarize_groups(results: list[MoveResult], group_of) -> dict:
    """Moves with a change, split by ``group_of(result) -> str``: {group: {moves, share_mean, carry}}."""
    groups: dict[str, list[MoveResult]] = {}
    for r in results:
        if r.total_change > 0:
            groups.setdefault(group_of(r), []).append(r)
    return {name: {"moves": len(rs), "share_mean": float(np.mean([r.share for r in rs])),
                   "carry": pooled_carry(rs)} for name, rs in groups.items()}


def summarize(results: list[MoveResult], size: int) -> dict:
    """Aggregate moves: mean/median share, pooled share, mean area, change outside per pixel, carry."""
    moving = [r for r in results if r.total_change > 0]
    if not moving:
        return {"moves": len(results), "moves_with_change": 0}
    shares = np.array([r.share for r in moving])
    areas = np.array([r.area for r in moving])
    outside = np.array([(r.total_change - r.inside_change) / max(1.0, (1 - r.area) * size * size) / 3
                        for r in moving])
    inside = np.array([r.inside_change / max(1.0, r.area * size * size) / 3 for r in moving])
    return {
        "moves": len(results),
        "moves_with_change": len(moving),
        "share_mean": float(shares.mean()),
        "share_median": float(np.median(shares)),
        "share_pooled": float(sum(r.inside_change for r in moving) / sum(r.total_change for r in moving)),
        "area_mean": float(areas.mean()),
        "change_inside_per_channel": float(inside.mean()),
        "change_outside_per_channel": float(outside.mean()),
        "carry": pooled_carry(moving),
    }
