"""Object follow: when the blobs that own an object move, does the object go with them, and do the
other objects stay where they were?

This measures the default model's goal ("moving a blob moves one object and little else") on the
objects themselves, where ``locality.py``'s carry compares pixels over a blob's whole footprint (which
also holds the wall or floor around the object, so even a perfect model scores well below 1 there).

Definitions (at the render resolution; labels from the room segmenter, ``segmenter.py``):

- An *object* is an 8-connected region of one object kind (``OBJECT_KINDS``) covering at least
  ``MIN_OBJECT_AREA`` (1 %) of the picture.
- Its *owners* are the blobs that own (``ownership.owner_map``) at least ``OWNER_SHARE`` (20 %) of its
  pixels, and always the blob that owns most of it, its *main owner*.
- A *move* shifts the owners (variant "owners") or the main owner alone (variant "main owner") by
  ``MOVE_FRACTION`` of the picture side to the left, right, up or down. Moves that would push the
  object's bounding box out of the picture are skipped.
- The object's centroid after the move is that of the pixels of its kind in the edited picture inside
  the *search box*: the union of its bounding box before and after the shift, grown by ``BOX_MARGIN``
  px. The box is neutral between "stayed" and "moved"; an object that splits gives a partial follow.
- *Follow* = (c' - c) . d / |d|^2 for centroids c, c' and shift d: 1 = the object went exactly as far
  as its blobs, 0 = it stayed. An object that leaves no pixel of its kind in the search box is *lost*
  and counts as 0.
- *Others' drift*: for each other object of the scene, the distance (px) its centroid moved, measured
  the same way with a zero shift; lost ones are counted apart. Objects that share a moved blob (a rug
  partly owned by the bed's blob) are expected to move and are kept apart as *shared drift*: the
  locality claim is about the objects with blobs of their own.
- *Noise drift*, the floor for the above: how far every object's centroid moves when only the decoder
  noise changes (same layout), i.e. what "stayed" looks like to this detector.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from blobgan_core.layout import Layout

from ..data import LABEL_NAMES, OBJECT_KINDS
from .locality import move_layout
from .ownership import owner_map
from .segmenter import segment

MIN_OBJECT_AREA = 0.01
OWNER_SHARE = 0.2
MOVE_FRACTION = 0.1     # 6 px at 64: about a quarter of a bed's width, like the drag benchmark's drags
BOX_MARGIN = 2
DIRECTIONS = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
VARIANTS = ("owners", "main owner")
OBJECT_IDS = [LABEL_NAMES.index(k) for k in OBJECT_KINDS]


@dataclass
class SceneObject:
    """One object of a scene: its kind (index into LABEL_NAMES), mask [H,W], centroid (x, y) in px,
    bounding box (x0, y0, x1, y1) inclusive, and its owners (main owner first)."""

    kind: int
    mask: torch.Tensor
    centroid: tuple[float, float]
    box: tuple[int, int, int, int]
    owners: list[int]


@dataclass
class FollowResult:
    """One move of one object: how far it followed (0 when lost) and how far the other objects drifted."""

    scene: int
    kind: str
    direction: str
    variant: str
    follow: float
    lost: bool
    others_drift: list[float]       # px, one per other object with blobs of its own still found
    others_lost: int
    shared_drift: list[float]       # px, one per other object sharing a moved blob, still found


def connected_regions(mask: torch.Tensor) -> list[torch.Tensor]:
    """Bool [H,W] -> list of bool [H,W] masks, one per 8-connected region."""
    if not bool(mask.any()):
        return []
    h, w = mask.shape
    # every pixel starts with its own id; ids spread by 3x3 max-pooling inside the mask until stable
    ids = torch.where(mask, torch.arange(1, h * w + 1, dtype=torch.float32).view(h, w), torch.zeros(()))
    while True:
        grown = F.max_pool2d(ids[None, None], 3, stride=1, padding=1)[0, 0] * mask
        if torch.equal(grown, ids):
            break
        ids = grown
    return [ids == v for v in torch.unique(ids[mask])]


def find_objects(labels: torch.Tensor, owner: torch.Tensor, min_area: float = MIN_OBJECT_AREA,
                 owner_share: float = OWNER_SHARE) -> list[SceneObject]:
    """The objects of one scene. labels: int [H,W] (LABEL_NAMES indices); owner: int [H,W] from
    ``owner_map`` (0 = background, k + 1 = blob k)."""
    min_pixels = min_area * labels.numel()
    objects = []
    for kind in OBJECT_IDS:
        for region in connected_regions(labels == kind):
            if region.sum() < min_pixels:
                continue
            counts = torch.bincount(owner[region], minlength=1)[1:].float()   # blobs only
            if counts.sum() == 0:
                continue
            share = counts / region.sum()
            main = int(share.argmax())
            owners = [main] + [k for k in range(len(share)) if k != main and share[k] >= owner_share]
            objects.append(SceneObject(kind, region, _centroid(region), _box(region), owners))
    return objects


def _centroid(mask: torch.Tensor) -> tuple[float, float]:
    ys, xs = torch.nonzero(mask, as_tuple=True)
    return float(xs.float().mean()), float(ys.float().mean())


def _box(mask: torch.Tensor) -> tuple[int, int, int, int]:
    ys, xs = torch.nonzero(mask, as_tuple=True)
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


def centroid_after(labels: torch.Tensor, obj: SceneObject, dx: int, dy: int) -> tuple[float, float] | None:
    """Centroid of ``obj``'s kind in ``labels`` [H,W] inside its search box for a shift (dx, dy), or None."""
    h, w = labels.shape
    x0, y0, x1, y1 = obj.box
    bx0, by0 = max(0, min(x0, x0 + dx) - BOX_MARGIN), max(0, min(y0, y0 + dy) - BOX_MARGIN)
    bx1, by1 = min(w - 1, max(x1, x1 + dx) + BOX_MARGIN), min(h - 1, max(y1, y1 + dy) + BOX_MARGIN)
    window = torch.zeros_like(labels, dtype=torch.bool)
    window[by0:by1 + 1, bx0:bx1 + 1] = True
    found = (labels == obj.kind) & window
    return _centroid(found) if bool(found.any()) else None


