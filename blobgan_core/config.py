"""Hyperparameters of a BlobGAN generator (layout network + decoder).

One frozen dataclass describes every configuration the official code can build. It is filled from
an official Lightning checkpoint's ``hyper_parameters`` (falling back to tensor shapes), or from the
metadata of our ``.safetensors`` files.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class BlobGANConfig:
    resolution: int = 256          # output side R (a power of two, > size_in)
    size_in: int = 16              # side r0 of the splatted feature grid the decoder starts from
    c_model: int = 96              # channel base of the decoder
    channel_multiplier: int = 2    # StyleGAN2 channel multiplier for resolutions >= 64
    n_blobs: int = 10              # K, blobs per scene (the background is extra)
    d_in: int = 768                # structure feature size (decoder input channels)
    d_style: int = 512             # style feature size
    noise_dim: int = 512           # z size
    mlp_width: int = 1024          # hidden width of the layout MLP
    mlp_depth: int = 8             # linear layers in the layout MLP (the last one has no activation)
    mlp_lr_mul: float = 0.01       # equalized-lr multiplier of the layout MLP
    ab_norm: float = 0.02          # covariance scale: det(cov) = ab_norm**2
    palette: str = "bed_conf"      # blob-map colours: "bed_conf" or "kld"

    def __post_init__(self):
        problems = []
        r, r0 = self.resolution, self.size_in
        if r0 < 4 or r0 & (r0 - 1):
            problems.append(f"size_in must be a power of two >= 4, got {r0}")
        if r <= r0 or r & (r - 1):
            problems.append(f"resolution must be a power of two larger than size_in ({r0}), got {r}")
        for name in ("c_model", "channel_multiplier", "n_blobs", "d_in", "d_style", "noise_dim",
                     "mlp_width"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.mlp_depth < 1:
            problems.append(f"mlp_depth must be >= 1, got {self.mlp_depth}")
        if not self.ab_norm > 0:
            problems.append(f"ab_norm must be > 0, got {self.ab_norm}")
        if self.palette not in ("bed_conf", "kld"):
            problems.append(f"palette must be 'bed_conf' or 'kld', got {self.palette!r}")
        if problems:
            raise ValueError("invalid BlobGAN configuration: " + "; ".join(problems))

    # -- derived sizes -------------------------------------------------------------------------

    def channels(self, res: int) -> int:
        """Decoder channels C(res) at a feature resolution, as StyleGAN2 assigns them."""
        c, cm = self.c_model, self.channel_multiplier
        table = {4: 8 * c, 8: 8 * c, 16: 8 * c, 32: 8 * c, 64: 4 * c * cm, 128: 2 * c * cm,
                 256: c * cm, 512: c * cm // 2, 1024: c * cm // 4}
        if res not in table:
            raise ValueError(f"no channel count for resolution {res}; allowed: {sorted(table)}")
        return int(table[res])

    @property
    def n_up(self) -> int:
        """Number of 2x upsampling stages from size_in to resolution."""
        return int(round(math.log2(self.resolution // self.size_in)))

    @property
    def layout_dim(self) -> int:
        """Length D_out of the raw layout vector the last MLP layer produces."""
        per_blob = self.d_in + self.d_style + 7
        return self.n_blobs * per_blob + self.d_in + self.d_style + 1

    @property
    def n_noise(self) -> int:
        """Number of per-layer noise maps (one for conv1, two per upsampling stage)."""
        return 1 + 2 * self.n_up

    def noise_shapes(self) -> list[tuple[int, int, int, int]]:
        """Shapes [1,1,r,r] of the per-layer noise maps, in the official order."""
        sides = [self.size_in * 2 ** ((i + 1) // 2) for i in range(self.n_noise)]
        return [(1, 1, r, r) for r in sides]

    # -- serialization ---------------------------------------------------------------------------

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> BlobGANConfig:
        """Build from a dict, refusing unknown keys by name (a typo must not silently fall back)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown BlobGAN config keys {unknown}; allowed: {sorted(names)}")
        return cls(**d)

    @classmethod
    def from_json(cls, s: str) -> BlobGANConfig:
        return cls.from_dict(json.loads(s))
