"""BlobGAN: layout network F (noise -> blobs) followed by the layout-conditioned decoder G.

Reproduces the official generator (Epstein et al., ECCV 2022; github.com/dave-epstein/blobgan) on the
same weights: ``render(sample_layout(z))`` equals the official ``gen(z, no_jitter=True, ema=True)``.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from .config import BlobGANConfig
from .decoder import LayoutStyleGenerator
from .layers import assert_shape
from .layout import Layout
from .layout_net import LayoutNetwork
from .visualize import DEFAULT_SIZE_THRESHOLD, blob_map, label_blobs

MEAN_LATENT_SAMPLES = 10_000
MEAN_LATENT_SEED = 0
DEFAULT_NOISE_SEED = 0

NoiseSpec = list[torch.Tensor] | int | None


def seeded_normal(shape, seed: int) -> torch.Tensor:
    """N(0,1) samples drawn on the CPU from ``seed``: identical on every device they are moved to."""
    g = torch.Generator().manual_seed(int(seed))
    return torch.randn(shape, generator=g)


class BlobGAN(nn.Module):
    """The generator pair. Parameters: ``layout_net.*`` and ``generator.*`` (official names minus
    ``_ema``). ``mean_latent`` ([mlp_width], for truncation) is a buffer kept out of the state dict."""

    def __init__(self, config: BlobGANConfig):
        super().__init__()
        self.config = config
        self.layout_net = LayoutNetwork(config)
        self.generator = LayoutStyleGenerator(config)
        self.register_buffer("mean_latent", None, persistent=False)
        self._noise_cache: dict = {}
        # the decoder layer Drag Points reads features from, when it was measured for these weights
        # (``benchmarks/drag.py --choose-layer --write``); None: the rule in drag.features.default_layer
        self.drag_layer: str | None = None

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    @property
    def resolution(self) -> int:
        return self.config.resolution

    # -- truncation ---------------------------------------------------------------------------------

    @torch.no_grad()
    def compute_mean_latent(self, n: int = MEAN_LATENT_SAMPLES, seed: int = MEAN_LATENT_SEED) -> torch.Tensor:
        """Mean last-hidden activation of the layout MLP over ``n`` seeded z samples, [mlp_width].

        The official fallback draws 10,000 unseeded samples; seeding makes the result reproducible.
        """
        z = seeded_normal((n, self.config.noise_dim), seed)
        sums = torch.zeros(self.config.mlp_width, dtype=torch.float64)
        for chunk in z.split(1000):
            h = self.layout_net.hidden(chunk.to(self.device, self.dtype))
            sums += h.double().sum(0).cpu()
        return (sums / n).to(self.device, self.dtype)

    def ensure_mean_latent(self) -> torch.Tensor:
        """The truncation mean latent [mlp_width], computed (and kept) on first use when none was loaded."""
        if self.mean_latent is None:
            self.mean_latent = self.compute_mean_latent()
        return self.mean_latent

    def set_mean_latent(self, mean_latent: torch.Tensor | None) -> None:
        if mean_latent is not None:
            mean_latent = mean_latent.reshape(-1)
            if mean_latent.numel() != self.config.mlp_width:
                raise ValueError(f"mean_latent must have {self.config.mlp_width} values (the layout MLP "
                                 f"width), got {mean_latent.numel()}")
            mean_latent = mean_latent.to(self.device, self.dtype)
        self.mean_latent = mean_latent

    # -- sampling and rendering ---------------------------------------------------------------------

    def make_z(self, seed: int | None = None, batch: int = 1) -> torch.Tensor:
        """z [batch, noise_dim] from a seed (drawn on the CPU, so the same seed gives the same z on
        every device) or, with ``seed=None``, from torch's global RNG."""
        shape = (batch, self.config.noise_dim)
        z = torch.randn(shape) if seed is None else seeded_normal(shape, seed)
        return z.to(self.device, self.dtype)

    @torch.no_grad()
    def sample_layout(
        self,
        *,
        seed: int | None = None,
        z: torch.Tensor | None = None,   # [N, noise_dim]; overrides seed and batch
        batch: int = 1,
        truncation: float = 0.4,         # 0 = none, 1 = the mean layout (official default 0.4)
    ) -> Layout:
        """Sample blob layouts for ``batch`` scenes. Returns a :class:`Layout` on the model's device."""
        if not 0.0 <= truncation <= 1.0:
            raise ValueError(f"truncation must be in [0, 1] (0 = none, 1 = the mean), got {truncation}")
        if z is None:
            z = self.make_z(seed, batch)
        else:
            assert_shape("z", z, [None, self.config.noise_dim])
            z = z.to(self.device, self.dtype)
        return self.layout_net(z, truncation=truncation, mean_latent=self.ensure_mean_latent() if truncation else None)

    def noise(self, seed: int = DEFAULT_NOISE_SEED) -> list[torch.Tensor]:
        """The per-layer noise maps [1,1,r,r] for ``seed``, in the official layer order (cached)."""
        key = (int(seed), self.device, self.dtype)
        if key not in self._noise_cache:
            if len(self._noise_cache) > 8:
                self._noise_cache.clear()
            g = torch.Generator().manual_seed(int(seed))
            self._noise_cache[key] = [torch.randn(s, generator=g).to(self.device, self.dtype)
                                      for s in self.config.noise_shapes()]
        return self._noise_cache[key]

    def resolve_noise(self, noise: NoiseSpec) -> list[torch.Tensor]:
        if noise is None:
            return self.noise(DEFAULT_NOISE_SEED)
        if isinstance(noise, int):
            return self.noise(noise)
        noise = list(noise)
        shapes = self.config.noise_shapes()
        if len(noise) != len(shapes):
            raise ValueError(f"noise must be an int seed or a list of {len(shapes)} tensors, got {len(noise)}")
        for i, (t, s) in enumerate(zip(noise, shapes)):
            if t.dim() != 4 or tuple(t.shape[1:]) != s[1:]:
                raise ValueError(f"noise[{i}] must be [1|N,{s[1]},{s[2]},{s[3]}], got {list(t.shape)}")
        return [t.to(self.device, self.dtype) for t in noise]

    def render(self, layout: Layout, *, noise: NoiseSpec = None) -> torch.Tensor:
        """Decode a layout into images [N,3,R,R] on the official scale (about [-1,1], not clamped).

        ``noise``: a list of per-layer tensors in the official order, an int seed, or None (seed 0, so
        renders repeat). Gradients flow when called outside ``torch.no_grad``.
        """
        self._check_layout(layout)
        layout = layout.to(self.device, self.dtype)
        image = self.generator(layout, noise=self.resolve_noise(noise))
        # an image a user sees is never silently NaN; renders inside an optimization (with gradients) are
        # the optimizer's business, and checking each would cost a device sync per step
        if not image.requires_grad and not bool(torch.isfinite(image).all()):
            raise ValueError(f"the render has NaN or infinite pixels although the layout is finite; the "
                             f"weights or the dtype ({self.dtype}) cannot render it: try float32")
        return image

    def forward(self, layout: Layout, noise: NoiseSpec = None) -> torch.Tensor:
        return self.render(layout, noise=noise)

    def for_items(self, index) -> BlobGAN:
        """The model that renders batch items ``index`` (an int or a slice) of a scene made with it:
        itself, unless its decoder is one per item (a view tuned per picture, ``blobgan_core.invert``),
        whose item ``index`` this returns as a view of its own."""
        decoder = self.generator.for_items(index)
        return self if decoder is self.generator else self.with_decoder(decoder)

    def with_decoder(self, decoder: nn.Module) -> BlobGAN:
        """A view of this model with ``decoder`` in place of its own: it shares the layout network, the
        buffers and every attribute (tuned views are made this way; ``blobgan_core.invert.tuning``)."""
        view = copy.copy(self)
        # registries of its own, so setting a module, parameter or buffer on the view leaves this model alone
        view._parameters, view._buffers = dict(self._parameters), dict(self._buffers)
        view._modules = {**self._modules, "generator": decoder}
        return view

    @torch.no_grad()
    def blob_map(
        self,
        layout: Layout,
        *,
        labels: bool = False,           # draw blob ids at their centres
        size_threshold: float = DEFAULT_SIZE_THRESHOLD,  # blobs with s <= T are not labelled
        opacity_doubling: bool = True,
        size: int | None = None,        # side in pixels; default: the render resolution
        ids: list[int] | None = None,   # id of the blob at each depth index (see Scene.ids); None = 0..K-1
    ) -> torch.Tensor:
        """Official blob visualisation, [N,3,size,size] in [0,1]; colours and labels follow blob ids.

        ``ids=None`` numbers blobs by depth index, which is their id only in a layout no depth edit has
        reordered: after ``layout, ids = apply_edits(...)`` pass ``ids=ids`` (``Scene.blob_map`` passes
        the scene's ids), so the labels are the numbers edit lists and masks use."""
        self._check_layout(layout)
        size = size or self.resolution
        maps = blob_map(layout.to(self.device, torch.float32), size, self.config.palette, opacity_doubling, ids)
        if not labels:
            return maps
        out = []
        cpu_layout = layout.to("cpu", torch.float32)
        for i, m in enumerate(maps):
            arr = (m.permute(1, 2, 0).cpu().numpy() * 255).round().clip(0, 255).astype("uint8")
            arr = label_blobs(arr, cpu_layout, i, self.config.palette, size_threshold, ids)
            out.append(torch.from_numpy(arr.copy()).permute(2, 0, 1).float() / 255)
        return torch.stack(out).to(maps.device)

    def _check_layout(self, layout: Layout) -> None:
        c = self.config
        if layout.features.shape[-1] != c.d_in or layout.spatial_style.shape[-1] != c.d_style:
            raise ValueError(
                f"layout does not fit this model: its feature sizes are d_in={layout.features.shape[-1]}, "
                f"d_style={layout.spatial_style.shape[-1]}; the model needs d_in={c.d_in}, d_style={c.d_style}")
        # one device sync on the happy path (render runs every step of a drag); names only on failure
        tensors = layout.tensors()
        if not bool(torch.stack([torch.isfinite(t).all() for t in tensors.values()]).all()):
            bad = [name for name, t in tensors.items() if not bool(torch.isfinite(t).all())]
            raise ValueError(f"layout has NaN or infinite values in {bad}; it cannot be rendered")
