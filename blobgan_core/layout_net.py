"""Layout network F: noise z -> K blobs plus a background (paper Sec. 3.1, official ``LayoutGenerator``)."""

from __future__ import annotations

import torch
from torch import nn

from .config import BlobGANConfig
from .layers import EqualLinear, PixelNorm, assert_shape, pixel_norm
from .layout import Layout, covs_from_raw


class LayoutNetwork(nn.Module):
    """An MLP (pixel norm, then ``mlp_depth`` equalized linear layers) whose raw output vector is cut
    into blob parameters. ``mlp.<i>`` names match the official checkpoint keys."""

    def __init__(self, config: BlobGANConfig):
        super().__init__()
        self.config = config
        c = config
        layers: list[nn.Module] = [PixelNorm()]
        dims = [c.noise_dim] + [c.mlp_width] * (c.mlp_depth - 1) + [c.layout_dim]
        for i in range(c.mlp_depth):
            last = i == c.mlp_depth - 1
            layers.append(EqualLinear(dims[i], dims[i + 1], lr_mul=c.mlp_lr_mul, activate=not last))
        self.mlp = nn.Sequential(*layers)

    def hidden(
        self,
        z: torch.Tensor,                          # [N, noise_dim]
        truncation: float | torch.Tensor = 0.0,   # 0 = none, 1 = the mean latent; or one per sample [N,1]
        mean_latent: torch.Tensor | None = None,  # [mlp_width], needed when truncation > 0
    ) -> torch.Tensor:
        """The last hidden activation h: [N, mlp_width] (the space truncation works in), pulled toward
        ``mean_latent`` by ``truncation``."""
        assert_shape("z", z, [None, self.config.noise_dim])
        h = self.mlp[:-1](z)
        if isinstance(truncation, torch.Tensor) or truncation:
            if mean_latent is None:
                raise ValueError("truncation > 0 needs a mean latent")
            h = truncation * mean_latent.reshape(1, -1) + (1 - truncation) * h
        return h

    def forward(
        self,
        z: torch.Tensor,                          # [N, noise_dim]
        truncation: float | torch.Tensor = 0.0,   # 0 = none, 1 = the mean latent; or one per sample [N,1]
        mean_latent: torch.Tensor | None = None,  # [mlp_width], needed when truncation > 0
    ) -> Layout:
        return self.decode(self.mlp[-1](self.hidden(z, truncation, mean_latent)))

    def decode(self, out: torch.Tensor) -> Layout:
        """Slice the raw layout vector [N, layout_dim] into a :class:`Layout`."""
        c = self.config
        k = c.n_blobs
        sizes, bg_feat, bg_style, blobs = out.split(
            [k + 1, c.d_in, c.d_style, k * (6 + c.d_in + c.d_style)], dim=1)
        blobs = blobs.reshape(out.shape[0], k, 6 + c.d_in + c.d_style)  # blob-major [N,K,6+d_in+d_s]
        xy = blobs[..., :2].sigmoid()
        features = torch.cat([bg_feat[:, None], blobs[..., 6:6 + c.d_in]], 1)
        style = torch.cat([bg_style[:, None], blobs[..., 6 + c.d_in:]], 1)
        return Layout(
            xs=xy[..., 0],
            ys=xy[..., 1],
            sizes=sizes,
            covs=covs_from_raw(blobs[..., 2:6], c.ab_norm),
            features=pixel_norm(features),
            spatial_style=pixel_norm(style),
        )
