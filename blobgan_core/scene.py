"""A scene: what the nodes pass along a BLOB_SCENE wire.

It carries everything needed to render reproducibly (the model, the layout, the decoder noise), so a
graph needs one wire from Sample Blobs to Render Scene, and ``ids`` so blob ids stay stable across edits.
A scene made by inverting a picture also carries its fitted noise maps, its tuned decoder (as the
model: a view sharing every untuned weight with the loaded one) and how the picture was framed.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

import torch

from .edits import apply_edits, parse_edits
from .generator import BlobGAN, NoiseSpec
from .layout import Layout
from .splat import blob_opacities, composite


@dataclass(frozen=True)
class Framing:
    """How a picture of ``width`` x ``height`` pixels was brought to the model's square frame: ``fit`` is
    "crop" (the centred square of side min(width, height), scaled) or "stretch" (the whole picture,
    scaled to a square). Composite Edit uses it to put renders back into the picture."""

    width: int
    height: int
    fit: str = "crop"

    def window(self) -> tuple[int, int, int, int]:
        """(left, top, side_x, side_y): the part of the picture the model's frame shows, in pixels."""
        if self.fit == "stretch":
            return 0, 0, self.width, self.height
        side = min(self.width, self.height)
        return (self.width - side) // 2, (self.height - side) // 2, side, side


@dataclass(frozen=True)
class Scene:
    """``ids[k]`` is the id of the blob at depth index k. Sampling numbers blobs 0..K-1 in depth order;
    depth edits reorder blobs but keep their ids and duplicates get K, K+1, ..., so the numbers a user
    reads on the blob map, types into an edit list or a mask's id list stay the same through a chain of
    edits."""

    model: BlobGAN
    layout: Layout
    noise_seed: int = 0
    # ids[i] is the id shown to the user for the blob at depth index i (back to front)
    ids: tuple[int, ...] = field(default=())
    # per decoder layer [N,1,r,r] (official order), fitted by an inversion; None: noise from noise_seed
    noise_maps: tuple[torch.Tensor, ...] | None = None
    # per batch item, how the inverted picture maps to the frame; None for sampled scenes
    framing: tuple[Framing, ...] | None = None

    def __post_init__(self):
        if not self.ids:
            object.__setattr__(self, "ids", tuple(range(self.layout.n_blobs)))
        if len(self.ids) != self.layout.n_blobs:
            raise ValueError(f"scene has {self.layout.n_blobs} blobs but {len(self.ids)} ids")
        if self.noise_maps is not None and any(t.shape[0] != self.layout.batch for t in self.noise_maps):
            raise ValueError(f"scene noise maps must have one map per scene ({self.layout.batch})")
        if self.framing is not None and len(self.framing) != self.layout.batch:
            raise ValueError(f"scene has {self.layout.batch} scenes but {len(self.framing)} framings")

    @property
    def resolution(self) -> int:
        return self.model.resolution

    def with_layout(self, layout: Layout, ids=None) -> Scene:
        """The same scene (model, noise, framing) with another layout of the same batch size."""
        if layout.batch != self.layout.batch and (self.noise_maps is not None or self.framing is not None):
            raise ValueError(f"an inverted scene of {self.layout.batch} pictures cannot take a layout of "
                             f"{layout.batch}")
        return dataclasses.replace(self, layout=layout, ids=tuple(ids) if ids is not None else ())

    @property
    def noise(self) -> NoiseSpec:
        """The decoder noise, as ``BlobGAN.render(noise=...)`` takes it."""
        return list(self.noise_maps) if self.noise_maps is not None else self.noise_seed

    def noise_of(self, index) -> NoiseSpec:
        """The noise of batch items ``index`` (an int or a slice)."""
        if self.noise_maps is None:
            return self.noise_seed
        index = slice(index, index + 1) if isinstance(index, int) else index
        return [t[index] for t in self.noise_maps]

    def select(self, index) -> Scene:
        """Batch items ``index`` (an int or a slice) as a scene."""
        sl = slice(index, index + 1) if isinstance(index, int) else index
        return dataclasses.replace(
            self, model=self.model.for_items(sl), layout=self.layout.select(sl),
            noise_maps=None if self.noise_maps is None else tuple(t[sl] for t in self.noise_maps),
            framing=None if self.framing is None else self.framing[sl])

    @torch.no_grad()
    def render(self) -> torch.Tensor:
        """Images [N,3,R,R] on the official scale."""
        return self.model.render(self.layout, noise=self.noise)

    def blob_map(self, labels: bool = True, size: int | None = None) -> torch.Tensor:
        """The official blob map, coloured and labelled by blob id: [N,3,size,size] in [0,1]."""
        return self.model.blob_map(self.layout, labels=labels, size=size, ids=list(self.ids))

    def edit(self, edits, source: Scene | None = None) -> Scene:
        """Apply an edit list (docs/edit-list.md) whose blob ids are this scene's ids (and, for restyle,
        ``source``'s). Returns a new scene; raises EditError naming the edit.

        ``apply_edits`` addresses blobs by depth index, so ids are translated to depth indices on the way
        in and the resulting depth order back to ids on the way out."""
        index_of = {blob_id: k for k, blob_id in enumerate(self.ids)}
        source_index_of = {blob_id: k for k, blob_id in enumerate(source.ids)} if source is not None else {}
        translated = []
        for e in parse_edits(edits):
            # ids >= K name duplicates made earlier in this list: the same number in both numberings
            args = e.args
            if e.op == "restyle" and isinstance(args["source_blob"], int):
                table = index_of if args["scene"] == "self" else source_index_of
                args = {**args, "source_blob": table.get(args["source_blob"], args["source_blob"])}
            translated.append(dataclasses.replace(e, blob=index_of.get(e.blob, e.blob), args=args))
        layout, order = apply_edits(self.layout, translated, source=source.layout if source is not None else None)
        n_blobs = self.layout.n_blobs
        return self.with_layout(layout, [self.ids[i] if i < n_blobs else i for i in order])

    def parse_blob_ids(self, text: str) -> list[int] | None:
        """"all" -> None; "1, 3, 5-7" -> the depth indices of those blob ids (in the order given, without
        repeats). Raises ValueError naming the bad entry and the valid ids."""
        valid = f"valid ids: 0..{len(self.ids) - 1}, or \"all\""
        text = (text or "").strip()
        if text.lower() == "all":
            return None
        if not text:
            raise ValueError(f"empty; give blob ids like \"1, 3, 5-7\" ({valid})")
        index_of = {blob_id: k for k, blob_id in enumerate(self.ids)}
        out: list[int] = []
        for token in re.split(r"[,;\s]+", text):
            if not token:
                continue
            m = re.fullmatch(r"(\d+)(?:-(\d+))?", token)
            if m is None:
                raise ValueError(f"{token!r} is not a blob id or a range like 5-7; {valid}")
            lo, hi = int(m[1]), int(m[2] if m[2] is not None else m[1])
            if hi < lo:
                raise ValueError(f"range {token!r} runs backwards; write {hi}-{lo}")
            for blob_id in range(lo, hi + 1):
                if blob_id not in index_of:
                    raise ValueError(f"no blob with id {blob_id}; {valid}")
                if index_of[blob_id] not in out:
                    out.append(index_of[blob_id])
        return out


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
