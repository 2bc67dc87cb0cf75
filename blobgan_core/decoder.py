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
from .layers import SQRT2, EqualLinear, blur, fused_leaky_relu, upsample2x, upsample2x_ref
from .layout import Layout
from .splat import alpha_pyramid, layout_alphas, splat


class SpatialModulatedConv(nn.Module):
    """Convolution whose input is multiplied by a per-pixel modulation map.

    The map is the alpha-weighted sum of each blob's style passed through ``modulation``. Demodulated
    layers RMS-normalize that map over channels at each pixel and normalize the weights per output
    channel, which replaces StyleGAN2's style-dependent demodulation (the style varies per pixel).
    ``upsample`` layers are a stride-2 transposed conv followed by a 4x4 FIR blur.
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

    def effective_weight(self) -> torch.Tensor:
        """Scaled (and, for demodulated layers, unit-norm per output channel) weight [C_out,C_in,k,k]."""
        w = self.weight[0] * self.scale
        if self.demodulate:
            w = w * torch.rsqrt(w.pow(2).sum([1, 2, 3], keepdim=True) + 1e-8)
        return w

    # -- reference path: the formulas as written in the paper and the official code ------------------

    def style_map_ref(self, alpha: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """Per-pixel modulation [N,C_in,H,W] from alphas [N,K+1,H,W] and blob styles [N,K+1,d_style]."""
        m = splat(alpha, self.modulation(style))
        if self.demodulate:
            m = m * torch.rsqrt(m.pow(2).mean(1, keepdim=True) + 1e-8)
        return m

    def forward_ref(self, x: torch.Tensor, alpha: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        x = x * self.style_map_ref(alpha, style)
        w = self.effective_weight()
        if self.upsample:
            out = F.conv_transpose2d(x, w.transpose(0, 1), stride=2)  # side 2H+1
            return blur(out, pad=(1, 1), gain=4.0)                     # side 2H
        return F.conv2d(x, w, padding=self.padding)

    # -- fast path: the same maths arranged for speed ---------------------------------------------------

    def style_map(self, alpha_hw: torch.Tensor, style: torch.Tensor, size: int) -> torch.Tensor:
        """Modulation map as a channels_last [N,C_in,H,W] from pixel-major alphas [N,H*W,K+1].

        The per-pixel RMS over channels is mean_c M^2 = alpha^T G alpha with the (K+1)x(K+1) Gram matrix
        G = m m^T / C_in, so the normalization costs K+1 (not C_in) numbers per pixel and folds into the
        alphas before the splat.
        """
        n = alpha_hw.shape[0]
        m = self.modulation(style)                                         # [N,K+1,C_in]
        if self.demodulate:
            gram = torch.bmm(m, m.transpose(1, 2)) / m.shape[-1]           # [N,K+1,K+1]
            power = (torch.bmm(alpha_hw, gram) * alpha_hw).sum(-1, keepdim=True)  # [N,HW,1]
            alpha_hw = alpha_hw * torch.rsqrt(power + 1e-8)
        out = torch.bmm(alpha_hw, m)                                       # [N,HW,C_in]
        return out.view(n, size, size, -1).permute(0, 3, 1, 2)             # NCHW view, channels_last


class NoiseInjection(nn.Module):
    """Adds per-pixel noise scaled by one learned weight (key ``noise.weight``)."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))


class _Bias(nn.Module):
    """Holds the activation bias under the official key ``activate.bias``."""

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))


def _fresh_noise(x: torch.Tensor) -> torch.Tensor:
    return torch.randn(x.shape[0], 1, *x.shape[2:], device=x.device, dtype=x.dtype)


class StyledConv(nn.Module):
    """One synthesis layer: modulated 3x3 conv, noise, bias, and sqrt(2) * LeakyReLU_0.2."""

    def __init__(self, in_channels: int, out_channels: int, style_dim: int, upsample: bool = False):
        super().__init__()
        self.conv = SpatialModulatedConv(in_channels, out_channels, 3, style_dim, upsample=upsample)
        self.noise = NoiseInjection()
        self.activate = _Bias(out_channels)

    def forward_ref(self, x, alpha, style, noise=None):
        out = self.conv.forward_ref(x, alpha, style)
        out = out + self.noise.weight * (_fresh_noise(out) if noise is None else noise)
        return fused_leaky_relu(out, self.activate.bias)

    def forward(self, x, alpha_hw, style, noise=None):
        conv = self.conv
        # in-place ops write into tensors this layer just allocated: fresh large tensors cost page
        # faults on the CPU, and autograd needs the out-of-place forms
        inplace = not torch.is_grad_enabled()
        xm = conv.style_map(alpha_hw, style, x.shape[-1])
        xm = xm.mul_(x) if inplace else xm * x
        # sqrt(2) * lrelu(y) = lrelu(sqrt(2) * y): fold the gain into the weights, bias and noise scale
        w = conv.effective_weight() * SQRT2
        bias = self.activate.bias * SQRT2
        if conv.upsample:
            out = F.conv_transpose2d(xm, w.transpose(0, 1) * 4.0, stride=2)   # blur gain 4 folded in
            out = blur(out, pad=(1, 1))
            bias = bias.view(1, -1, 1, 1)
            out = out.add_(bias) if inplace else out + bias
        else:
            out = F.conv2d(xm, w, bias=bias, padding=conv.padding)
        noise = _fresh_noise(out) if noise is None else noise
        if inplace:
            return F.leaky_relu_(out.addcmul_(noise, self.noise.weight * SQRT2), 0.2)
        return F.leaky_relu(out.addcmul(noise, self.noise.weight * SQRT2), 0.2)


