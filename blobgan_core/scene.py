"""A scene: what the nodes pass along a BLOB_SCENE wire.

It carries everything needed to render reproducibly (the model, the layout, the noise seed), so a graph
needs one wire from Sample Blobs to Render Scene, and ``ids`` so blob ids stay stable across edits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .generator import BlobGAN
from .layout import Layout
from .splat import blob_opacities, composite


@dataclass(frozen=True)
class Scene:
    model: BlobGAN
    layout: Layout
    noise_seed: int = 0
    # ids[i] is the id shown to the user for the blob at depth index i (back to front)
    ids: tuple[int, ...] = field(default=())

    def __post_init__(self):
        if not self.ids:
            object.__setattr__(self, "ids", tuple(range(self.layout.n_blobs)))
        if len(self.ids) != self.layout.n_blobs:
            raise ValueError(f"scene has {self.layout.n_blobs} blobs but {len(self.ids)} ids")

    @property
    def resolution(self) -> int:
        return self.model.resolution

    def with_layout(self, layout: Layout, ids=None) -> Scene:
        return Scene(self.model, layout, self.noise_seed, tuple(ids) if ids is not None else ())

    @torch.no_grad()
    def render(self) -> torch.Tensor:
        """Images [N,3,R,R] on the official scale."""
        return self.model.render(self.layout, noise=self.noise_seed)

    def blob_map(self, labels: bool = True) -> torch.Tensor:
        return self.model.blob_map(self.layout, labels=labels)


MASK_KINDS = ("visible", "opacity", "threshold")


def blob_masks(
    layout: Layout,
    blobs: list[int] | None,      # depth indices of the blobs to include; None = every visible blob
    size: int,                    # mask side in pixels
    kind: str = "visible",        # "visible": alpha after occlusion; "opacity": raw, ignoring occlusion;
                                  # "threshold": visible alpha > threshold, as 0/1
    threshold: float = 0.5,
) -> torch.Tensor:
    """Soft or hard masks of chosen blobs, [N,size,size] in [0,1] (the union over the chosen blobs)."""
    if kind not in MASK_KINDS:
        raise ValueError(f"mask kind must be one of {MASK_KINDS}, got {kind!r}")
    if blobs is None:
        blobs = [k for k in range(layout.n_blobs) if bool((layout.sizes[:, k + 1] > 0).any())]
    bad = [k for k in blobs if not 0 <= k < layout.n_blobs]
    if bad:
        raise ValueError(f"no blob at index {bad}; valid: 0..{layout.n_blobs - 1}")
    o = blob_opacities(layout.to(dtype=torch.float32), size)           # [N,K,S,S]
    if not blobs:
        return o.new_zeros(layout.batch, size, size)
    idx = torch.tensor(blobs, device=o.device)
    if kind == "opacity":
        # union of independent opacities: 1 - prod(1 - o)
        return 1 - (1 - o[:, idx]).prod(1)
    alpha = composite(o)[:, 1:]                                         # [N,K,S,S]
    mask = alpha[:, idx].sum(1).clamp(0, 1)
    return (mask > threshold).float() if kind == "threshold" else mask
