"""Procedural bedrooms in one-point perspective: the default training data of our BlobGAN model.

Each image is a box-shaped room (back wall, side walls, floor, ceiling) seen by a level camera,
furnished at random: a bed with pillows and covers, nightstands with lamps, a wardrobe, a window
with sky and curtains, a painting, a rug and a ceiling light. Presence, placement (on the floor or a
wall, in perspective), size and colour vary per image; faces are shaded and edges anti-aliased.

Image ``i`` of seed ``S`` is a pure function of (S, i, size): it does not depend on which batch it
is rendered in. Rendering is vectorized over the batch (numpy for the layout, torch for pixels) and
makes thousands of 64 px images per second on one CPU core.

Labels: ``labels[n, y, x]`` is the id of the front-most surface or object at that pixel, an index
into ``LABEL_NAMES = SURFACE_KINDS + OBJECT_KINDS`` (0 = floor ... 4 = ceiling, 5 = bed, ...).
"""

from __future__ import annotations

import argparse
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from blobgan_core.images import image_grid, save_png

from ._raster import Painter
from ._room_geometry import _line, project_bounds
from ._room_layout import (
    INSTANCE_KINDS,
    INSTANCE_LABELS,
    LABEL_NAMES,
    OBJECT_KINDS,
    SURFACE_KINDS,
    Scene,
    build_scene,
)

__all__ = ["OBJECT_KINDS", "SURFACE_KINDS", "LABEL_NAMES", "RoomBatch", "render_rooms", "RoomDataset",
           "save_samples"]

MIN_SIZE = 16
# Images painted together: enough to amortize Python overhead, few enough to stay in cache
# (64 at 64 px, 16 at 128 px: the best measured on one core).
_CHUNK_PIXELS = 64 * 64 * 64
_LAYOUT_BLOCK = 1024  # images laid out together (numpy cost is per call, nearly flat in N)


@dataclass
class RoomBatch:
    """Rendered rooms.

    images:  uint8 [N,H,W,3] RGB.
    labels:  int16 [N,H,W], index into ``LABEL_NAMES`` of the front-most surface/object per pixel.
    objects: per image, a list of dicts for the objects inside the picture, each with
             ``kind`` (an OBJECT_KINDS name), ``label`` (its id in ``labels``), ``centre`` (x, y) and
             ``bbox`` (x0, y0, x1, y1) normalized to [0,1] with x right and y down (projection of the
             object's 3-D box, clipped to the picture, occluded parts included), ``colour`` (r, g, b)
             in [0,1] (main colour), ``depth`` (distance from the camera plane, metres) and
             ``pixels`` (how many pixels of ``labels`` this object owns; 0 = fully hidden).
    vanishing_points: float32 [N,2], the (x, y) image point, normalized like ``centre``, where depth
             lines meet; its y is the horizon (eye level): everything standing on the floor
             touches the floor below it.
    """

    images: np.ndarray
    labels: np.ndarray
    objects: list
    vanishing_points: np.ndarray


def _check_size(size) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < MIN_SIZE:
        raise ValueError(f"size must be an integer >= {MIN_SIZE} (pixels), got {size!r}")
    return int(size)


def _check_indices(indices) -> np.ndarray:
    arr = np.asarray(indices)
    if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"indices must be a 1-D sequence of integers >= 0, got {indices!r:.80}")
    arr = arr.astype(np.int64)
    if arr.size and arr.min() < 0:
        raise ValueError(f"indices must be >= 0, got {int(arr.min())}")
    return arr


# -- the room shell -------------------------------------------------------------------------------


def _torch_col(values) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))


