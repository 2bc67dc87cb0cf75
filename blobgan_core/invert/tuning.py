"""Pivotal tuning (Roich et al. 2022) on BlobGAN: with the fitted layout fixed as the pivot, nudge the
decoder's weights until the render matches the picture. The result is a *view* of the model: a BlobGAN
whose tuned tensors are its own and whose every other tensor (the layout network, untuned decoder
layers, buffers) is the loaded model's, so a tuned scene costs only the tensors it changed and the
loaded model stays untouched.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.func import functional_call

from ..generator import BlobGAN
from ..layout import Layout
from .losses import reconstruction_loss
from .optimize import Progress, ShouldStop

# which decoder tensors tuning may change
TUNE_SETS = {
    "decoder": lambda name: True,
    # per-channel style maps and biases only: a fraction of the decoder, for large models
    "modulation": lambda name: ".modulation." in name or name.endswith("bias"),
}

_BASE_ATTR = "tuned_from"


def tuned_view(model: BlobGAN, decoder_tensors: dict[str, torch.Tensor]) -> BlobGAN:
    """A BlobGAN sharing everything with ``model`` but the decoder parameters named in
    ``decoder_tensors`` (names relative to ``model.generator``), which it holds as its own.
    ``view.tuned_from`` is the model it was made from (a view of a view refers to the first)."""
    base = base_model(model)
    view = _shallow(model)
    view.generator = _replace(model.generator, decoder_tensors)
    object.__setattr__(view, _BASE_ATTR, base)
    return view


def base_model(model: BlobGAN) -> BlobGAN:
    """The loaded model a tuned view was made from (``model`` itself when it is not a view)."""
    return getattr(model, _BASE_ATTR, None) or model


def tuned_tensors(model: BlobGAN) -> dict[str, torch.Tensor]:
    """The decoder tensors a view holds instead of its base model's (empty for a loaded model)."""
    base = base_model(model)
    if base is model:
        return {}
    own = dict(base.generator.named_parameters())
    return {n: p for n, p in model.generator.named_parameters() if p is not own.get(n)}


def _shallow(module: nn.Module) -> nn.Module:
    clone = copy.copy(module)
    # copy.copy shares the registries; give the clone its own so replacing one entry leaves module alone
    clone._parameters = dict(module._parameters)
    clone._buffers = dict(module._buffers)
    clone._modules = dict(module._modules)
    return clone


def _replace(module: nn.Module, tensors: dict[str, torch.Tensor], prefix: str = "") -> nn.Module:
    mine = {n: t for n, t in tensors.items() if n.startswith(prefix)}
    if not mine:
        return module
    clone = _shallow(module)
    for name in list(module._parameters):
        full = prefix + name
        if full in mine:
            clone._parameters[name] = nn.Parameter(mine[full].detach().clone(), requires_grad=False)
    for name, child in module._modules.items():
        if child is not None:
            clone._modules[name] = _replace(child, tensors, f"{prefix}{name}.")
    return clone


def tune_decoder(
    model: BlobGAN,
    layout: Layout,                       # the pivot, [N,K]
    noise: list[torch.Tensor],            # per layer [N|1,1,r,r]
    target: torch.Tensor,                 # [N,3,R,R]
    steps: int,
    lr: float = 1e-3,
    which: str = "decoder",               # a key of TUNE_SETS
    weight: torch.Tensor | None = None,   # [N,1,R,R], 1 = fit this pixel
    gradient_weight: float = 0.0,
    progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
) -> BlobGAN:
    """Tune the decoder on (pivot layout -> target) for ``steps`` Adam steps; return the tuned view.
    All N pictures share the one tuned decoder."""
    if which not in TUNE_SETS:
        raise ValueError(f"tuning set must be one of {sorted(TUNE_SETS)}, got {which!r}")
    chosen = TUNE_SETS[which]
    params = {n: p.detach().clone().requires_grad_(True)
              for n, p in model.generator.named_parameters() if chosen(n)}
    layout = layout.detach()
    opt = torch.optim.Adam(params.values(), lr=lr)
    for _ in range(steps):
        if should_stop is not None and should_stop():
            raise InterruptedError("inversion cancelled")
        image = functional_call(model.generator, params, (layout,), {"noise": noise}, strict=False)
        loss = reconstruction_loss(image, target, weight, gradient_weight).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if progress is not None:
            progress(1)
    return tuned_view(model, {n: p.detach() for n, p in params.items()})
