"""Decoder G: a StyleGAN2 synthesis network whose every layer is modulated per pixel by the splatted
blob styles (paper Sec. 3.3, official ``LayoutStyleGANGenerator`` with spatial style).

Module and parameter names follow the official checkpoint (``conv1``, ``to_rgb1``, ``convs.<i>``,
``to_rgbs.<j>``), so its ``generator_ema.*`` weights load without remapping.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import BlobGANConfig
from .layers import EqualLinear, blur, fused_leaky_relu, upsample2x
from .layout import Layout
from .splat import alpha_pyramid, layout_alphas, splat


class SpatialModulatedConv(nn.Module):
    """Convolution whose input is multiplied by a per-pixel modulation map.

    The map is the alpha-weighted sum of each blob's style passed through ``modulation``. Demodulated
    layers RMS-normalize that map over channels at each pixel and normalize the weights per output
    channel, which replaces StyleGAN2's style-dependent demodulation (the style varies per pixel).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        style_dim: int,
        demodulate: bool = True,   # False for toRGB
        upsample: bool = False,    # 2x transposed conv followed by an FIR blur
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(1, out_channels, in_channels, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, in_channels, bias_init=1.0)
        self.scale = 1 / math.sqrt(in_channels * kernel_size ** 2)
        self.demodulate = demodulate
        self.upsample = upsample
        self.padding = kernel_size // 2

    def style_map(self, alpha: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """Per-pixel modulation [N,C_in,H,W] from alphas [N,K+1,H,W] and blob styles [N,K+1,d_style]."""
        m = splat(alpha, self.modulation(style))
        if self.demodulate:
            m = m * torch.rsqrt(m.pow(2).mean(1, keepdim=True) + 1e-8)
        return m

    def effective_weight(self) -> torch.Tensor:
        """Scaled (and, for demodulated layers, unit-norm per output channel) weight [C_out,C_in,k,k]."""
        w = self.weight[0] * self.scale
        if self.demodulate:
            w = w * torch.rsqrt(w.pow(2).sum([1, 2, 3], keepdim=True) + 1e-8)
        return w

    def forward(self, x: torch.Tensor, alpha: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        x = x * self.style_map(alpha, style)
        w = self.effective_weight().to(x.dtype)
        if self.upsample:
            out = F.conv_transpose2d(x, w.transpose(0, 1), stride=2)  # side 2H+1
            return blur(out, pad=(1, 1), gain=4.0)                     # side 2H
        return F.conv2d(x, w, padding=self.padding)


class NoiseInjection(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        if noise is None:
            noise = x.new_empty(x.shape[0], 1, *x.shape[2:]).normal_()
        return x + self.weight.to(x.dtype) * noise.to(x.dtype)


class StyledConv(nn.Module):
    """Modulated 3x3 conv, noise, bias and leaky ReLU: one synthesis layer."""

    def __init__(self, in_channels: int, out_channels: int, style_dim: int, upsample: bool = False):
        super().__init__()
        self.conv = SpatialModulatedConv(in_channels, out_channels, 3, style_dim, upsample=upsample)
        self.noise = NoiseInjection()
        self.activate = _Bias(out_channels)

    def forward(self, x, alpha, style, noise=None):
        out = self.noise(self.conv(x, alpha, style), noise)
        return fused_leaky_relu(out, self.activate.bias.to(out.dtype))


class _Bias(nn.Module):
    """Holds the activation bias under the official key ``activate.bias``."""

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))


class ToRGB(nn.Module):
    """Modulated 1x1 projection to RGB (no demodulation), added to the upsampled previous RGB."""

    def __init__(self, in_channels: int, style_dim: int, channels_out: int = 3):
        super().__init__()
        self.conv = SpatialModulatedConv(in_channels, channels_out, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, channels_out, 1, 1))

    def forward(self, x, alpha, style, skip=None):
        out = self.conv(x, alpha, style) + self.bias.to(x.dtype)
        if skip is not None:
            out = out + upsample2x(skip)
        return out


class LayoutStyleGenerator(nn.Module):
    """Splat a layout and decode it: [Layout] -> image [N,3,R,R] on the official scale (~[-1,1])."""

    def __init__(self, config: BlobGANConfig):
        super().__init__()
        self.config = c = config
        r0, d_s = c.size_in, c.d_style
        self.conv1 = StyledConv(c.d_in, c.channels(r0), d_s)
        self.to_rgb1 = ToRGB(c.channels(r0), d_s)
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        for j in range(c.n_up):
            c_in, c_out = c.channels(r0 * 2 ** j), c.channels(r0 * 2 ** (j + 1))
            self.convs.append(StyledConv(c_in, c_out, d_s, upsample=True))
            self.convs.append(StyledConv(c_out, c_out, d_s))
            self.to_rgbs.append(ToRGB(c_out, d_s))

    def forward(
        self,
        layout: Layout,
        noise: list[torch.Tensor | None] | None = None,  # per-layer noise [1|N,1,r,r]; None = fresh
        keep: tuple[str, ...] = (),                      # layer names whose outputs to return
    ):
        """Render ``layout``. Returns the image [N,3,R,R], or (image, {name: activation}) if ``keep``."""
        c = self.config
        if noise is None:
            noise = [None] * c.n_noise
        if len(noise) != c.n_noise:
            raise ValueError(f"noise must be a list of {c.n_noise} tensors, got {len(noise)}")
        alphas = alpha_pyramid(layout_alphas(layout, c.resolution), c.size_in)
        style = layout.spatial_style
        kept = {}

        # the decoder input is the structure-feature grid at r0
        x = splat(alphas[c.size_in], layout.features)
        x = self.conv1(x, alphas[c.size_in], style, noise[0])
        if "conv1" in keep:
            kept["conv1"] = x
        skip = self.to_rgb1(x, alphas[c.size_in], style)
        for j, to_rgb in enumerate(self.to_rgbs):
            up, same = self.convs[2 * j], self.convs[2 * j + 1]
            # style maps use the alphas at each layer's input resolution
            x = up(x, alphas[x.shape[-1]], style, noise[1 + 2 * j])
            if f"convs.{2 * j}" in keep:
                kept[f"convs.{2 * j}"] = x
            x = same(x, alphas[x.shape[-1]], style, noise[2 + 2 * j])
            if f"convs.{2 * j + 1}" in keep:
                kept[f"convs.{2 * j + 1}"] = x
            skip = to_rgb(x, alphas[x.shape[-1]], style, skip)
        return (skip, kept) if keep else skip
