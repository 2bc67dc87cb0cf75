"""Blob jitter: the training-time layout augmentation of the official ``jitter`` experiment.

Official semantics (``BlobGAN.splat_features``, settings xy 0.04, shift 0.5, angle 0.1) and ours:

- xy: xs and ys each get independent U(-xy, xy) noise. Same here.
- size ("shift"): the size logits of the blobs, sizes[:, 1:], get U(-size, size) before the scores
  are computed. The official returned layout keeps the un-jittered sizes; here the jittered sizes are
  what the generator sees, which renders the same image.
- angle: the official code perturbs the raw unit direction u of each covariance with
  theta = arccos(u_x) + U(-angle, angle) and rebuilds u from theta, passing gradients straight
  through to the un-jittered u. Because arccos drops the sign of u_y, a blob whose direction has
  u_y > 0 is also mirrored about the x axis (its tilt flips sign), not just nudged. We work on the
  processed covariance, which no longer knows the sign of u, and apply the rotation the setting
  describes: Sigma <- R(d) Sigma R(d)^T with d ~ U(-angle, angle); gradients flow through R Sigma R^T.

The three noises are drawn fresh for every call (the official code jitters both the G and the D step).
"""

from __future__ import annotations

import torch

from blobgan_core.layout import Layout


def _uniform(shape, bound: float, like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    u = torch.rand(shape, generator=generator, device=like.device if generator is None else generator.device)
    return ((u * 2 - 1) * bound).to(device=like.device, dtype=like.dtype)


def jitter_layout(layout: Layout,
                  xy: float = 0.04,       # max shift of blob centres, normalized image units
                  size: float = 0.5,      # max change of the blob size logits
                  angle: float = 0.1,     # max rotation of the blob ellipses, radians
                  generator: torch.Generator | None = None) -> Layout:
    """A randomly perturbed copy of a processed layout (differentiable w.r.t. the layout).

    layout.xs, ys: [N,K]; sizes: [N,K+1] (only 1..K change; index 0 is the background);
    covs: [N,K,2,2]. features and spatial_style pass through unchanged. A zero setting is skipped.
    """
    for name, value in (("xy", xy), ("size", size), ("angle", angle)):
        if value < 0:
            raise ValueError(f"jitter_layout: {name} must be >= 0, got {value}")
    n, k = layout.xs.shape
    xs, ys, sizes, covs = layout.xs, layout.ys, layout.sizes, layout.covs
    if xy > 0:
        xs = xs + _uniform((n, k), xy, xs, generator)
        ys = ys + _uniform((n, k), xy, ys, generator)
    if size > 0:
        shift = _uniform((n, k), size, sizes, generator)
        sizes = torch.cat([sizes[:, :1], sizes[:, 1:] + shift], dim=1)
    if angle > 0:
        d = _uniform((n, k), angle, covs, generator)
        c, s = torch.cos(d), torch.sin(d)
        rot = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)   # [N,K,2,2]
        covs = rot @ covs @ rot.transpose(-1, -2)
    return layout.replace(xs=xs, ys=ys, sizes=sizes, covs=covs)