def _labels(model, net, layout: Layout, noise) -> torch.Tensor:
    """Segmenter labels [H,W] of one scene (layout [1,K] on the CPU) rendered with ``noise``."""
    return segment(net, model.render(layout, noise=noise).float().cpu())[0][0]


@torch.no_grad()
def scene_objects(model, net, layout: Layout, noise_seed: int) -> list[SceneObject]:
    """The objects of one scene (layout [1,K]) rendered with ``noise_seed``."""
    layout = layout.to("cpu")
    return find_objects(_labels(model, net, layout, noise_seed), owner_map(layout, model.resolution)[0])


@torch.no_grad()
def noise_drift(model, net, layout: Layout, objects: list[SceneObject], other_seed: int) -> list[float]:
    """Drift (px) of each of a scene's ``objects`` (from :func:`scene_objects`) when the scene (layout
    [1,K]) is rendered with another noise seed; lost objects are left out."""
    after = _labels(model, net, layout.to("cpu"), other_seed)
    return [d for d in (drift_of(after, obj) for obj in objects) if d is not None]


@torch.no_grad()
def measure_scene(model, net, layout: Layout, noise_seed: int, scene: int = 0,
                  move_fraction: float = MOVE_FRACTION,
                  objects: list[SceneObject] | None = None) -> list[FollowResult]:
    """Every object of one scene (layout [1,K]) moved in the four directions, by both variants.
    ``objects``: the scene's objects when the caller has them already (:func:`scene_objects`)."""
    if layout.batch != 1:
        raise ValueError(f"measure_scene takes one scene (batch 1), got batch {layout.batch}")
    size = model.resolution
    layout = layout.to("cpu")
    if objects is None:
        objects = scene_objects(model, net, layout, noise_seed)
    step = max(1, round(move_fraction * size))
    results = []
    for i, obj in enumerate(objects):
        others = [other for j, other in enumerate(objects) if j != i]
        x0, y0, x1, y1 = obj.box
        for direction, (ux, uy) in DIRECTIONS.items():
            dx, dy = ux * step, uy * step
            if x0 + dx < 0 or y0 + dy < 0 or x1 + dx >= size or y1 + dy >= size:
                continue
            segmented = {}    # a one-owner object gives both variants the same edit: render it once
            for variant in VARIANTS:
                blobs = tuple(obj.owners if variant == "owners" else obj.owners[:1])
                if blobs not in segmented:
                    segmented[blobs] = _labels(model, net, move_layout(layout, list(blobs), dx, dy, size), noise_seed)
                after = segmented[blobs]
                follow = follow_of(after, obj, dx, dy)
                drift, shared = [], []
                for other in others:
                    (shared if set(other.owners) & set(blobs) else drift).append(drift_of(after, other))
                results.append(FollowResult(scene, LABEL_NAMES[obj.kind], direction, variant,
                                            0.0 if follow is None else follow, follow is None,
                                            [d for d in drift if d is not None], drift.count(None),
                                            [d for d in shared if d is not None]))
    return results


