"""Building blocks shared by the layout network, the decoder and the discriminator.

Pure PyTorch equivalents of StyleGAN2's equalized-learning-rate layers and its two custom ops
(fused bias + leaky ReLU, FIR up/down-sampling); nothing is compiled.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

SQRT2 = math.sqrt(2.0)


def assert_shape(name: str, t: torch.Tensor, shape: list) -> None:
    """Raise a readable error unless ``t`` matches ``shape`` (None = any size)."""
    if t.dim() != len(shape) or any(s is not None and s != d for s, d in zip(shape, t.shape)):
        want = "[" + ",".join("*" if s is None else str(s) for s in shape) + "]"
        raise ValueError(f"{name} must have shape {want}, got {list(t.shape)}")


def pixel_norm(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Normalize vectors along the last dim to unit RMS. BlobGAN uses eps = 1e-5, not 1e-8."""
    return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps)


def fused_leaky_relu(x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """sqrt(2) * LeakyReLU_0.2(x + bias), bias broadcast over dim 1 (channels)."""
    shape = [1, -1] + [1] * (x.dim() - 2)
    return F.leaky_relu(x + bias.view(shape), 0.2) * SQRT2


class PixelNorm(nn.Module):
    def forward(self, x):
        return pixel_norm(x)


class EqualLinear(nn.Module):
    """Linear layer with equalized learning rate: weights are stored as N(0, 1/lr_mul^2) and scaled at
    run time, so Adam sees the same effective step size for every layer."""

    def __init__(
        self,
        in_dim: int,             # input features
        out_dim: int,            # output features
        lr_mul: float = 1.0,     # learning-rate multiplier on weight and bias
        bias_init: float = 0.0,  # initial bias, in output units (divided by lr_mul when stored)
        activate: bool = False,  # fused bias + leaky ReLU * sqrt(2) after the product
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init) / lr_mul))
        self.scale = lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul
        self.activate = activate

    def effective_weight(self) -> torch.Tensor:
        """The weight the product uses, [out_dim, in_dim]."""
        return self.weight * self.scale

    def effective_bias(self) -> torch.Tensor:
        """The bias the layer adds, [out_dim]."""
        return self.bias * self.lr_mul

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.activate:
            return fused_leaky_relu(F.linear(x, self.effective_weight()), self.effective_bias())
        return F.linear(x, self.effective_weight(), self.effective_bias())

    def extra_repr(self) -> str:
        return f"{self.weight.shape[1]} -> {self.weight.shape[0]}, lr_mul={self.lr_mul}, activate={self.activate}"


# -- FIR filtering ----------------------------------------------------------------------------------

BINOMIAL_1D = (1.0, 3.0, 3.0, 1.0)


def fir_kernel_2d(gain: float = 1.0) -> torch.Tensor:
    """The normalized 4x4 binomial kernel times ``gain`` (gain 4 for 2x upsampling), [4,4]."""
    k = torch.tensor(BINOMIAL_1D, dtype=torch.float64)
    k2 = torch.outer(k, k)
    return (k2 / k2.sum() * gain).float()


def blur(x: torch.Tensor, pad: tuple[int, int], gain: float = 1.0) -> torch.Tensor:
    """FIR filter [N,C,H,W] with the binomial kernel * gain after padding (pad0, pad1) on each axis.

    Matches upfirdn2d(x, kernel, up=1, down=1, pad=(pad0, pad1)); the kernel is symmetric, so
    correlation and convolution agree. Output side: H + pad0 + pad1 - 3.
    """
    c = x.shape[1]
    k = fir_kernel_2d(gain).to(device=x.device, dtype=x.dtype).expand(c, 1, 4, 4)
    if pad[0] == pad[1]:
        return F.conv2d(x, k, groups=c, padding=pad[0])  # no padded copy of a large tensor
    return F.conv2d(F.pad(x, (pad[0], pad[1], pad[0], pad[1])), k, groups=c)


def upsample2x(x: torch.Tensor) -> torch.Tensor:
    """2x FIR upsampling [N,C,H,W] -> [N,C,2H,2W], as upfirdn2d(up=2, pad=(2, 1)) with the binomial
    kernel * 4: zero insertion, padding and filtering are exactly a depthwise stride-2 transposed conv
    with padding 1 (the kernel is symmetric), which avoids materializing the zero-filled image."""
    c = x.shape[1]
    k = fir_kernel_2d(4.0).to(device=x.device, dtype=x.dtype).expand(c, 1, 4, 4)
    return F.conv_transpose2d(x, k, stride=2, padding=1, groups=c)


def upsample2x_ref(x: torch.Tensor) -> torch.Tensor:
    """The same upsampling written as its definition (zero insertion, pad (2, 1), FIR filter)."""
    n, c, h, w = x.shape
    up = x.new_zeros(n, c, h, 2, w, 2)
    up[:, :, :, 0, :, 0] = x
    return blur(up.view(n, c, 2 * h, 2 * w), pad=(2, 1), gain=4.0)
