"""Exponential moving average of the generator (layout network + decoder) weights."""

from __future__ import annotations

import torch
from torch import nn

# The official per-step decay: half-life of 10k images at a reference batch of 32.
OFFICIAL_EMA_DECAY = 0.5 ** (32 / (10 * 1000))


def ema_decay_for(batch_size: int, half_life_kimg: float) -> float:
    """Per-step decay whose weight halves after ``half_life_kimg`` thousand images at ``batch_size``."""
    if batch_size < 1 or not half_life_kimg > 0:
        raise ValueError(f"ema_decay_for needs batch_size >= 1 and half_life_kimg > 0, "
                         f"got {batch_size} and {half_life_kimg}")
    return 0.5 ** (batch_size / (half_life_kimg * 1000))


@torch.no_grad()
def update_ema(ema_model: nn.Module, model: nn.Module, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * model for every parameter; buffers are copied.

    decay = 0 copies the model. Both modules must have the same parameter names.
    """
    params = dict(model.named_parameters())
    for name, p_ema in ema_model.named_parameters():
        p_ema.lerp_(params[name].detach().to(p_ema.device), 1.0 - decay)
    buffers = dict(model.named_buffers())
    for name, b_ema in ema_model.named_buffers():
        b_ema.copy_(buffers[name])
