"""Decoder feature maps for motion supervision and tracking, and bilinear sampling at image pixels.

The decoder only needs to run up to the chosen layer during the drag (the later, larger layers cost the
most); :func:`decoder_features` does that and equals ``model.generator(layout, noise, keep=(layer,))``.

Sampling is written as two small matrix products with "tent" interpolation weights instead of
``grid_sample``: the result is the same bilinear interpolation, but its backward pass is a matmul,
which is deterministic on every device (``grid_sample``'s CUDA backward accumulates atomically).
"""

from __future__ import annotations

import math

import torch

from ..config import BlobGANConfig
from ..decoder import layer_names
from ..generator import BlobGAN
from ..layout import Layout


def layer_resolution(config: BlobGANConfig, name: str) -> int:
    """Side in pixels of a decoder layer's output (convs.2j and convs.2j+1 are at size_in * 2^(j+1))."""
    names = layer_names(config)
    if name not in names:
        raise ValueError(f"unknown decoder layer {name!r}; allowed: {', '.join(names)}")
    if name == "conv1":
        return config.size_in
    return config.size_in * 2 ** (int(name.split(".")[1]) // 2 + 1)


def default_layer(config: BlobGANConfig) -> str:
    """The feature layer the drag uses unless told otherwise: the second conv at half the image side
    (capped at 128 px, DragGAN's choice on 256 px models). See docs/drag-points.md for the measurement."""
    target = min(config.resolution // 2, 128)
    target = max(target, config.size_in * 2)
    j = int(round(math.log2(target // config.size_in))) - 1
    return f"convs.{2 * j + 1}"


def resolve_layer(model: BlobGAN, layer: str | None = None) -> str:
    """The layer a drag on ``model`` reads: ``layer`` if given, else the model's measured ``drag_layer``
    (from its file's metadata), else :func:`default_layer`."""
    return layer or model.drag_layer or default_layer(model.config)


def decoder_features(model: BlobGAN, layout: Layout, noise: list[torch.Tensor], layer: str) -> torch.Tensor:
    """The output of decoder layer ``layer`` for ``layout``, [N,C,r,r]; runs no layer after it.

    ``noise`` is the resolved per-layer list (``model.resolve_noise``). Differentiable w.r.t. the layout.
    """
    return model.generator(layout, noise, stop_at=layer)


def tent_weights(coords_px: torch.Tensor, image_size: int, feature_size: int) -> torch.Tensor:
    """Bilinear weights [M,feature_size] of image-pixel coordinates [M] on a feature axis.

    Feature pixel j covers image pixels [j*R/r, (j+1)*R/r) (the alpha pyramid averages 2x2 blocks), so
    image pixel x sits at feature coordinate (x + 0.5) * r / R - 0.5, the same mapping as upsampling the
    map to R with ``align_corners=False``. Coordinates past the edge clamp to the border.
    """
    u = ((coords_px + 0.5) * (feature_size / image_size) - 0.5).clamp(0, feature_size - 1)
    grid = torch.arange(feature_size, device=coords_px.device, dtype=coords_px.dtype)
    return (1 - (u[:, None] - grid[None, :]).abs()).clamp_min(0)


def sample_grid(fmap: torch.Tensor, xs_px: torch.Tensor, ys_px: torch.Tensor, image_size: int) -> torch.Tensor:
    """Bilinear samples of a feature map [C,h,w] on the grid ys_px [ny] x xs_px [nx] (image pixels).

    Returns [C,ny,nx]. Gradients flow to ``fmap``.
    """
    c, h, w = fmap.shape
    wy = tent_weights(ys_px.to(fmap), image_size, h)               # [ny,h]
    wx = tent_weights(xs_px.to(fmap), image_size, w)               # [nx,w]
    # two plain GEMMs (a broadcast batched matmul over C is far slower on the CPU)
    rows = wy @ fmap.transpose(0, 1).reshape(h, c * w)              # [ny,C*w]
    out = rows.view(-1, w) @ wx.t()                                 # [ny*C,nx]
    return out.view(len(ys_px), c, len(xs_px)).transpose(0, 1)


def sample_points(fmap: torch.Tensor, points_px: torch.Tensor, image_size: int) -> torch.Tensor:
    """Bilinear samples of a feature map [C,h,w] at points [P,2] (x, y in image pixels) -> [P,C]."""
    c, h, w = fmap.shape
    wy = tent_weights(points_px[:, 1].to(fmap), image_size, h)     # [P,h]
    wx = tent_weights(points_px[:, 0].to(fmap), image_size, w)     # [P,w]
    weights = (wy[:, :, None] * wx[:, None, :]).reshape(-1, h * w)  # [P,h*w]
    return weights @ fmap.reshape(c, h * w).t()