def _paint_shell(painter: Painter, scene: Scene):
    """Ceiling, side walls, floor (with planks) and back wall, each with a simple light gradient.

    The side walls and the floor are wedges between rays from the vanishing point through the back
    wall's corners. Each side wall overlaps the floor by 1.5 px so that the floor's anti-aliased
    edge blends with the wall and not with the ceiling painted below both. Each surface only
    touches the rows/columns where it can appear in some image of the batch.
    """
    cam, room = scene.camera, scene.room
    n, size = len(cam.f), cam.size
    left = -cam.f * room.left / room.depth                    # back-wall corners relative to the VP
    right = cam.f * room.right / room.depth
    top = -cam.f * (room.height - cam.eye) / room.depth
    bottom = cam.f * cam.eye / room.depth
    vp = (np.zeros(n), np.zeros(n))

    def ray(qx, qy, inside):
        a, b, c, _ = _line(vp, (qx, qy), (np.full(n, inside[0]), np.full(n, inside[1])))
        return _torch_col(a)[:, None, None], _torch_col(b)[:, None, None], _torch_col(c)[:, None, None]

    def span(lo, hi):
        return int(np.clip(np.floor(lo) - 2, 0, size)), int(np.clip(np.ceil(hi) + 2, 0, size))

    def wedge(rows, first, second, extend_second):
        """Coverage [N,h,W] of the wedge between two rays (the second one pushed out by ``extend``)."""
        r0, r1 = rows
        cov, tmp = painter.scratch(r1 - r0)
        (a1, b1, c1), (a2, b2, c2) = first, second
        dy = painter.dy[:, r0:r1]
        torch.add(b1 * painter.dx, a1 * dy + c1 + 0.5, out=cov)
        torch.add(b2 * painter.dx, a2 * dy + c2 + 0.5 + extend_second, out=tmp)
        return torch.minimum(cov, tmp, out=cov).clamp_(0.0, 1.0), tmp

    def paint(rows, cov, tmp, colour, owner):
        painter.claim(cov, tmp, torch.full((n, 1, 1), float(owner)), rows)
        painter.image[:, :, rows[0]:rows[1]].lerp_(colour, cov.unsqueeze(1))

    rows = painter.py[0, :, 0]                                 # [H]
    cols = painter.px[0, 0, :]                                 # [W]
    vx, vy = _torch_col(cam.vx)[:, None], _torch_col(cam.vy)[:, None]    # [N,1]

    def rgb(name):
        return _torch_col(scene.surfaces[name])[:, :, None, None]         # [N,3,1,1]

    # Ceiling everywhere first, brighter towards the camera.
    far_row = vy + _torch_col(top)[:, None]
    t = ((far_row - rows) / far_row.clamp(min=1.0)).clamp(0.0, 1.0)      # [N,H]
    painter.image.copy_(rgb("ceiling") * (0.88 + 0.12 * t)[:, None, :, None])
    painter.owner.fill_(4.0)

    # Side walls: lighter towards the picture edge, where they are nearer.
    for name, owner, qx, inside, edge in (("left_wall", 2, left, (-1.0, 0.0), 0.0),
                                          ("right_wall", 3, right, (1.0, 0.0), float(size))):
        cov, tmp = wedge((0, size), ray(qx, top, inside), ray(qx, bottom, inside), 1.5)
        corner = vx + _torch_col(qx)[:, None]
        t = ((cols - corner) / (edge - corner).abs().clamp(min=1.0) * (1 if edge > 0 else -1)).clamp(0.0, 1.0)
        paint((0, size), cov, tmp, rgb(name) * (0.9 + 0.1 * t)[:, None, None, :], owner)

    # Floor: darker far away, with plank seams and per-plank tone on wooden floors.
    floor_rows = span((cam.vy + bottom).min(), size)
    cov, tmp = wedge(floor_rows, ray(left, bottom, (0.0, 1.0)), ray(right, bottom, (0.0, 1.0)), 0.0)
    near_row = vy + _torch_col(bottom)[:, None]
    r = rows[floor_rows[0]:floor_rows[1]]
    t = ((r - near_row) / (size - near_row).clamp(min=1.0)).clamp(0.0, 1.0)   # [N,h]
    colour = rgb("floor") * (0.8 + 0.2 * t)[:, None, :, None]                  # [N,3,h,1]
    if (scene.floor_planks > 0).any():
        colour = colour * _plank_tone(painter, scene, floor_rows[0])
    paint(floor_rows, cov, tmp, colour, 0)

    # Back wall: a rectangle, slightly darker at the top.
    back_rows = span((cam.vy + top).min(), (cam.vy + bottom).max())
    r = rows[back_rows[0]:back_rows[1]]
    x0, x1 = vx + _torch_col(left)[:, None], vx + _torch_col(right)[:, None]
    y0, y1 = vy + _torch_col(top)[:, None], vy + _torch_col(bottom)[:, None]
    half = torch.tensor(0.5)
    band_x = (torch.minimum(x1 - cols, half) + torch.minimum(cols - x0, half)).clamp_(0.0, 1.0)   # [N,W]
    band_y = (torch.minimum(y1 - r, half) + torch.minimum(r - y0, half)).clamp_(0.0, 1.0)        # [N,h]
    cov, tmp = painter.scratch(back_rows[1] - back_rows[0])
    torch.mul(band_x[:, None, :], band_y[:, :, None], out=cov)
    t = ((r - y0) / (y1 - y0).clamp(min=1.0)).clamp(0.0, 1.0)
    paint(back_rows, cov, tmp, rgb("back_wall") * (0.95 + 0.05 * t)[:, None, :, None], 1)


