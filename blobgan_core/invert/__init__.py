"""Image -> scene: invert pictures into editable blob layouts.

    scene = invert(model, images)          # images [N,3,H,W] in [-1,1]
    scene.render()                         # ~ the pictures, at the model's resolution
    scene.edit([...]), drag(scene, ...)    # everything that takes a scene takes this one

Steps (each optional, the presets below choose):
1. start: the model's encoder (``<stem>_encoder.safetensors`` or the official ``<stem>_invert.ckpt``
   beside the model file, or the embedded one of the default model), else the best of many samples;
2. fit the layout (``optimize.fit_layout``: the layout MLP's hidden space, then the raw layout near it);
3. pivotal tuning of the decoder (``tuning.tune_decoder``), kept in the scene as a view of the model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from ..generator import BlobGAN
from ..grad_mode import outside_inference_mode
from ..scene import Scene
from .encoder import LayoutEncoder, encoder_path_for, load_encoder
from .framing import FITS, frame_images, frame_mask
from .losses import psnr, reconstruction_loss
from .optimize import FitOptions, fit_layout, layout_from_raw, raw_from_hidden
from .tuning import TUNE_SETS, base_model, tune_decoder

__all__ = ["FITS", "PRESETS", "InvertOptions", "find_encoder", "invert", "psnr"]


@dataclass(frozen=True)
class InvertOptions:
    samples: int = 128              # candidates for the start when there is no encoder (best of them)
    truncation: float = 0.4         # of those candidates
    fit: FitOptions = FitOptions()
    tune_steps: int = 0             # pivotal tuning steps (0 = none)
    tune_lr: float = 3e-3
    tune_set: str = "decoder"       # a key of tuning.TUNE_SETS
    use_encoder: bool = True        # False: always start from samples

    def total_steps(self, pictures: int = 1) -> int:
        """Steps ``invert`` reports through ``progress`` for a batch of ``pictures`` (the fit runs on the
        batch at once, tuning on each picture in turn)."""
        f = self.fit
        return f.hidden_steps + f.raw_steps + f.noise_steps + pictures * self.tune_steps


PRESETS: dict[str, InvertOptions] = {
    # layout only: the model's own weights, the most editable scene
    "encoder only": InvertOptions(fit=FitOptions(hidden_steps=0, raw_steps=0)),
    "fast": InvertOptions(fit=FitOptions(hidden_steps=30, raw_steps=40, gradient_weight=0.0)),
    # a short fit as the pivot, then a decoder tuned for the picture: tuning gains more per second than
    # a longer layout fit (benchmarks/invert.py)
    "balanced": InvertOptions(fit=FitOptions(hidden_steps=30, raw_steps=30, gradient_weight=0.0),
                              tune_steps=75),
    "faithful": InvertOptions(fit=FitOptions(hidden_steps=50, raw_steps=150, gradient_weight=0.0),
                              tune_steps=200),
}
DEFAULT_PRESET = "balanced"
DEFAULT_NOISE_SEED = 0

_encoders: dict[tuple[str, int], LayoutEncoder | None] = {}


def find_encoder(model: BlobGAN) -> LayoutEncoder | None:
    """The encoder that belongs to ``model`` (see the module docstring), loaded once per file; None when
    the model has none or it does not fit the model."""
    source = getattr(base_model(model), "source_path", None)
    if source is None:
        return None
    path = encoder_path_for(source)
    if path is None:
        return None
    key = (str(path.resolve()), path.stat().st_mtime_ns)   # a replaced file is read again
    if key not in _encoders:
        encoder = load_encoder(path)
        _encoders[key] = encoder if encoder.fits(model.config) is None else None
    return _encoders[key]


def _start_from_samples(model: BlobGAN, target, weight, noise, options: InvertOptions, seed: int) -> torch.Tensor:
    """Hidden activations [N, mlp_width] of the best of ``options.samples`` sampled layouts per picture."""
    with torch.no_grad():
        z = model.make_z(seed=seed, batch=options.samples)
        h = model.layout_net.hidden(z, options.truncation,
                                    model.ensure_mean_latent() if options.truncation else None)
        best = []
        one = [t[:1] for t in noise]
        renders = torch.cat([model.generator(layout_from_raw(model, raw_from_hidden(model, part)), noise=one)
                             for part in h.split(32)])
        for i in range(target.shape[0]):
            w = None if weight is None else weight[i:i + 1].expand(renders.shape[0], -1, -1, -1)
            best.append(int(reconstruction_loss(renders, target[i:i + 1].expand_as(renders), w, 0.0).argmin()))
        return h[best]


def _hidden_for_raw(model: BlobGAN, raw: torch.Tensor) -> torch.Tensor:
    """The hidden activation whose last layer output is closest to ``raw`` (least squares): stage 1
    starts from the encoder's guess projected onto what the layout network can produce."""
    last = model.layout_net.mlp[-1]
    weight = last.effective_weight().to(raw.dtype)                    # [layout_dim, width]
    return torch.linalg.lstsq(weight, (raw - last.effective_bias()).T).solution.T