def follow_of(labels: torch.Tensor, obj: SceneObject, dx: int, dy: int) -> float | None:
    """How far ``obj`` followed a shift (dx, dy) of its blobs, given the edited picture's labels [H,W]:
    (c' - c) . d / |d|^2, or None when it is lost."""
    c = centroid_after(labels, obj, dx, dy)
    if c is None:
        return None
    return ((c[0] - obj.centroid[0]) * dx + (c[1] - obj.centroid[1]) * dy) / (dx * dx + dy * dy)


def drift_of(labels: torch.Tensor, obj: SceneObject) -> float | None:
    """How far (px) an object that should have stayed moved, given the edited picture's labels [H,W];
    None when it is lost."""
    c = centroid_after(labels, obj, 0, 0)
    return None if c is None else float(np.hypot(c[0] - obj.centroid[0], c[1] - obj.centroid[1]))


def summarize(results: list[FollowResult]) -> dict:
    """Per variant: moves, objects lost, mean follow overall / horizontal / vertical / per kind, and the
    drift of the other objects with blobs of their own (px: mean, median, share within 1 px; how many
    were lost) and of those sharing a moved blob (count, median)."""
    out = {}
    for variant in VARIANTS:
        rs = [r for r in results if r.variant == variant]
        if not rs:
            continue
        horizontal = [r.follow for r in rs if r.direction in ("left", "right")]
        vertical = [r.follow for r in rs if r.direction in ("up", "down")]
        kinds: dict[str, dict[str, list[float]]] = {}
        for r in rs:
            axis = "horizontal" if r.direction in ("left", "right") else "vertical"
            kinds.setdefault(r.kind, {"horizontal": [], "vertical": []})[axis].append(r.follow)
        drift = [d for r in rs for d in r.others_drift]
        shared = [d for r in rs for d in r.shared_drift]
        out[variant] = {
            "moves": len(rs),
            "objects_lost": sum(r.lost for r in rs),
            "follow": _mean([r.follow for r in rs]),
            "follow_horizontal": _mean(horizontal),
            "follow_vertical": _mean(vertical),
            "by_kind": {k: {"moves": len(v["horizontal"]) + len(v["vertical"]),
                            "horizontal": _mean(v["horizontal"]), "vertical": _mean(v["vertical"])}
                        for k, v in sorted(kinds.items())},
            "others": len(drift),
            "others_drift_px": _mean(drift),
            "others_drift_median_px": _median(drift),
            "others_within_1px": float(np.mean(np.array(drift) <= 1.0)) if drift else None,
            "others_lost": sum(r.others_lost for r in rs),
            "shared": len(shared),
            "shared_drift_median_px": _median(shared),
        }
    return out


def summarize_noise_floor(drifts: list[float]) -> dict:
    """The floor from :func:`noise_drift`'s drifts over many scenes: objects, median and mean px."""
    return {"objects": len(drifts), "drift_median_px": _median(drifts), "drift_px": _mean(drifts)}


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _median(values: list[float]) -> float | None:
    return float(np.median(values)) if values else None
