"""Training options, named presets, and the checks run before the first step.

A run is described by two frozen dataclasses: the model's :class:`~blobgan_core.config.BlobGANConfig`
and :class:`TrainOptions` (everything else: data, optimizer, regularization, logging). Presets fill
both; command-line flags override single fields.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass

from blobgan_core.config import BlobGANConfig

from .ema import OFFICIAL_EMA_DECAY

# -- presets ----------------------------------------------------------------------------------------
# Model fields are BlobGANConfig fields; the rest are TrainOptions fields.

PRESETS: dict[str, dict] = {
    # Trains (slowly but visibly) on 2 CPU cores; renders a 64 px scene in a few ms.
    # The embedded default model was trained with this preset (docs/default-model.md). R1 weight 0.5
    # (gamma 1): the official 50 is tuned for 256 px, and R1's strength scales with the pixel count.
    "cpu64": {
        "model": dict(resolution=64, size_in=16, c_model=16, channel_multiplier=1, n_blobs=10,
                      d_in=64, d_style=64, noise_dim=128, mlp_width=256, mlp_depth=4),
        "train": dict(batch=8, steps=20000, r1=0.5, d_channel_base=4096, d_max_channels=64,
                      sample_every=250, ckpt_every=250, log_every=25),
    },
    # One GPU, a few hours to a day: 128 px, wider decoder and layout features.
    "gpu128": {
        "model": dict(resolution=128, size_in=16, c_model=64, channel_multiplier=2, n_blobs=10,
                      d_in=256, d_style=256, noise_dim=512, mlp_width=1024, mlp_depth=8),
        "train": dict(batch=16, steps=200000, d_channel_base=16384, d_max_channels=256,
                      sample_every=2000, ckpt_every=2000, log_every=50),
    },
    # The paper's bedroom setting (8 A100s for ~4 weeks officially; here for completeness).
    "official256": {
        "model": dict(resolution=256, size_in=16, c_model=96, channel_multiplier=2, n_blobs=10,
                      d_in=768, d_style=512, noise_dim=512, mlp_width=1024, mlp_depth=8),
        "train": dict(batch=24, steps=1500000, d_channel_base=32768, d_max_channels=512,
                      sample_every=5000, ckpt_every=1500, log_every=200),
    },
}
DEFAULT_PRESET = "cpu64"


@dataclass(frozen=True)
class TrainOptions:
    data: str = "rooms"               # "rooms", "rooms:N" (procedural bedrooms) or a folder of images
    out: str = "runs/blobgan"         # output folder: last.pt, model.safetensors, samples/, log.jsonl
    preset: str = DEFAULT_PRESET      # name in PRESETS the model and defaults came from
    # optimization (official: Adam lr 0.002, betas (0, 0.99), eps 1e-5, lazy-R1 ratio on D)
    batch: int = 8                    # images per process and step (global batch = batch * world size)
    steps: int = 20000                # total optimizer steps (each step = one G update + one D update)
    lr: float = 0.002
    beta1: float = 0.0
    beta2: float = 0.99
    adam_eps: float = 1e-5
    # regularization
    r1: float = 50.0                  # lambda on ||grad D(x)||^2 (official 50 = gamma 100); 0 = off
    d_reg_every: int = 16             # lazy R1 interval in steps
    ema_decay: float = OFFICIAL_EMA_DECAY   # per-step EMA decay of G_ema
    ema_kimg: float | None = None     # if set: half-life in thousands of images (overrides ema_decay)
    jitter: bool = True               # blob jitter (the released "bedrooms" model used it)
    jitter_xy: float = 0.04
    jitter_size: float = 0.5
    jitter_angle: float = 0.1
    flip: bool = True                 # random horizontal flips of real images (as officially)
    carry: float = 0.0                # weight of the carry loss (train/carry.py); 0 = the official recipe
    carry_shift: float = 0.12         # longest blob move the carry loss makes, in image widths
    init_from: str | None = None      # start G (and G_ema) from this model file; D starts fresh
    d_warmup: int = 0                 # first steps that train D only (a fresh D fine-tuning a trained G)
    data_workers: int = 1             # background threads rendering/reading the next batches (0 = none)
    # discriminator width: C(res) = min(d_channel_base // res, d_max_channels)
    d_channel_base: int = 4096
    d_max_channels: int = 64
    # bookkeeping
    log_every: int = 10               # steps between progress lines / log.jsonl records
    sample_every: int = 500           # steps between sample grids (0 = only at the end)
    ckpt_every: int = 500             # steps between last.pt + model.safetensors (0 = only at the end)
    n_samples: int = 16               # fixed-z EMA samples in each grid
    mean_latent_samples: int = 10000  # z samples averaged into the saved mean latent
    seed: int = 0
    device: str = "auto"              # auto | cpu | cuda | cuda:N
    threads: int = 0                  # torch CPU threads (0 = leave torch's default)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def jitter_values(self) -> tuple[float, float, float]:
        """(xy, size, angle), all zero when jitter is off."""
        return (self.jitter_xy, self.jitter_size, self.jitter_angle) if self.jitter else (0.0, 0.0, 0.0)

    def ema_decay_per_step(self, global_batch: int) -> float:
        if self.ema_kimg is None:
            return self.ema_decay
        return 0.5 ** (global_batch / (self.ema_kimg * 1000))


MODEL_FIELDS = tuple(f.name for f in dataclasses.fields(BlobGANConfig))
TRAIN_FIELDS = tuple(f.name for f in dataclasses.fields(TrainOptions))


def resolve(preset: str, overrides: dict) -> tuple[BlobGANConfig, TrainOptions]:
    """Merge a preset with explicit overrides (field name -> value; None values are ignored).

    Raises ValueError naming the preset or field when one is unknown or a value is out of range.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; allowed: {sorted(PRESETS)}")
    given = {k: v for k, v in overrides.items() if v is not None}
    unknown = sorted(set(given) - set(MODEL_FIELDS) - set(TRAIN_FIELDS))
    if unknown:
        raise ValueError(f"unknown training options {unknown}")
    model = {**PRESETS[preset]["model"], **{k: v for k, v in given.items() if k in MODEL_FIELDS}}
    train = {**PRESETS[preset]["train"], **{k: v for k, v in given.items() if k in TRAIN_FIELDS},
             "preset": preset}
    options = TrainOptions(**train)
    try:
        config = BlobGANConfig(**model)
    except ValueError as e:
        # Report the model's problems together with any in the training options.
        try:
            check_options(options, None)
        except ValueError as more:
            raise ValueError(f"{e}; {more}") from None
        raise
    check_options(options, config)
    return config, options