def _plank_tone(painter: Painter, scene: Scene, first_row: int) -> torch.Tensor:
    """Brightness [N,1,h,W] of floor planks in rows ``first_row`` and below (1 where there are none).

    A floor point seen at (dx, dy) below the horizon lies at X = eye * dx / dy; planks run in depth,
    so seams are lines through the vanishing point. Seams fade out where planks get narrower than
    a few pixels, which would only alias.
    """
    cam = scene.camera
    width = _torch_col(scene.floor_planks)[:, None, None]                     # [N,1,1]
    eye = _torch_col(cam.eye)[:, None, None]
    rel_row = painter.dy[:, first_row:]                                       # [N,h,1]
    dy = rel_row.clamp(min=0.5)
    plank_px = width * dy / eye                                               # plank width in pixels per row
    amount = ((plank_px - 2.5) / 3.0).clamp(0.0, 1.0) * (rel_row > 0) * (width > 0)
    u = painter.dx * (eye / (width.clamp(min=1e-3) * dy))                     # [N,h,W] position in planks
    index = torch.floor(u)
    frac = u.sub_(index)
    seam = torch.minimum(frac, 1.0 - frac).mul_(plank_px).neg_().add_(1.0).clamp_(0.0, 1.0)
    tone = index.mul_(0.618034).frac_().abs_().sub_(0.5).mul_(0.12)         # low-discrepancy plank shades
    tone = tone.sub_(seam.mul_(0.3)).mul_(amount).add_(1.0)
    return tone.unsqueeze(1)


# -- rendering --------------------------------------------------------------------------------------


def _paint_chunk(scene: Scene, track_owner: bool) -> Painter:
    cam = scene.camera
    painter = Painter(cam.vx, cam.vy, cam.size, track_owner)
    _paint_shell(painter, scene)
    for layer in scene.layers:
        if layer.kind == "quads":
            painter.paint_quads(layer.table, labelled=layer.labelled)
        else:
            t = layer.table
            painter.paint_ellipses(t["cx"], t["cy"], t["rx"], t["ry"], t["colour"], t["alpha"], t["owner"],
                                   glow=layer.glow)
    size = cam.size
    centre = (torch.arange(size, dtype=torch.float32) + 0.5) / size - 0.5
    vignette = 1.0 - 0.35 * (centre[:, None] ** 2 + centre[None, :] ** 2)
    painter.image.mul_(vignette).mul_(_torch_col(scene.grade)[:, :, None, None])
    return painter


def _quantize(image: torch.Tensor) -> torch.Tensor:
    """[N,3,H,W] floats in [0,1] -> uint8 [N,H,W,3]."""
    return image.mul(255.0).round_().clamp_(0.0, 255.0).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def _objects(scene: Scene, owner: np.ndarray) -> list:
    """Per-image object dicts (see RoomBatch) from the scene's instance records and the owner map."""
    cam = scene.camera
    n, size = len(cam.f), cam.size
    n_inst = len(INSTANCE_KINDS)
    counts = np.bincount((owner.reshape(n, -1) + n_inst * np.arange(n)[:, None]).ravel(),
                         minlength=n * n_inst).reshape(n, n_inst)
    b = scene.boxes
    z0 = np.maximum(b[..., 4], 1e-3)
    z1 = np.maximum(b[..., 5], z0)
    cam_n = [np.repeat(v[:, None], n_inst, axis=1) for v in (cam.f, cam.vx, cam.vy, cam.eye)]
    proj = type(cam)(size, *cam_n)
    px0, py0, px1, py1 = project_bounds(proj, b[..., 0], b[..., 1], b[..., 2], b[..., 3], z0, z1)
    zc = 0.5 * (z0 + z1)
    cx = proj.px(0.5 * (b[..., 0] + b[..., 1]), zc)
    cy = proj.py(0.5 * (b[..., 2] + b[..., 3]), zc)
    inside = scene.present & (px1 > 0) & (px0 < size) & (py1 > 0) & (py0 < size)
    inside[:, :len(SURFACE_KINDS)] = False
    bbox = (np.clip(np.stack([px0, py0, px1, py1], axis=-1), 0.0, size) / size).tolist()      # [N,I,4]
    centre = np.clip(np.stack([cx, cy], axis=-1) / size, 0.0, 1.0).tolist()                 # [N,I,2]
    colours, depth, counts = scene.colours.tolist(), zc.tolist(), counts.tolist()
    out = []
    for i in range(n):
        out.append([{
            "kind": INSTANCE_KINDS[k],
            "label": int(INSTANCE_LABELS[k]),
            "centre": tuple(centre[i][k]),
            "bbox": tuple(bbox[i][k]),
            "colour": tuple(colours[i][k]),
            "depth": depth[i][k],
            "pixels": counts[i][k],
        } for k in np.flatnonzero(inside[i]).tolist()])
    return out


@contextmanager
def _one_thread():
    """Run torch on one thread: these small ops lose far more to thread sync than they gain."""
    threads = torch.get_num_threads()
    if threads != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if threads != 1:
            torch.set_num_threads(threads)