class ToRGB(nn.Module):
    """Modulated 1x1 projection to RGB (no demodulation), added to the upsampled previous RGB."""

    def __init__(self, in_channels: int, style_dim: int, channels_out: int = 3):
        super().__init__()
        self.conv = SpatialModulatedConv(in_channels, channels_out, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, channels_out, 1, 1))

    def forward_ref(self, x, alpha, style, skip=None):
        out = self.conv.forward_ref(x, alpha, style) + self.bias
        return out if skip is None else out + upsample2x_ref(skip)

    def forward(self, x, alpha_hw, style, skip=None):
        # sum_c W[o,c] x_c sum_k alpha_k m_kc = sum_k alpha_k (x . (W[o] * m_k)): one GEMM (K+1)*3 wide
        # instead of a C_in-channel modulation map, since there is no per-pixel normalization here
        n, c, h, w = x.shape
        m = self.conv.modulation(style)                                       # [N,K+1,C_in]
        weight = self.conv.effective_weight()[:, :, 0, 0]                     # [3,C_in]
        per_blob = (m[:, :, None, :] * weight[None, None]).flatten(1, 2)      # [N,(K+1)*3,C_in]
        x_hw = x.permute(0, 2, 3, 1).reshape(n, h * w, c)                    # free for channels_last
        y = torch.bmm(x_hw, per_blob.transpose(1, 2))                         # [N,HW,(K+1)*3]
        y = y.view(n, h * w, -1, weight.shape[0]).mul_(alpha_hw[..., None]).sum(2)  # [N,HW,3]
        out = y.view(n, h, w, -1).permute(0, 3, 1, 2) + self.bias
        return out if skip is None else out + upsample2x(skip)



def layer_names(config: BlobGANConfig) -> list[str]:
    """Synthesis layers in forward order, each taking one noise map: "conv1", "convs.0", ...,
    "convs.<2*n_up-1>" (the names of their checkpoint keys)."""
    return ["conv1"] + [f"convs.{i}" for i in range(2 * config.n_up)]

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

    def layer_names(self) -> list[str]:
        return layer_names(self.config)

    def for_items(self, index) -> LayoutStyleGenerator:
        """The decoder of batch items ``index``: this one renders every item."""
        return self

    def forward(
        self,
        layout: Layout,
        noise: list[torch.Tensor | None] | None = None,  # per-layer noise [1|N,1,r,r]; None = fresh
        keep: tuple[str, ...] = (),                      # layer names (see layer_names) to return too
        impl: str = "auto",                              # "fast" | "ref" (the formulas as written)
        stop_at: str | None = None,                      # return this layer's output; run nothing after
    ):
        """Render ``layout``: the image [N,3,R,R]; (image, {name: activation [N,C,r,r]}) with ``keep``;
        or only the activation of layer ``stop_at`` (DragGAN features need no later, larger layer)."""
        c = self.config
        names = self.layer_names()
        if impl not in ("auto", "fast", "ref"):
            raise ValueError(f"impl must be 'auto', 'fast' or 'ref', got {impl!r}")
        if impl == "auto":
            # The fast path's gains are CPU ones (oneDNN channels_last, fewer page faults). On an H100
            # the formulas as written were faster at every batch and dtype (docs/performance.md).
            impl = "fast" if layout.features.device.type == "cpu" else "ref"
        unknown = [n for n in (*keep, stop_at) if n is not None and n not in names]
        if unknown:
            raise ValueError(f"unknown decoder layer(s) {unknown}; allowed: {', '.join(names)}")
        if noise is None:
            noise = [None] * c.n_noise
        if len(noise) != c.n_noise:
            raise ValueError(f"noise must be a list of {c.n_noise} tensors, got {len(noise)}")
        # opacities in float32 even for half-precision models: d^2 reaches thousands, and the sigmoid's
        # edge (what blob boundaries look like) needs more than half precision's 11 bits there
        splat_dtype = torch.promote_types(layout.xs.dtype, torch.float32)
        alphas = alpha_pyramid(layout_alphas(layout.to(dtype=splat_dtype), c.resolution), c.size_in)
        alphas = {r: a.to(layout.features.dtype) for r, a in alphas.items()}
        if impl == "fast":
            # pixel-major alphas [N,H*W,K+1] feed channels_last style maps, which oneDNN convolves fastest
            alphas = {r: a.flatten(2).transpose(1, 2).contiguous() for r, a in alphas.items()}
            x = torch.bmm(alphas[c.size_in], layout.features)      # [N,r0*r0,d_in]: the structure grid
            x = x.view(x.shape[0], c.size_in, c.size_in, -1).permute(0, 3, 1, 2)
        else:
            x = splat(alphas[c.size_in], layout.features)
        style = layout.spatial_style
        convs = [self.conv1, *self.convs]
        # the RGB skip is updated after conv1 and after the second conv of every resolution
        to_rgbs = {0: self.to_rgb1, **{2 + 2 * j: m for j, m in enumerate(self.to_rgbs)}}
        kept, skip = {}, None
        for i, (name, conv) in enumerate(zip(names, convs)):
            a = alphas[x.shape[-1]]  # style maps use the alphas at each layer's input resolution
            x = conv(x, a, style, noise[i]) if impl == "fast" else conv.forward_ref(x, a, style, noise[i])
            if name == stop_at:
                return x
            if name in keep:
                kept[name] = x
            if i in to_rgbs:
                a = alphas[x.shape[-1]]
                rgb = to_rgbs[i]
                skip = rgb(x, a, style, skip) if impl == "fast" else rgb.forward_ref(x, a, style, skip)
        skip = skip.contiguous()
        return (skip, kept) if keep else skip
