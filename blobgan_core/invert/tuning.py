"""Pivotal tuning (Roich et al. 2022) on BlobGAN: with the fitted layout fixed as the pivot, nudge the
decoder's weights until the render matches the picture. The result is a *view* of the model: a BlobGAN
whose tuned tensors are its own and whose every other tensor (the layout network, untuned decoder
layers, buffers) is the loaded model's, so a tuned scene costs only the tensors it changed and the
loaded model stays untouched.

Each picture gets its own tuned decoder (one decoder shared by a batch would have to fit every picture
at once, and fits each worse). A batch's view renders item i with decoder i (:class:`ItemwiseDecoder`), and
``model.for_items(i)`` (which ``Scene.select`` uses) is the view of item i alone.
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


def tuned_view(model: BlobGAN, decoder_tensors: dict[str, torch.Tensor]
               | list[dict[str, torch.Tensor]]) -> BlobGAN:
    """A BlobGAN sharing everything with ``model`` but the decoder parameters named in
    ``decoder_tensors`` (names relative to ``model.generator``), which it holds as its own; a list of
    such dicts, one per batch item, gives every item its own decoder. ``view.tuned_from`` is the
    model it was made from (a view of a view refers to the first)."""
    if isinstance(decoder_tensors, dict):
        decoder_tensors = [decoder_tensors]
    decoders = [_replace(model.generator, tensors) for tensors in decoder_tensors]
    view = model.with_decoder(decoders[0] if len(decoders) == 1 else ItemwiseDecoder(decoders))
    object.__setattr__(view, _BASE_ATTR, base_model(model))
    return view


def _item(t: torch.Tensor | None, i: int) -> torch.Tensor | None:
    """Batch item i of a tensor [1|N,...] (one shared by every item is returned whole)."""
    return t if t is None or t.shape[0] == 1 else t[i:i + 1]


class ItemwiseDecoder(nn.Module):
    """N decoders, one per batch item: renders a layout of N scenes with decoder i for scene i. It takes
    the decoder's arguments; a layout of another batch size is an error (select the items first)."""

    def __init__(self, decoders: list[nn.Module]):
        super().__init__()
        self.items = nn.ModuleList(decoders)
        self.config = decoders[0].config

    def layer_names(self) -> list[str]:
        return self.items[0].layer_names()

    def for_items(self, index) -> nn.Module:
        """The decoder of batch items ``index`` (an int or a slice)."""
        chosen = self.items[index] if isinstance(index, slice) else [self.items[index]]
        return chosen[0] if len(chosen) == 1 else ItemwiseDecoder(list(chosen))

    def forward(self, layout: Layout, noise=None, keep=(), impl="auto", stop_at=None):
        n = len(self.items)
        if layout.batch != n:
            raise ValueError(f"this scene's {n} pictures each have their own tuned decoder, so it renders "
                             f"layouts of {n} scenes, not {layout.batch}; select one picture first "
                             "(scene.select(i))")
        outs = []
        for i, decoder in enumerate(self.items):
            maps = None if noise is None else [_item(t, i) for t in noise]
            outs.append(decoder(layout.select(slice(i, i + 1)), noise=maps, keep=keep, impl=impl, stop_at=stop_at))
        if keep and stop_at is None:
            images, kept = zip(*outs)
            return torch.cat(images), {name: torch.cat([k[name] for k in kept]) for name in kept[0]}
        return torch.cat(outs)


def base_model(model: BlobGAN) -> BlobGAN:
    """The loaded model a tuned view was made from (``model`` itself when it is not a view)."""
    return getattr(model, _BASE_ATTR, None) or model


def tuned_tensors(model: BlobGAN) -> list[dict[str, torch.Tensor]]:
    """Per batch item, the decoder tensors a view holds instead of its base model's (names relative to
    the decoder); one empty dict for a loaded model, one dict for a view shared by every item."""
    base = base_model(model)
    own = dict(base.generator.named_parameters())
    decoders = model.generator.items if isinstance(model.generator, ItemwiseDecoder) else [model.generator]
    return [{n: p for n, p in d.named_parameters() if p is not own.get(n)} for d in decoders]


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
    lr: float = 3e-3,
    which: str = "decoder",               # a key of TUNE_SETS
    weight: torch.Tensor | None = None,   # [N,1,R,R], 1 = fit this pixel
    gradient_weight: float = 0.0,
    progress: Progress | None = None,     # called with 1 per step of each picture (N * steps in all)
    should_stop: ShouldStop | None = None,
) -> BlobGAN:
    """Tune a decoder for each picture on (pivot layout -> target) for ``steps`` Adam steps; return the
    tuned view (see :func:`tuned_view`)."""
    if which not in TUNE_SETS:
        raise ValueError(f"tuning set must be one of {sorted(TUNE_SETS)}, got {which!r}")
    layout = layout.detach()
    tuned = []
    for i in range(layout.batch):
        tuned.append(_tune_one(
            model.generator, TUNE_SETS[which], layout.select(slice(i, i + 1)), [_item(t, i) for t in noise],
            target[i:i + 1], _item(weight, i), steps, lr, gradient_weight, progress, should_stop))
    return tuned_view(model, tuned)


def _tune_one(decoder, chosen, layout, noise, target, weight, steps, lr, gradient_weight, progress,
              should_stop) -> dict[str, torch.Tensor]:
    params = {n: p.detach().clone().requires_grad_(True) for n, p in decoder.named_parameters() if chosen(n)}
    opt = torch.optim.Adam(params.values(), lr=lr)
    for _ in range(steps):
        if should_stop is not None and should_stop():
            raise InterruptedError("inversion cancelled")
        image = functional_call(decoder, params, (layout,), {"noise": noise}, strict=False)
        loss = reconstruction_loss(image, target, weight, gradient_weight).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if progress is not None:
            progress(1)
    return {n: p.detach() for n, p in params.items()}
