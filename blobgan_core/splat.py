"""Splatting: blobs -> opacity maps -> depth-composited alphas -> alpha pyramid -> feature grids
(paper Sec. 3.2, official ``splat_features``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .layout import Layout


def blob_opacities(layout: Layout, size: int) -> torch.Tensor:
    """Raw opacity o_k(p) = sigmoid(s_k - d_k(p)^2) of each blob on a size x size grid.

    Pixel (row r, col c) sits at p = (c/size, r/size): no half-pixel offset, as in the official code.
    Returns [N,K,size,size].
    """
    # offsets are formed in pixels and then divided, in the official order of operations
    grid = torch.arange(size, device=layout.device, dtype=layout.xs.dtype)
    dx = (grid.view(1, 1, 1, size) - layout.xs[..., None, None] * size) / size  # [N,K,1,S] along columns
    dy = (grid.view(1, 1, size, 1) - layout.ys[..., None, None] * size) / size  # [N,K,S,1] along rows
    cov = layout.covs
    a, b, c = cov[..., 0, 0], cov[..., 0, 1], cov[..., 1, 1]
    det = a * c - b * b
    # closed-form inverse of the symmetric 2x2 covariance: d^2 = (c dx^2 - 2 b dx dy + a dy^2) / det
    ia, ib, ic = (c / det)[..., None, None], (-b / det)[..., None, None], (a / det)[..., None, None]
    d2 = ia * dx * dx + 2 * ib * dx * dy + ic * dy * dy
    return torch.sigmoid(layout.sizes[:, 1:, None, None] - d2)


def composite(opacities: torch.Tensor) -> torch.Tensor:
    """Depth-ordered alphas from blob opacities [N,K,S,S] -> [N,K+1,S,S] (index 0 = background).

    alpha_k = o_k * prod_{j>k} (1 - o_j) with o_0 = 1: later blobs occlude earlier ones, and the alphas
    sum to one at every pixel.
    """
    ones = torch.ones_like(opacities[:, :1])
    o = torch.cat([ones, opacities], 1)                                  # [N,K+1,S,S]
    # entry k of the reversed cumulative product is prod_{j>k} (1 - o_j): what lies in front of k
    in_front = torch.cat([1 - opacities, ones], 1).flip(1).cumprod(1).flip(1)
    return o * in_front


def alpha_pyramid(alpha: torch.Tensor, min_size: int) -> dict[int, torch.Tensor]:
    """{side: alphas} from the full-resolution alphas down to ``min_size`` by 2x2 averaging.

    An exact 2x bilinear downsample (align_corners=False) is a 2x2 average, so this matches the
    official pyramid bit for bit. alpha: [N,K+1,S,S].
    """
    pyramid = {alpha.shape[-1]: alpha}
    while alpha.shape[-1] > min_size:
        alpha = F.avg_pool2d(alpha, 2)
        pyramid[alpha.shape[-1]] = alpha
    return pyramid


def splat(alpha: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
    """Alpha-weighted sum of per-blob vectors: [N,K+1,H,W] x [N,K+1,C] -> [N,C,H,W]."""
    n, k1, h, w = alpha.shape
    out = torch.bmm(vectors.transpose(1, 2), alpha.reshape(n, k1, h * w))  # [N,C,H*W]
    return out.view(n, -1, h, w)


def layout_alphas(layout: Layout, size: int) -> torch.Tensor:
    """Composited alphas [N,K+1,size,size] of a layout."""
    return composite(blob_opacities(layout, size))