def _render(indices: np.ndarray, size: int, seed: int, with_meta: bool):
    """uint8 images [N,H,W,3] and, if asked, labels [N,H,W] int16 and object lists."""
    with _one_thread():
        return _render_blocks(indices, size, seed, with_meta)


def _render_blocks(indices: np.ndarray, size: int, seed: int, with_meta: bool):
    n = len(indices)
    images = torch.empty(n, size, size, 3, dtype=torch.uint8)
    labels = np.empty((n, size, size), dtype=np.int16) if with_meta else None
    vanishing = np.empty((n, 2), dtype=np.float32)
    objects = []
    lookup = torch.from_numpy(INSTANCE_LABELS.astype(np.int64))
    for block in range(0, n, _LAYOUT_BLOCK):
        block_scene = build_scene(indices[block:block + _LAYOUT_BLOCK], size, seed)
        # Paint images of similar workload together: a batch pays for its busiest image. Each image's
        # pixels do not depend on its batch-mates, so this only changes speed.
        order = np.argsort(block_scene.workload(), kind="stable")
        chunk = max(8, _CHUNK_PIXELS // (size * size))
        block_objects = [None] * len(order)
        for start in range(0, len(order), chunk):
            members = order[start:start + chunk]
            scene = block_scene.take(members)
            painter = _paint_chunk(scene, with_meta)
            at = block + members
            images[at] = _quantize(painter.image)
            vanishing[at] = np.stack([scene.camera.vx, scene.camera.vy], axis=1) / size
            if with_meta:
                owner = painter.owner.round().long()
                labels[at] = lookup[owner].numpy().astype(np.int16)
                for k, objs in zip(members, _objects(scene, owner.numpy())):
                    block_objects[k] = objs
        objects += block_objects if with_meta else []
    return images, labels, objects, vanishing


def render_rooms(indices, size: int = 64, seed: int = 0) -> RoomBatch:
    """Render the rooms with the given indices.

    indices: 1-D sequence of ints >= 0 (image ids; image i is the same whatever else is rendered).
    size:    image side in pixels (>= 16).
    seed:    dataset seed (int).
    Returns a RoomBatch with images uint8 [N,size,size,3], labels int16 [N,size,size] and objects.
    """
    indices = _check_indices(indices)
    size = _check_size(size)
    images, labels, objects, vanishing = _render(indices, size, int(seed), with_meta=True)
    return RoomBatch(images=images.numpy(), labels=labels, objects=objects, vanishing_points=vanishing)


class RoomDataset:
    """Map-style dataset of procedural bedrooms: item i is a float tensor [3,size,size] in [-1,1].

    ``length`` only bounds the valid indices (rooms are generated on demand, nothing is stored).
    ``batch(indices)`` renders many rooms at once, much faster than indexing one by one.
    """

    def __init__(self, length: int = 1_000_000, size: int = 64, seed: int = 0):
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
            raise ValueError(f"length must be an integer >= 1, got {length!r}")
        self.length = int(length)
        self.size = _check_size(size)
        self.seed = int(seed)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> torch.Tensor:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"RoomDataset index must be an int, got {type(index).__name__}")
        if not -self.length <= index < self.length:
            raise IndexError(f"RoomDataset index {index} out of range for length {self.length}")
        return self.batch([int(index) % self.length])[0]

    def batch(self, indices) -> torch.Tensor:
        """Rooms for ``indices`` (ints in [0, length)) as a float tensor [N,3,size,size] in [-1,1]."""
        indices = _check_indices(indices)
        if indices.size and indices.max() >= self.length:
            raise IndexError(f"RoomDataset index {int(indices.max())} out of range for length {self.length}")
        images = _render(indices, self.size, self.seed, with_meta=False)[0]
        return images.permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)

    def __repr__(self) -> str:
        return f"RoomDataset(length={self.length}, size={self.size}, seed={self.seed})"


def save_samples(path, n: int = 64, size: int = 64, seed: int = 0, start: int = 0) -> Path:
    """Write a PNG grid of rooms ``start .. start+n-1`` (about square, 2 px gaps) and return its path."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    images = render_rooms(np.arange(start, start + n), size=size, seed=seed).images
    return save_png(path, image_grid(images, gap=2, background=255))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m blobgan_lab rooms",
                                     description="Write a PNG grid of procedural bedrooms.")
    parser.add_argument("path", help="output .png file")
    parser.add_argument("--n", type=int, default=64, help="number of rooms")
    parser.add_argument("--size", type=int, default=64, help="image side in pixels")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed")
    parser.add_argument("--start", type=int, default=0, help="index of the first room")
    args = parser.parse_args(argv)
    print(save_samples(args.path, n=args.n, size=args.size, seed=args.seed, start=args.start))
    return 0
