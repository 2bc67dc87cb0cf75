"""Our BlobGANConfig written as the official checkpoint's ``hyper_parameters`` (official field names),
for building the official generator beside ours in benchmarks."""

from __future__ import annotations

from blobgan_core.config import BlobGANConfig


def official_hparams(c: BlobGANConfig) -> dict:
    return {
        "generator": {"name": "models.networks.layoutstylegan.LayoutStyleGANGenerator", "style_dim": c.d_style,
                      "n_mlp": 8, "spatial_style": True, "size": c.resolution,
                      "channel_multiplier": c.channel_multiplier, "size_in": c.size_in, "c_model": c.c_model,
                      "override_c_in": c.d_in},
        "layout_net": {"name": "models.networks.layoutnet.LayoutGenerator", "n_features_max": c.n_blobs,
                       "style_dim": c.d_style, "noise_dim": c.noise_dim, "norm_features": True,
                       "mlp_lr_mul": c.mlp_lr_mul, "spatial_style": True, "feature_dim": c.d_in,
                       "mlp_hidden_dim": c.mlp_width, "mlp_n_layers": c.mlp_depth},
        "discriminator": {"name": "StyleGANDiscriminator", "size": c.resolution},
        "dim": c.d_style, "noise_dim": c.noise_dim, "resolution": c.resolution,
        "n_features_min": c.n_blobs, "n_features_max": c.n_blobs, "spatial_style": True, "ab_norm": c.ab_norm,
        "feature_jitter_xy": 0.04, "feature_jitter_shift": 0.5, "feature_jitter_angle": 0.1,
    }
