"""Fitting a layout to pictures by gradient descent, in the spaces that keep it editable.

A BlobGAN layout is the layout network's raw output vector o (``LayoutNetwork.decode``). The fit
moves through three spaces, from the most to the least constrained:

1. the last hidden activation h of the layout MLP (o = last_layer(h)): every point there is a layout the
   network itself could produce, so blobs keep the sizes, shapes and vectors that the decoder renders
   as objects;
2. o itself, held near stage 1's o by a quadratic prior, for the detail h cannot reach;
3. optionally the per-layer noise maps, held near their start (noise does not move with blobs, so
   content put there would not follow an edit; the presets leave it off except the faithful one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..generator import BlobGAN
from ..layout import Layout
from .losses import reconstruction_loss

Progress = Callable[[int], None]   # called with the number of steps just done
ShouldStop = Callable[[], bool]


@dataclass(frozen=True)
class FitOptions:
    hidden_steps: int = 100        # stage 1 steps (h space)
    hidden_lr: float = 0.05
    raw_steps: int = 100           # stage 2 steps (o space)
    raw_lr: float = 0.02
    raw_prior: float = 0.05        # weight of mean((o - o_stage1)^2) in stage 2
    noise_steps: int = 0           # stage 3 steps (noise maps, with o)
    noise_lr: float = 0.02
    noise_prior: float = 1.0       # weight of mean((noise - noise0)^2)
    gradient_weight: float = 1.0   # see losses.reconstruction_loss


def raw_from_hidden(model: BlobGAN, hidden: torch.Tensor) -> torch.Tensor:
    """[N, mlp_width] -> raw layout vectors [N, layout_dim] (the MLP's last layer)."""
    return model.layout_net.mlp[-1](hidden)


def layout_from_raw(model: BlobGAN, raw: torch.Tensor) -> Layout:
    """Raw layout vectors [N, layout_dim] -> Layout (sigmoids, covariances, pixel norms)."""
    return model.layout_net.decode(raw)


def _adam_steps(params, lr: float, steps: int, loss_fn, progress: Progress | None,
                should_stop: ShouldStop | None) -> None:
    opt = torch.optim.Adam(params, lr=lr)
    for _ in range(steps):
        if should_stop is not None and should_stop():
            raise InterruptedError("inversion cancelled")
        opt.zero_grad(set_to_none=True)
        loss_fn().backward()
        opt.step()
        if progress is not None:
            progress(1)


def fit_layout(
    model: BlobGAN,
    target: torch.Tensor,                 # [N,3,R,R] on the official scale
    hidden: torch.Tensor,                 # [N, mlp_width] start of stage 1
    noise: list[torch.Tensor],            # per-layer maps [1|N,1,r,r], the start of stage 3
    options: FitOptions,
    weight: torch.Tensor | None = None,   # [N,1,R,R]: 1 = fit this pixel, 0 = ignore it
    progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
    start_raw: torch.Tensor | None = None,  # [N, layout_dim]: with no stage 1, stage 2 starts (and is
                                            # anchored) here instead of at last_layer(hidden)
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Stages 1-3 above. Returns (raw layout vectors [N, layout_dim], noise maps [N,1,r,r] per layer).

    The model's weights get no gradients (they are frozen for the duration and restored)."""
    n = target.shape[0]
    noise = [t.expand(n, *t.shape[1:]).clone() for t in noise]
    frozen = [p for p in model.parameters() if p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    try:
        def loss_of(raw, maps):
            image = model.generator(layout_from_raw(model, raw), noise=maps)
            return reconstruction_loss(image, target, weight, options.gradient_weight)

        h = hidden.detach().clone().requires_grad_(True)
        _adam_steps([h], options.hidden_lr, options.hidden_steps,
                    lambda: loss_of(raw_from_hidden(model, h), noise).sum(), progress, should_stop)
        anchor = (start_raw if start_raw is not None and not options.hidden_steps
                  else raw_from_hidden(model, h)).detach()

        raw = anchor.clone().requires_grad_(True)

        def raw_loss():
            prior = options.raw_prior * ((raw - anchor) ** 2).mean(1)
            return (loss_of(raw, noise) + prior).sum()

        _adam_steps([raw], options.raw_lr, options.raw_steps, raw_loss, progress, should_stop)

        if options.noise_steps:
            start = [t.clone() for t in noise]
            maps = [t.clone().requires_grad_(True) for t in noise]

            def noise_loss():
                prior = sum(((m - s) ** 2).mean(dim=(1, 2, 3)) for m, s in zip(maps, start))
                raw_prior = options.raw_prior * ((raw - anchor) ** 2).mean(1)
                return (loss_of(raw, maps) + raw_prior + options.noise_prior * prior).sum()

            _adam_steps([raw, *maps], options.noise_lr, options.noise_steps, noise_loss, progress, should_stop)
            noise = [m.detach() for m in maps]
        return raw.detach(), noise
    finally:
        for p in frozen:
            p.requires_grad_(True)