@outside_inference_mode
def invert(
    model: BlobGAN,
    images: torch.Tensor,                       # [N,3,H,W] in [-1,1] (1 or 4 channels: see framing)
    *,
    preset: str = DEFAULT_PRESET,               # a key of PRESETS
    options: InvertOptions | None = None,       # overrides the preset
    mask: torch.Tensor | None = None,           # [N|1,H,W] or [H,W] in [0,1]: 1 = ignore this pixel
    fit: str = "crop",                          # "crop" (centred square) or "stretch": see framing
    encoder: LayoutEncoder | str | Path | None | bool = True,  # True: find_encoder(model); False/None: none
    seed: int = 0,                              # candidates' seed (no encoder)
    noise_seed: int = DEFAULT_NOISE_SEED,       # the decoder noise the fit starts from
    progress: Callable[[int], None] | None = None,   # called with steps done (of options.total_steps(N))
    should_stop: Callable[[], bool] | None = None,   # polled every step; True raises InterruptedError
) -> Scene:
    """Fit a scene to each picture. Returns a :class:`Scene` of N scenes (with tuning, each with its own
    tuned decoder) whose ``render()`` reproduces the pictures at the model's resolution.

    Raises ValueError naming the input for unusable images, masks or options."""
    if options is None:
        if preset not in PRESETS:
            raise ValueError(f"preset must be one of {list(PRESETS)}, got {preset!r}")
        options = PRESETS[preset]
    if options.tune_set not in TUNE_SETS:
        raise ValueError(f"tune_set must be one of {sorted(TUNE_SETS)}, got {options.tune_set!r}")
    target, framing = frame_images(images, model.resolution, fit)
    weight = None if mask is None else 1 - frame_mask(mask, images, model.resolution, fit)
    device, dtype = model.device, model.dtype
    target = target.to(device, torch.float32)
    weight = None if weight is None else weight.to(device, torch.float32)
    if dtype != torch.float32:
        raise ValueError(f"inversion needs a float32 model (gradients in {dtype} are too coarse); load it "
                         "with dtype float32")
    n = target.shape[0]
    # clones: the cached maps may be inference tensors (made under ComfyUI), which cannot enter a graph
    noise = [t.expand(n, *t.shape[1:]).clone() for t in model.noise(noise_seed)]

    if isinstance(encoder, (str, Path)):
        encoder = load_encoder(encoder)
    elif encoder is True:
        encoder = find_encoder(model) if options.use_encoder else None
    elif encoder is False:
        encoder = None
    if encoder is not None:
        problem = encoder.fits(model.config)
        if problem:
            raise ValueError(f"encoder does not fit the model: {problem}")
        with torch.no_grad():
            frame = target if encoder.resolution == target.shape[-1] else torch.nn.functional.interpolate(
                target, size=encoder.resolution, mode="bilinear", antialias=True, align_corners=False)
            start_raw = encoder.to(device)(frame).float()
        hidden = _hidden_for_raw(model, start_raw)
    else:
        start_raw = None
        hidden = _start_from_samples(model, target, weight, noise, options, seed)

    fit_options = options.fit
    if start_raw is not None and fit_options.hidden_steps == 0 and fit_options.raw_steps == 0:
        raw, maps = start_raw, [t.clone() for t in noise]
    else:
        if start_raw is not None:
            # the encoder's own guess may beat its projection: start stage 1 from whichever renders closer
            with torch.no_grad():
                def loss_of(raw):
                    image = model.generator(layout_from_raw(model, raw), noise=noise)
                    return reconstruction_loss(image, target, weight, 0)

                direct, projected = loss_of(start_raw), loss_of(raw_from_hidden(model, hidden))
            if bool((direct < projected).all()) and fit_options.hidden_steps:
                fit_options = dataclasses.replace(fit_options, hidden_steps=0)
                if progress is not None:
                    progress(options.fit.hidden_steps)
        raw, maps = fit_layout(model, target, hidden, noise, fit_options, weight, progress, should_stop,
                               start_raw=start_raw if fit_options.hidden_steps == 0 else None)
    layout = layout_from_raw(model, raw).detach()
    scene_model = model
    if options.tune_steps:
        scene_model = tune_decoder(model, layout, maps, target, options.tune_steps, options.tune_lr,
                                   options.tune_set, weight, 0.0, progress, should_stop)
    # fitted maps are kept; unfitted ones are the seed's, which the scene renders from noise_seed
    keep_maps = tuple(maps) if fit_options.noise_steps else None
    return Scene(scene_model, layout, noise_seed, noise_maps=keep_maps, framing=framing)

