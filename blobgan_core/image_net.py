"""The StyleGAN2 residual image network (Karras et al. 2020, "resnet" D, through rosinality's port):
image [N,3,R,R] -> a vector. BlobGAN's discriminator (1 output) and its inverter (the raw layout
vector) are this network with different heads, so both live here once.

A 1x1 "fromRGB" conv, one residual block per halving of the resolution down to 4x4, [minibatch standard
deviation,] a 3x3 conv and two equalized-lr linear layers. All convs and linears use equalized learning
rate (weights ~ N(0,1), scaled by 1/sqrt(fan_in) at run time); activations are the "fused" leaky ReLU
sqrt(2) * leaky_relu(x + b, 0.2); downsampling blurs with the [1,3,3,1] binomial kernel before a
stride-2 conv. Widths are ``min(channel_base // res, max_channels)``; the official networks use
``channel_base = 16384 * channel_multiplier, max_channels = 256 * channel_multiplier``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .layers import EqualLinear, blur, fused_leaky_relu


class BiasLeakyReLU(nn.Module):
    """Learned per-channel bias followed by the fused leaky ReLU."""

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fused_leaky_relu(x, self.bias)


class EqualConv2d(nn.Module):
    """Conv with equalized learning rate: weight [out,in,k,k] ~ N(0,1) times 1/sqrt(in*k*k)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 stride: int = 1,          # 2 for the downsampling convs
                 padding: int = 0,
                 bias: bool = True):       # False when a fused activation adds the bias instead
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.scale = 1.0 / math.sqrt(in_channels * kernel_size ** 2)
        self.stride = stride
        self.padding = padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, stride=self.stride, padding=self.padding)


class ConvLayer(nn.Module):
    """[blur ->] equalized conv [-> fused leaky ReLU]; ``downsample`` halves H and W."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 downsample: bool = False,
                 activate: bool = True,    # fused leaky ReLU with its own bias
                 bias: bool = True):       # only read when activate is False
        super().__init__()
        if downsample:
            # Pad so that blur + stride-2 conv maps H to H/2 exactly (4-tap kernel, k-tap conv).
            p = (4 - 2) + (kernel_size - 1)
            self.blur_pad = ((p + 1) // 2, p // 2)
            self.conv = EqualConv2d(in_channels, out_channels, kernel_size, stride=2, padding=0,
                                    bias=bias and not activate)
        else:
            self.blur_pad = None
            self.conv = EqualConv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2,
                                    bias=bias and not activate)
        self.act = BiasLeakyReLU(out_channels) if activate else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.blur_pad is not None:
            x = blur(x, self.blur_pad)
        x = self.conv(x)
        return self.act(x) if self.act is not None else x


class ResBlock(nn.Module):
    """Two 3x3 convs (the second downsamples) plus a blurred 1x1 stride-2 skip; sum / sqrt(2)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv1 = ConvLayer(in_channels, in_channels, 3)
        self.conv2 = ConvLayer(in_channels, out_channels, 3, downsample=True)
        self.skip = ConvLayer(in_channels, out_channels, 1, downsample=True, activate=False, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.conv2(self.conv1(x)) + self.skip(x)) / math.sqrt(2.0)


def minibatch_stddev(x: torch.Tensor, group_size: int = 4) -> torch.Tensor:
    """Append one channel holding the feature std-dev across a group of samples.

    x: [N,C,H,W] -> [N,C+1,H,W]. The group is the largest divisor of N that is <= group_size
    (the official code needs N divisible by min(N, 4); this also accepts e.g. N = 6).
    Sample i belongs to group i % (N // G), as in the official layout of the view.
    """
    n, c, h, w = x.shape
    g = max(d for d in range(1, min(n, group_size) + 1) if n % d == 0)
    y = x.view(g, n // g, c, h, w)
    y = torch.sqrt(y.var(0, unbiased=False) + 1e-8)      # [N/G,C,H,W]
    y = y.mean(dim=(1, 2, 3), keepdim=True)              # [N/G,1,1,1]
    y = y.repeat(g, 1, h, w)                             # [N,1,H,W]
    return torch.cat([x, y], dim=1)


class ResidualImageNet(nn.Module):
    """Image [N,C,R,R] in [-1,1] -> [N, out_dim]. Channels at feature resolution ``res`` are
    ``min(channel_base // res, max_channels)`` (at least 1)."""

    def __init__(self,
                 resolution: int,               # R, a power of two >= 4
                 out_dim: int,                  # length of the output vector
                 channel_base: int = 32768,     # width numerator: C(res) = channel_base // res
                 max_channels: int = 512,       # cap on C(res)
                 stddev_group: int = 0,         # minibatch-stddev group size (0 = no stddev layer)
                 in_channels: int = 3):
        super().__init__()
        if resolution < 4 or resolution & (resolution - 1):
            raise ValueError(f"image network resolution must be a power of two >= 4, got {resolution}")
        if channel_base < 1 or max_channels < 1:
            raise ValueError(f"image network channel_base and max_channels must be >= 1, "
                             f"got {channel_base} and {max_channels}")
        self.resolution = resolution
        self.channel_base = channel_base
        self.max_channels = max_channels
        self.stddev_group = stddev_group

        self.from_rgb = ConvLayer(in_channels, self.channels(resolution), 1)
        blocks = []
        res = resolution
        while res > 4:
            blocks.append(ResBlock(self.channels(res), self.channels(res // 2)))
            res //= 2
        self.blocks = nn.Sequential(*blocks)
        c4 = self.channels(4)
        self.final_conv = ConvLayer(c4 + (1 if stddev_group > 0 else 0), c4, 3)
        self.final_linear = EqualLinear(c4 * 4 * 4, c4, activate=True)
        self.out = EqualLinear(c4, out_dim)

    def channels(self, res: int) -> int:
        return max(1, min(self.channel_base // res, self.max_channels))

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        """img: [N,C,R,R] -> [N, out_dim]."""
        if img.dim() != 4 or img.shape[-1] != self.resolution or img.shape[-2] != self.resolution:
            raise ValueError(f"{type(self).__name__} expects images [N,C,{self.resolution},{self.resolution}], "
                             f"got {list(img.shape)}")
        x = self.blocks(self.from_rgb(img))                 # [N,C4,4,4]
        if self.stddev_group > 0:
            x = minibatch_stddev(x, self.stddev_group)      # [N,C4+1,4,4]
        x = self.final_conv(x)                              # [N,C4,4,4]
        x = self.final_linear(x.flatten(1))                 # [N,C4]
        return self.out(x)