def check_options(options: TrainOptions, config: BlobGANConfig | None) -> None:
    """Raise one ValueError listing every out-of-range option (so a long run can't die at step 1)."""
    o = options
    problems = []

    def need(ok: bool, message: str):
        if not ok:
            problems.append(message)

    need(o.batch >= 1, f"--batch must be >= 1, got {o.batch}")
    need(o.steps >= 1, f"--steps must be >= 1, got {o.steps}")
    need(o.lr > 0 and math.isfinite(o.lr), f"--lr must be a positive number, got {o.lr}")
    need(0 <= o.beta1 < 1 and 0 <= o.beta2 < 1, f"Adam betas must be in [0, 1), got {o.beta1}, {o.beta2}")
    need(o.adam_eps > 0, f"Adam eps must be > 0, got {o.adam_eps}")
    need(o.r1 >= 0, f"--r1 must be >= 0, got {o.r1}")
    need(o.d_reg_every >= 1, f"--d-reg-every must be >= 1, got {o.d_reg_every}")
    need(0 <= o.ema_decay < 1, f"--ema-decay must be in [0, 1), got {o.ema_decay}")
    need(o.ema_kimg is None or o.ema_kimg > 0, f"--ema-kimg must be > 0, got {o.ema_kimg}")
    for name in ("jitter_xy", "jitter_size", "jitter_angle"):
        need(getattr(o, name) >= 0, f"--{name.replace('_', '-')} must be >= 0, got {getattr(o, name)}")
    need(o.carry >= 0 and math.isfinite(o.carry), f"--carry must be >= 0, got {o.carry}")
    need(o.d_warmup >= 0, f"--d-warmup must be >= 0, got {o.d_warmup}")
    need(0 < o.carry_shift <= 0.5, f"--carry-shift must be in (0, 0.5], got {o.carry_shift}")
    need(o.init_from is None or os.path.isfile(o.init_from), f"--init-from {o.init_from}: no such model file")
    need(o.d_channel_base >= 1, f"--d-channel-base must be >= 1, got {o.d_channel_base}")
    need(o.d_max_channels >= 1, f"--d-channels must be >= 1, got {o.d_max_channels}")
    for name in ("log_every", "sample_every", "ckpt_every"):
        need(getattr(o, name) >= 0, f"--{name.replace('_', '-')} must be >= 0, got {getattr(o, name)}")
    need(o.log_every >= 1, f"--log-every must be >= 1, got {o.log_every}")
    need(o.n_samples >= 1, f"--n-samples must be >= 1, got {o.n_samples}")
    need(o.mean_latent_samples >= 1, f"--mean-latent-samples must be >= 1, got {o.mean_latent_samples}")
    need(o.threads >= 0, f"--threads must be >= 0, got {o.threads}")
    need(o.data_workers >= 0, f"--data-workers must be >= 0, got {o.data_workers}")
    need(o.device == "auto" or o.device == "cpu" or o.device.split(":")[0] == "cuda",
         f"--device must be auto, cpu, cuda or cuda:N, got {o.device!r}")
    need(o.preset in PRESETS, f"preset must be one of {sorted(PRESETS)}, got {o.preset!r}")
    need(bool(o.data), "--data must be 'rooms' or a folder of images")
    need(bool(o.out), "--out must name an output folder")
    if config is not None:
        need(config.resolution <= 1024, f"--resolution must be <= 1024, got {config.resolution}")
    if problems:
        raise ValueError("invalid training options: " + "; ".join(problems))
