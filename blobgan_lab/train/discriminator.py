"""BlobGAN's discriminator: the StyleGAN2 residual image network (``blobgan_core.image_net``) with one
output and a minibatch-stddev layer, as BlobGAN trains with it."""

from __future__ import annotations

from blobgan_core.image_net import ResidualImageNet, minibatch_stddev

__all__ = ["Discriminator", "minibatch_stddev"]


class Discriminator(ResidualImageNet):
    """Image [N,3,R,R] in [-1,1] -> logits [N,1] (real > 0)."""

    def __init__(self,
                 resolution: int,               # R, a power of two >= 4
                 channel_base: int = 32768,     # width numerator: C(res) = channel_base // res
                 max_channels: int = 512,       # cap on C(res)
                 stddev_group: int = 4,         # minibatch-stddev group size (0 = no stddev layer)
                 in_channels: int = 3):
        super().__init__(resolution, 1, channel_base, max_channels, stddev_group, in_channels)

    @classmethod
    def official(cls, resolution: int, channel_multiplier: int = 2) -> Discriminator:
        """The width table of the official BlobGAN / StyleGAN2 discriminator."""
        return cls(resolution, channel_base=16384 * channel_multiplier, max_channels=256 * channel_multiplier)
