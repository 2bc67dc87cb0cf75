"""Random bedroom layouts: camera, room, furniture and decals for a batch of image indices (numpy).

Everything is vectorized over the batch; every random number comes from ``Draws`` so that an image
depends only on (seed, index). The result is a ``Scene``: the room shell's colours plus an ordered
list of primitive layers for ``_raster.Painter`` and per-instance metadata (kind, 3-D box, colour).

Furniture stands in *groups* (the bed with its pillows and covers; each nightstand with its lamp;
the wardrobe; a floor lamp). The groups' paint order is decided per image from their floor footprints, so that a
nearer group always covers a farther one whatever the camera position.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import _palette as pal
from ._random import Draws
from ._raster import OPEN, QuadTable
from ._room_geometry import (
    BACK,
    LEFT,
    RIGHT,
    Camera,
    Room,
    box_quads,
    horizontal_quad,
    wall_extent,
    wall_quad,
)

SURFACE_KINDS = ("floor", "back_wall", "left_wall", "right_wall", "ceiling")
OBJECT_KINDS = ("bed", "pillow", "window", "lamp", "painting", "rug", "nightstand", "wardrobe",
                "ceiling_light", "curtain")
LABEL_NAMES = SURFACE_KINDS + OBJECT_KINDS

# Instances are fixed slots (an absent object keeps its slot); the first five are the surfaces, so an
# instance id below 5 equals its surface's label id.
INSTANCE_KINDS = SURFACE_KINDS + ("bed", "pillow", "pillow", "window", "curtain", "curtain", "painting",
                                  "rug", "nightstand", "nightstand", "lamp", "lamp", "wardrobe",
                                  "ceiling_light", "lamp")
INSTANCE_LABELS = np.array([LABEL_NAMES.index(k) for k in INSTANCE_KINDS], dtype=np.int16)
_SLOT = {}
for _i, _k in enumerate(INSTANCE_KINDS):
    _SLOT.setdefault(_k, []).append(_i)
BED, PILLOWS, WINDOW, CURTAINS = _SLOT["bed"][0], _SLOT["pillow"], _SLOT["window"][0], _SLOT["curtain"]
PAINTING, RUG, NIGHTSTANDS, LAMPS = _SLOT["painting"][0], _SLOT["rug"][0], _SLOT["nightstand"], _SLOT["lamp"]
WARDROBE, CEILING_LIGHT = _SLOT["wardrobe"][0], _SLOT["ceiling_light"][0]


@dataclass
class Layer:
    """One paint call: quads (``kind='quads'``) or ellipses (``kind='ellipses'``), in paint order."""

    kind: str
    table: object                 # QuadTable, or a dict of ellipse arrays [M,N] (colours [M,N,3])
    labelled: bool = True         # quads: write the owner map
    glow: bool = False            # ellipses: soft glow instead of a solid disc

    def take(self, sl) -> Layer:
        """The images ``sl`` (a slice or an index array) of this layer."""
        if self.kind == "quads":
            table = QuadTable(**{k: v[:, sl] for k, v in self.table.arrays.items()})
        else:
            table = {k: v[:, sl] for k, v in self.table.items()}
        return Layer(self.kind, table, self.labelled, self.glow)


@dataclass
class Scene:
    camera: Camera
    room: Room
    surfaces: dict                # name -> RGB [N,3] of floor, back/left/right walls, ceiling (lit)
    floor_planks: np.ndarray      # [N] plank width in metres (0 = no planks)
    grade: np.ndarray             # [N,3] final colour multiplier (exposure and white balance)
    layers: list = field(default_factory=list)
    present: np.ndarray = None    # [N,I] bool per instance slot
    boxes: np.ndarray = None      # [N,I,6] world box (x0, x1, y0, y1, z0, z1) per instance
    colours: np.ndarray = None    # [N,I,3] main RGB colour per instance

    def workload(self) -> np.ndarray:
        """Number of quads each image paints ([N] ints): images of similar workload batch well."""
        return sum((layer.table.arrays["x0"] < OPEN / 2).sum(axis=0) for layer in self.layers
                   if layer.kind == "quads")

    def take(self, sl) -> Scene:
        """The images ``sl`` (a slice or an index array) of this scene."""
        cam, room = self.camera, self.room
        return Scene(
            camera=Camera(cam.size, cam.f[sl], cam.vx[sl], cam.vy[sl], cam.eye[sl]),
            room=Room(room.left[sl], room.right[sl], room.height[sl], room.depth[sl]),
            surfaces={k: v[sl] for k, v in self.surfaces.items()},
            floor_planks=self.floor_planks[sl],
            grade=self.grade[sl],
            layers=[layer.take(sl) for layer in self.layers],
            present=self.present[sl], boxes=self.boxes[sl], colours=self.colours[sl],
        )


class _Geometry:
    """Quad requests of the whole scene, computed in bulk.

    The layout's cost is per numpy call, not per element, so every wall decal, floor decal and box
    of the scene is computed together on [K,N] arrays; _Quads.finish then gathers the rows it asked
    for, in paint order.
    """

    def __init__(self, cam: Camera, room: Room, light_x: np.ndarray):
        self.cam, self.room, self.light_x = cam, room, light_x
        self.n = len(cam.f)
        self._requests = {"wall": [], "floor": [], "box": []}
        self._results = {}

    def wall(self, wall, u0, u1, y0, y1, d=0.0):
        """Flat quad on/parallel to ``wall`` (see wall_quad); returns a reference for _Quads.add."""
        return self._request("wall", dict(wall=wall, u0=u0, u1=u1, y0=y0, y1=y1, d=d))

    def floor(self, x0, x1, z0, z1):
        """Quad lying on the floor; returns a reference for _Quads.add."""
        return self._request("floor", dict(x0=x0, x1=x1, z0=z0, z1=z1))

    def box(self, x0, x1, y0, y1, z0, z1, colour, taper=0.0, emissive=False):
        """References to the [front, top, side] faces of a box (with their shaded colours)."""
        ref = self._request("box", dict(x0=x0, x1=x1, y0=y0, y1=y1, z0=z0, z1=z1, colour=colour, taper=taper,
                                        emissive=emissive))
        return [ref + (face,) for face in range(3)]

    def _request(self, kind, fields):
        self._requests[kind].append(fields)
        return (kind, len(self._requests[kind]) - 1)

    def _stack(self, kind):
        reqs = self._requests[kind]
        out = {}
        for key in reqs[0]:
            out[key] = stacked = np.empty((len(reqs), self.n) + ((3,) if key == "colour" else ()))
            for i, r in enumerate(reqs):
                stacked[i] = r[key]
        return out

    def resolve(self):
        cam, room = self.cam, self.room
        if self._requests["wall"]:
            a = self._stack("wall")
            self._results["wall"] = wall_quad(cam, room, a["wall"], a["u0"], a["u1"], a["y0"], a["y1"], a["d"])
        if self._requests["floor"]:
            a = self._stack("floor")
            self._results["floor"] = horizontal_quad(cam, np.zeros_like(a["x0"]), a["x0"], a["x1"], a["z0"],
                                                     a["z1"])
        if self._requests["box"]:
            a = self._stack("box")
            self._results["box"] = box_quads(cam, a["x0"], a["x1"], a["y0"], a["y1"], a["z0"], a["z1"],
                                             a["colour"], self.light_x, a["taper"], a["emissive"].astype(bool))

    def result(self, kind: str, face=None) -> dict:
        """All quads of one kind (box faces: one face) as [K,N] arrays; call after resolve()."""
        result = self._results[kind]
        return result if face is None else result[face]


class _Quads:
    """Quads in paint order (references into a _Geometry), stacked into arrays [M,N] by finish()."""

    def __init__(self, n):
        self.n = n
        self.requests = []
        self.arrays = None

    def add(self, ref, present, owner, top=None, bottom=None, alpha=1.0, soft=1.0):
        """Queue a quad; ``top``/``bottom`` None takes the shaded colours of a box face."""
        self.requests.append((ref, present, owner, top, bottom, alpha, soft))

    def finish(self, geometry: _Geometry) -> _Quads:
        """Gather the queued quads into ``arrays`` (after geometry.resolve())."""
        m, n = len(self.requests), self.n
        rows_of = {}                                       # (kind, face) -> ([positions], [rows])
        for pos, (ref, *_) in enumerate(self.requests):
            where = rows_of.setdefault((ref[0], ref[2] if len(ref) == 3 else None), ([], []))
            where[0].append(pos)
            where[1].append(ref[1])
        arrays = {}
        for (kind, face), (positions, rows) in rows_of.items():
            result = geometry.result(kind, face)
            for key, value in result.items():
                if key not in arrays:
                    arrays[key] = np.empty((m,) + value.shape[1:], dtype=value.dtype)
                arrays[key][positions] = value[rows]
        for key in ("present", "owner", "alpha", "soft"):
            arrays[key] = np.empty((m, n), dtype=bool if key == "present" else np.float64)
        for key in ("top", "bottom"):
            arrays.setdefault(key, np.empty((m, n, 3)))
        for pos, (_, present, owner, top, bottom, alpha, soft) in enumerate(self.requests):
            arrays["present"][pos], arrays["owner"][pos] = present, owner
            arrays["alpha"][pos], arrays["soft"][pos] = alpha, soft
            if top is not None:
                arrays["top"][pos] = top
                arrays["bottom"][pos] = top if bottom is None else bottom
        visible = arrays.pop("ok") & arrays.pop("present")
        arrays["x0"] = np.where(visible, arrays["x0"], OPEN)        # an absent quad covers nothing
        arrays["x1"] = np.where(visible, arrays["x1"], -OPEN)
        self.arrays = arrays
        self.requests = []
        return self

    def __len__(self) -> int:
        return len(self.arrays["x0"])

    def visible_first(self) -> QuadTable:
        """QuadTable with, per image, the quads that paint something first (in their order)."""
        m = len(self)
        empty = (self.arrays["x0"] >= OPEN / 2).T                                            # [N,M]
        return self.table(np.argsort(np.arange(m)[None, :] + empty * m, axis=1, kind="stable"))

    def table(self, order=None) -> QuadTable:
        """QuadTable of the quads; ``order`` [N,M] optionally permutes them per image."""
        arrays = dict(self.arrays)
        if order is not None:
            for k, v in arrays.items():
                idx = order.T if v.ndim == 2 else order.T[..., None]
                arrays[k] = np.take_along_axis(v, idx, axis=0)
        return QuadTable(**arrays)


# -- camera and room -------------------------------------------------------------------------------


def _camera_and_room(d: Draws, size: int):
    f = d.uniform("cam.focal", 0.55, 0.8) * size
    height = d.uniform("room.height", 2.45, 3.0)
    eye = d.uniform("cam.eye", 1.0, 1.55)
    width = d.uniform("room.width", 3.0, 4.4)
    # Keep the back wall between 42% and 80% of the picture width.
    depth = np.clip(d.uniform("room.depth", 3.4, 5.2), f * width / (0.80 * size), f * width / (0.42 * size))
    lateral = d.uniform("cam.lateral", 0.3, 0.7)
    left, right = lateral * width, (1.0 - lateral) * width
    back_px = f * width / depth
    margin = 0.05 * size
    back_x0 = margin + d.uniform("cam.shift") * np.maximum(size - back_px - 2 * margin, 0.0)
    vx = back_x0 + f * left / depth
    vy = d.uniform("cam.horizon", 0.36, 0.52) * size
    top, bottom = vy - f * (height - eye) / depth, vy + f * eye / depth
    vy = vy + np.maximum(0.04 * size - top, 0.0) - np.maximum(bottom - 0.96 * size, 0.0)
    return Camera(size, f, vx, vy, eye), Room(left, right, height, depth)


def _visible_from(cam: Camera, room: Room, wall):
    """Depth Z from which a side wall is inside the picture ([N]; 0 for the back wall)."""
    left = cam.f * room.left / np.maximum(cam.vx, 1e-3)
    right = cam.f * room.right / np.maximum(cam.size - cam.vx, 1e-3)
    return np.select([wall == LEFT, wall == RIGHT], [left, right], 0.0)


def _wall_span(cam, room, wall, half, margin):
    """Allowed range (lo, hi) of the centre u of a wall item of half-width ``half`` ([N] each)."""
    lo = np.where(wall == BACK, -room.left, _visible_from(cam, room, wall) * 1.05) + half + margin
    hi = np.where(wall == BACK, room.right, room.depth) - half - margin
    return lo, hi


def _pick_wall(u, weights):
    """Per image choice of a wall from weights [3,N] (rows: back, left, right); -1 if all are 0."""
    total = weights.sum(axis=0)
    cut = u * total
    wall = (cut >= weights[0]).astype(int) + (cut >= weights[0] + weights[1]).astype(int)
    return np.where(total > 0, wall, -1)


# -- the scene -------------------------------------------------------------------------------------


def build_scene(indices, size: int, seed: int) -> Scene:
    """Random bedrooms for ``indices`` ([N] ints >= 0) rendered at ``size`` px with ``seed``."""
    d = Draws(indices, seed)
    n = d.n
    U = d.uniform
    cam, room = _camera_and_room(d, size)
    n_inst = len(INSTANCE_KINDS)
    present = np.zeros((n, n_inst), dtype=bool)
    present[:, :5] = True
    boxes = np.zeros((n, n_inst, 6))
    colours = np.zeros((n, n_inst, 3))

    def record(slot, there, box, colour):
        present[:, slot] = there
        boxes[:, slot] = np.stack(np.broadcast_arrays(*box), axis=-1)
        colours[:, slot] = colour

    # Light mostly comes from the window; its side sets which walls and box faces are brighter.
    light_x = U("light.x", -0.5, 0.5)

    # ---- surfaces ----
    wall_rgb = pal.draw_colour(d, "wall", pal.WALL)
    accent = d.chance("wall.accent", 0.2)
    back_rgb = np.where(accent[:, None], pal.draw_colour(d, "wall.accent_rgb", pal.WALL), wall_rgb)
    floor_rgb = pal.draw_colour(d, "floor", pal.FLOOR)
    floor_is_wood = d.choice("floor.mix", [w for w, *_ in pal.FLOOR]) == 0
    ceiling_rgb = pal.draw_colour(d, "ceiling", pal.CEILING)

    # ---- bed ----
    has_bed = d.chance("bed", 0.92)
    double = d.chance("bed.double", 0.7)
    bed_w = np.where(double, U("bed.w2", 1.4, 1.85), U("bed.w1", 0.9, 1.2))
    bed_l = U("bed.length", 1.95, 2.2)
    width = room.left + room.right
    lo, hi = -room.left + bed_w / 2 + 0.15, room.right - bed_w / 2 - 0.15
    u_back = np.where(lo < hi, lo + (hi - lo) * (0.5 + 0.7 * (U("bed.u") - 0.5)), (room.right - room.left) / 2)
    side_wall = np.where(d.chance("bed.side_left", 0.5), LEFT, RIGHT)
    u_side = room.depth - bed_w / 2 - U("bed.gap", 0.05, 1.0)
    side_ok = (u_side - bed_w / 2 >= _visible_from(cam, room, side_wall) + 0.2) & (bed_l <= width - 1.0)
    bed_wall = np.where(d.chance("bed.on_side", 0.3) & side_ok, side_wall, BACK)
    bed_u = np.where(bed_wall == BACK, u_back, u_side)
    head_h = U("bed.head_h", 0.85, 1.35)
    frame_h = U("bed.frame_h", 0.18, 0.34)
    top_h = frame_h + U("bed.mattress_h", 0.18, 0.28)
    pillow_d, pillow_h = U("pillow.depth", 0.3, 0.42), U("pillow.height", 0.12, 0.2)
    cover_d0 = 0.1 + pillow_d + U("bed.cover_gap", 0.02, 0.35)
    frame_rgb = pal.draw_colour(d, "bed.frame", pal.UPHOLSTERY)
    head_rgb = np.where(d.chance("bed.head_same", 0.7)[:, None], frame_rgb,
                        pal.draw_colour(d, "bed.head", pal.UPHOLSTERY))
    sheet_rgb = pal.draw_colour(d, "bed.sheet", pal.SHEET)
    cover_rgb = pal.draw_colour(d, "bed.cover", pal.FABRIC)
    pillow_rgb = np.where(d.chance("pillow.white", 0.55)[:, None], sheet_rgb,
                          pal.draw_colour(d, "pillow", pal.FABRIC))
    throw_rgb = pal.draw_colour(d, "bed.throw", pal.FABRIC)

    # ---- nightstands and lamps ----
    ns_w, ns_d, ns_h = U("ns.w", 0.4, 0.55), U("ns.d", 0.35, 0.45), U("ns.h", 0.45, 0.62)
    ns_rgb = pal.draw_colour(d, "ns", pal.WOOD)
    ns_u, ns_present = [], []
    for k, sign in enumerate((-1.0, 1.0)):
        u = bed_u + sign * (bed_w / 2 + 0.06 + ns_w / 2)
        lo, hi = _wall_span(cam, room, bed_wall, ns_w / 2, 0.02)
        lo = np.where(bed_wall == BACK, lo, _visible_from(cam, room, bed_wall) + ns_w / 2)
        ns_u.append(u)
        ns_present.append(has_bed & d.chance(f"ns{k}", 0.7) & (u >= lo) & (u <= hi))
    lamp_present = [p & d.chance(f"lamp{k}", 0.75) for k, p in enumerate(ns_present)]
    lamp_stem = U("lamp.stem", 0.25, 0.4)
    shade_w, shade_h = U("lamp.shade_w", 0.25, 0.38), U("lamp.shade_h", 0.18, 0.28)
    shade_taper = U("lamp.taper", 0.1, 0.2)
    shade_rgb = pal.draw_colour(d, "lamp.shade", pal.LIGHT)
    lamp_base_rgb = pal.draw_colour(d, "lamp.base", pal.METAL)

    # ---- wardrobe ----
    wr_wall = np.select([bed_wall == LEFT, bed_wall == RIGHT], [RIGHT, LEFT],
                        np.where(d.chance("wardrobe.left", 0.5), LEFT, RIGHT))
    wr_w, wr_d = U("wardrobe.w", 0.9, 1.6), U("wardrobe.d", 0.55, 0.62)
    wr_h = np.minimum(U("wardrobe.h", 1.85, 2.25), room.height - 0.15)
    wr_far = room.depth - U("wardrobe.gap", 0.02, 0.4)
    wr_x0 = np.where(wr_wall == LEFT, -room.left, room.right - wr_d)
    wr_x1 = wr_x0 + wr_d

    def clashes(u, half, there):
        return there & (bed_wall == BACK) & (u - half < wr_x1) & (u + half > wr_x0)

    limit = room.depth.copy()
    for u, there in zip(ns_u, ns_present):
        limit = np.where(clashes(u, ns_w / 2, there), np.minimum(limit, room.depth - ns_d - 0.1), limit)
    limit = np.where(clashes(bed_u, bed_w / 2 + 0.03, has_bed), np.minimum(limit, room.depth - bed_l - 0.1),
                     limit)
    wr_far = np.minimum(wr_far, limit)
    wr_near = wr_far - wr_w
    has_wr = (d.chance("wardrobe", 0.45) & (wr_near >= _visible_from(cam, room, wr_wall) * 0.9 + 0.1)
              & ~(has_bed & (bed_wall != BACK) & (bed_l + wr_d > width - 0.6)))
    wr_rgb = pal.draw_colour(d, "wardrobe", pal.WOOD)

    # ---- window ----
    weights = np.stack([np.full(n, 0.4), np.full(n, 0.3), np.full(n, 0.3)])
    for w in (LEFT, RIGHT):
        weights[w] *= np.where(has_wr & (wr_wall == w), 0.0, 1.0)
        weights[w] *= np.where(has_bed & (bed_wall == w), 0.15, 1.0)
    win_wall = _pick_wall(U("window.wall"), weights)
    win_w = U("window.w", 0.8, 1.8)
    sill = U("window.sill", 0.75, 1.05)
    win_top = np.minimum(room.height - 0.25, sill + U("window.h", 1.0, 1.5))
    lo, hi = _wall_span(cam, room, win_wall, 0.0, 0.35)
    win_w = np.minimum(win_w, hi - lo)
    has_win = d.chance("window", 0.8) & (win_wall >= 0) & (win_w >= 0.6)
    win_u = lo + win_w / 2 + U("window.u") * np.maximum(hi - lo - win_w, 0.0)
    light_x = np.select([has_win & (win_wall == LEFT), has_win & (win_wall == RIGHT)], [-1.0, 1.0], light_x)
    sky_kind = d.choice("sky", [0.75, 0.15, 0.1])
    sky_rgb = np.select([sky_kind[:, None] == 0, sky_kind[:, None] == 1],
                        [pal.draw_colour(d, "sky.day", pal.SKY_DAY), pal.draw_colour(d, "sky.dusk", pal.SKY_DUSK)],
                        pal.hsv_to_rgb(U("sky.night.h", 0.58, 0.68), U("sky.night.s", 0.5, 0.8),
                                       U("sky.night.v", 0.12, 0.3)))
    horizon_rgb = np.clip(sky_rgb + (1.0 - sky_rgb) * np.where(sky_kind == 2, 0.15, 0.6)[:, None], 0, 1)
    outside_rgb = pal.draw_colour(d, "window.outside", pal.FOLIAGE) * np.where(sky_kind == 2, 0.3, 1.0)[:, None]
    win_frame_rgb = np.where(d.chance("window.white", 0.7)[:, None], pal.draw_colour(d, "window.frame_w", pal.SHEET),
                             pal.draw_colour(d, "window.frame", pal.WOOD))
    curtain_rgb = pal.draw_colour(d, "curtain", pal.FABRIC)
    has_curtains = has_win & d.chance("curtains", 0.65)
    curtain_w = U("curtain.w", 0.22, 0.4)
    curtain_bottom = np.where(d.chance("curtain.long", 0.55), 0.03, sill - 0.15)

    # ---- painting ----
    paint_wall = np.where(has_bed & d.chance("painting.over_bed", 0.75), bed_wall,
                          _pick_wall(U("painting.wall"), np.stack([np.full(n, 0.5), np.full(n, 0.25),
                                                                  np.full(n, 0.25)])))
    blocked = (has_win & (paint_wall == win_wall)) | (has_wr & (paint_wall == wr_wall))
    over_bed = has_bed & (paint_wall == bed_wall)
    paint_w = U("painting.w", 0.5, 1.2)
    paint_w = np.where(over_bed, np.minimum(paint_w, bed_w * 0.85), paint_w)
    paint_h = np.clip(paint_w * U("painting.aspect", 0.55, 0.95), 0.35, 0.9)
    paint_y0 = np.maximum(np.where(over_bed, head_h + 0.15, 1.0), 1.05) + U("painting.lift", 0.0, 0.15)
    paint_y0 = np.minimum(paint_y0, room.height - 0.2 - paint_h)
    lo, hi = _wall_span(cam, room, paint_wall, paint_w / 2, 0.2)
    paint_u = np.where(over_bed, bed_u, lo + U("painting.u") * np.maximum(hi - lo, 0.0))
    has_paint = d.chance("painting", 0.65) & ~blocked & (over_bed | (hi >= lo))
    art_rgb = [pal.draw_colour(d, f"painting.art{k}", pal.ART) for k in range(4)]
    paint_frame_rgb = pal.draw_colour(d, "painting.frame", pal.FRAME)

    # ---- rug ----
    rug_x0 = np.select(
        [bed_wall == BACK, bed_wall == LEFT],
        [bed_u - (bed_w + U("rug.extra_w", 0.4, 1.2)) / 2, -room.left + bed_l - U("rug.under", 0.3, 0.8)],
        room.right - bed_l + U("rug.under", 0.3, 0.8) - U("rug.len", 1.0, 1.6))
    rug_x1 = np.select([bed_wall == BACK, bed_wall == LEFT],
                       [2 * bed_u - rug_x0, rug_x0 + U("rug.len", 1.0, 1.6)],
                       room.right - bed_l + U("rug.under", 0.3, 0.8))
    rug_z1 = np.where(bed_wall == BACK, room.depth - bed_l + U("rug.under", 0.3, 0.8),
                      bed_u + (bed_w + U("rug.extra_w", 0.4, 1.2)) / 2)
    rug_z0 = np.where(bed_wall == BACK, room.depth - bed_l - U("rug.front", 0.5, 1.1),
                      2 * bed_u - rug_z1)
    free_x = (room.right - room.left) / 2 + U("rug.free_x", -0.3, 0.3)
    free_z = room.depth * U("rug.free_z", 0.5, 0.7)
    free_hx, free_hz = U("rug.free_hx", 0.6, 1.0), U("rug.free_hz", 0.5, 0.9)
    rug_x0 = np.where(has_bed, rug_x0, free_x - free_hx)
    rug_x1 = np.where(has_bed, rug_x1, free_x + free_hx)
    rug_z0 = np.where(has_bed, rug_z0, free_z - free_hz)
    rug_z1 = np.where(has_bed, rug_z1, free_z + free_hz)
    rug_x0 = np.maximum(rug_x0, -room.left + 0.15 + np.where(has_wr & (wr_wall == LEFT), wr_d, 0.0))
    rug_x1 = np.minimum(rug_x1, room.right - 0.15 - np.where(has_wr & (wr_wall == RIGHT), wr_d, 0.0))
    rug_z0, rug_z1 = np.maximum(rug_z0, 0.9), np.minimum(rug_z1, room.depth - 0.15)
    has_rug = d.chance("rug", 0.55) & (rug_x1 - rug_x0 > 0.6) & (rug_z1 - rug_z0 > 0.5)
    rug_rgb = pal.draw_colour(d, "rug", pal.RUG)
    rug_border_rgb = pal.draw_colour(d, "rug.border", pal.RUG)
    rug_border = U("rug.border", 0.06, 0.15)

    # ---- ceiling light ----
    cl_x = (room.right - room.left) / 2 + U("cl.x", -0.3, 0.3)
    cl_zmin = cam.f * (room.height - cam.eye) / np.maximum(cam.vy - 0.06 * size, 1.0) + 0.2
    cl_z = np.maximum(room.depth * U("cl.z", 0.4, 0.65), cl_zmin)
    cl_r = U("cl.r", 0.15, 0.28)
    has_cl = d.chance("ceiling_light", 0.55) & (cl_z < room.depth - 0.4)
    cl_rgb = pal.draw_colour(d, "cl", pal.LIGHT)
    cl_rim_rgb = pal.draw_colour(d, "cl.rim", pal.METAL)

    # ---- lit surface colours ----
    surfaces = {
        "floor": floor_rgb,
        "back_wall": pal.shade(back_rgb, 0.93),
        "left_wall": pal.shade(wall_rgb, 0.84 + 0.1 * light_x),
        "right_wall": pal.shade(wall_rgb, 0.84 - 0.1 * light_x),
        "ceiling": ceiling_rgb,
    }
    planks = np.where(floor_is_wood, U("floor.plank", 0.12, 0.22), 0.0)
    warmth = U("grade.warmth", -0.04, 0.04)
    grade = U("grade.exposure", 0.88, 1.08)[:, None] * np.stack([1 + warmth, np.ones(n), 1 - warmth], axis=1)
    scene = Scene(cam, room, surfaces, planks, grade)

    # ================= layers, back to front =================
    geo = _Geometry(cam, room, light_x)
    # Skirting boards belong to their wall.
    decals = _Quads(n)
    skirt_h = U("skirting.h", 0.06, 0.12)
    has_skirt = d.chance("skirting", 0.7)
    skirt_rgb = np.where(d.chance("skirting.white", 0.6)[:, None], pal.draw_colour(d, "skirting", pal.SHEET),
                         pal.shade(wall_rgb, 0.8))
    for wall, owner in ((BACK, 1), (LEFT, 2), (RIGHT, 3)):
        w = np.full(n, wall)
        u0 = np.where(w == BACK, -room.left, 0.2)
        u1 = np.where(w == BACK, room.right, room.depth)
        lit = surfaces[("back_wall", "left_wall", "right_wall")[wall]] / np.maximum(wall_rgb, 1e-3)
        decals.add(geo.wall(w, u0, u1, np.zeros(n), skirt_h), has_skirt, owner,
                   np.clip(skirt_rgb * lit.mean(axis=1, keepdims=True), 0, 1))

    # Window: frame, sill, sky, outside, bars; then curtains and the rod.
    frame_t = 0.06
    u0, u1 = win_u - win_w / 2, win_u + win_w / 2
    decals.add(geo.wall(win_wall, u0 - 2 * frame_t, u1 + 2 * frame_t, sill - frame_t - 0.05,
                         sill - frame_t), has_win, WINDOW, pal.shade(win_frame_rgb, 1.05))
    decals.add(geo.wall(win_wall, u0 - frame_t, u1 + frame_t, sill - frame_t, win_top + frame_t),
               has_win, WINDOW, win_frame_rgb)
    decals.add(geo.wall(win_wall, u0, u1, sill, win_top), has_win, WINDOW, sky_rgb, horizon_rgb)
    outside_top = sill + (win_top - sill) * U("window.outside_h", 0.15, 0.45)
    decals.add(geo.wall(win_wall, u0, u1, sill, outside_top),
               has_win & d.chance("window.outside", 0.55), WINDOW, outside_rgb, pal.shade(outside_rgb, 0.75))
    bar = 0.025
    decals.add(geo.wall(win_wall, win_u - bar, win_u + bar, sill, win_top),
               has_win & ((win_w > 1.1) | d.chance("window.vbar", 0.4)), WINDOW, win_frame_rgb)
    bar_y = sill + (win_top - sill) * U("window.hbar_y", 0.55, 0.72)
    decals.add(geo.wall(win_wall, u0, u1, bar_y - bar, bar_y + bar),
               has_win & d.chance("window.hbar", 0.5), WINDOW, win_frame_rgb)
    curtain_top = win_top + 0.15
    for k, (c0, c1) in enumerate(((u0 - curtain_w * 0.8, u0 + curtain_w * 0.2),
                                  (u1 - curtain_w * 0.2, u1 + curtain_w * 0.8))):
        decals.add(geo.wall(win_wall, c0, c1, curtain_bottom, curtain_top), has_curtains,
                   CURTAINS[k], curtain_rgb, pal.shade(curtain_rgb, 0.8))
        record(CURTAINS[k], has_curtains, (*wall_extent(room, win_wall, c0, c1, 0.0, 0.02)[:2],
                                           curtain_bottom, curtain_top,
                                           *wall_extent(room, win_wall, c0, c1, 0.0, 0.02)[2:]), curtain_rgb)
    decals.add(geo.wall(win_wall, u0 - curtain_w * 0.9, u1 + curtain_w * 0.9, curtain_top,
                         curtain_top + 0.03), has_curtains, WINDOW, lamp_base_rgb)
    # The window owns its frame, sill ledge and (with curtains) the rod.
    reach = np.where(has_curtains, np.maximum(curtain_w * 0.9, 2 * frame_t), 2 * frame_t)
    wx0, wx1, wz0, wz1 = wall_extent(room, win_wall, u0 - reach, u1 + reach, 0.0, 0.0)
    record(WINDOW, has_win, (wx0, wx1, sill - frame_t - 0.05,
                             np.where(has_curtains, curtain_top + 0.03, win_top + frame_t), wz0, wz1), sky_rgb)

    # Painting: frame, canvas with a "landscape" split and an accent shape.
    p0, p1 = paint_u - paint_w / 2, paint_u + paint_w / 2
    py0, py1 = paint_y0, paint_y0 + paint_h
    t = 0.035
    decals.add(geo.wall(paint_wall, p0, p1, py0, py1), has_paint, PAINTING, paint_frame_rgb)
    decals.add(geo.wall(paint_wall, p0 + t, p1 - t, py0 + t, py1 - t), has_paint, PAINTING,
               art_rgb[0], pal.shade(art_rgb[0], 0.8))
    split = py0 + t + (paint_h - 2 * t) * U("painting.split", 0.25, 0.55)
    decals.add(geo.wall(paint_wall, p0 + t, p1 - t, py0 + t, split),
               has_paint & d.chance("painting.land", 0.7), PAINTING, art_rgb[1], pal.shade(art_rgb[1], 0.75))
    a_size = (paint_h - 2 * t) * U("painting.accent", 0.15, 0.35)
    a_u = p0 + t + (paint_w - 2 * t - a_size) * U("painting.accent_u")
    a_y = py0 + t + (paint_h - 2 * t - a_size) * U("painting.accent_y")
    decals.add(geo.wall(paint_wall, a_u, a_u + a_size, a_y, a_y + a_size),
               has_paint & d.chance("painting.has_accent", 0.6), PAINTING, art_rgb[2])
    px0_, px1_, pz0_, pz1_ = wall_extent(room, paint_wall, p0, p1, 0.0, 0.0)
    record(PAINTING, has_paint, (px0_, px1_, py0, py1, pz0_, pz1_), art_rgb[0])

    # Rug: border, field, optional medallion.
    decals.add(geo.floor(rug_x0, rug_x1, rug_z0, rug_z1), has_rug, RUG,
               pal.shade(rug_border_rgb, 0.9), rug_border_rgb)
    b = rug_border
    decals.add(geo.floor(rug_x0 + b, rug_x1 - b, rug_z0 + b, rug_z1 - b), has_rug, RUG,
               pal.shade(rug_rgb, 0.9), rug_rgb)
    b2 = 2.5 * rug_border + 0.1
    decals.add(geo.floor(rug_x0 + b2, rug_x1 - b2, rug_z0 + b2, rug_z1 - b2),
               has_rug & d.chance("rug.inner", 0.4), RUG, rug_border_rgb)
    record(RUG, has_rug, (rug_x0, rug_x1, 0.0, 0.01, rug_z0, rug_z1), rug_rgb)

    # Translucent, never labelled: sunlight through the window on the floor, then contact shadows
    # under the furniture groups.
    shadows = _Quads(n)
    sun_k = U("sun.slope", 0.45, 0.9)
    sun_shift = (win_top - sill) * U("sun.shift", -0.35, 0.35)
    sun_x0, sun_x1, sun_z0, sun_z1 = wall_extent(room, win_wall, u0 + sun_shift, u1 + sun_shift, sill * sun_k,
                                                 win_top * sun_k)
    sun_z0 = np.maximum(sun_z0, 0.5)
    sun_strength = np.select([sky_kind == 0, sky_kind == 1], [0.35, 0.2], 0.0)
    sunlit_floor = np.clip(floor_rgb * 1.6 + 0.08, 0, 1)      # a brighter floor keeps its hue
    shadows.add(geo.floor(sun_x0, sun_x1, sun_z0, sun_z1), has_win & (sun_z1 > sun_z0), -1,
                sunlit_floor, alpha=sun_strength,
                soft=np.maximum(cam.f * 0.08 / np.maximum(0.5 * (sun_z0 + sun_z1), 0.5), 1.0))

    # ---- furniture groups ----
    groups = []          # (quads, footprint (x0, x1, z0, z1), present)

    def wall_boxes(quads, wall, u, half, d0, d1, y0, y1, colour, there, owner, taper=None, emissive=None,
                   faces=(0, 1, 2)):
        x0, x1, z0, z1 = wall_extent(room, wall, u - half, u + half, d0, d1)
        y0, y1 = np.broadcast_to(y0, (n,)), np.broadcast_to(y1, (n,))
        refs = geo.box(x0, x1, y0, y1, z0, z1, colour, 0.0 if taper is None else taper,
                       False if emissive is None else emissive)
        for i in faces:
            quads.add(refs[i], there, owner)
        return x0, x1, y0, y1, z0, z1

    # Bed: headboard, frame, mattress, pillows, cover, folded sheet, throw.
    bed = _Quads(n)
    half = bed_w / 2
    wall_boxes(bed, bed_wall, bed_u, half + 0.03, 0.0, 0.07, 0.0, head_h, head_rgb, has_bed, BED)
    wall_boxes(bed, bed_wall, bed_u, half, 0.07, bed_l, 0.0, frame_h, frame_rgb, has_bed, BED)
    wall_boxes(bed, bed_wall, bed_u, half - 0.01, 0.08, bed_l - 0.01, frame_h, top_h, sheet_rgb, has_bed, BED)
    pillow_half = np.where(double, bed_w * 0.21, bed_w * 0.38)
    for k, offset in enumerate((-1.0, 1.0)):
        u = bed_u + np.where(double, offset * bed_w / 4, 0.0)
        there = has_bed & (double | (k == 0))
        pb = wall_boxes(bed, bed_wall, u, pillow_half, 0.1, 0.1 + pillow_d, top_h, top_h + pillow_h, pillow_rgb,
                        there, PILLOWS[k])
        record(PILLOWS[k], there, pb, pillow_rgb)
    wall_boxes(bed, bed_wall, bed_u, half + 0.035, cover_d0, bed_l + 0.035, frame_h - 0.12, top_h + 0.05,
               cover_rgb, has_bed, BED)
    fold_d = U("bed.fold", 0.12, 0.25)
    wall_boxes(bed, bed_wall, bed_u, half + 0.04, cover_d0, cover_d0 + fold_d, frame_h - 0.11, top_h + 0.065,
               sheet_rgb, has_bed & d.chance("bed.fold", 0.6), BED)
    wall_boxes(bed, bed_wall, bed_u, half + 0.045, bed_l - U("bed.throw_len", 0.4, 0.6), bed_l + 0.045,
               frame_h - 0.1, top_h + 0.075, throw_rgb, has_bed & d.chance("bed.throw", 0.35), BED)
    bx0, bx1, bz0, bz1 = wall_extent(room, bed_wall, bed_u - half - 0.03, bed_u + half + 0.03, 0.0, bed_l + 0.045)
    record(BED, has_bed, (bx0, bx1, 0.0, np.maximum(head_h, top_h + 0.075), bz0, bz1), cover_rgb)
    groups.append((bed, (bx0, bx1, bz0, bz1), has_bed))

    # Nightstands with a drawer, a knob and maybe a lamp.
    for k in range(2):
        group = _Quads(n)
        there = ns_present[k]
        u = ns_u[k]
        box = wall_boxes(group, bed_wall, u, ns_w / 2, 0.0, ns_d, 0.0, ns_h, ns_rgb, there, NIGHTSTANDS[k])
        dark = pal.shade(ns_rgb, 0.55)
        group.add(geo.wall(bed_wall, u - ns_w / 2 + 0.04, u + ns_w / 2 - 0.04, ns_h - 0.17,
                            ns_h - 0.155, d=ns_d + 0.002), there, NIGHTSTANDS[k], dark)
        group.add(geo.wall(bed_wall, u - 0.025, u + 0.025, ns_h - 0.11, ns_h - 0.08, d=ns_d + 0.002),
                  there, NIGHTSTANDS[k], pal.shade(lamp_base_rgb, 1.2))
        record(NIGHTSTANDS[k], there, box, ns_rgb)
        lamp = lamp_present[k]
        mid = ns_d / 2
        # Base and stem are small: their front faces are enough.
        for half, y1 in ((0.07, ns_h + 0.03), (0.012, ns_h + lamp_stem)):
            x0, x1, z0, z1 = wall_extent(room, bed_wall, u - half, u + half, mid - half, mid + half)
            front = geo.box(x0, x1, ns_h, y1, z0, z1, lamp_base_rgb)[0]
            group.add(front, lamp, LAMPS[k])
        base = (x0, x1, ns_h, y1, z0, z1)
        shade_y0 = ns_h + lamp_stem - shade_h * 0.75
        shade = wall_boxes(group, bed_wall, u, shade_w / 2, mid - shade_w * 0.45, mid + shade_w * 0.45, shade_y0,
                           shade_y0 + shade_h, shade_rgb, lamp, LAMPS[k], taper=shade_taper,
                           emissive=np.ones(n, dtype=bool), faces=(0, 1))
        record(LAMPS[k], lamp, (np.minimum(base[0], shade[0]), np.maximum(base[1], shade[1]), ns_h, shade[3],
                                np.minimum(base[4], shade[4]), np.maximum(base[5], shade[5])), shade_rgb)
        groups.append((group, (box[0], box[1], box[4], box[5]), there))

    # Wardrobe: body, door gap and handles on the face that looks into the room.
    wardrobe = _Quads(n)
    wr_u = wr_far - wr_w / 2
    # Its top is above eye level (eye <= 1.55 m < 1.85 m), so it has no visible top face.
    box = wall_boxes(wardrobe, wr_wall, wr_u, wr_w / 2, 0.0, wr_d, 0.0, wr_h, wr_rgb, has_wr, WARDROBE,
                     faces=(0, 2))
    wardrobe.add(geo.wall(wr_wall, wr_u - 0.008, wr_u + 0.008, 0.1, wr_h - 0.08, d=wr_d + 0.002),
                 has_wr, WARDROBE, pal.shade(wr_rgb, 0.45))
    for side in (-1.0, 1.0):
        hu = wr_u + side * 0.06
        wardrobe.add(geo.wall(wr_wall, hu - 0.012, hu + 0.012, 0.95, 1.15, d=wr_d + 0.002),
                     has_wr, WARDROBE, pal.shade(lamp_base_rgb, 1.1))
    record(WARDROBE, has_wr, box, wr_rgb)
    groups.append((wardrobe, (box[0], box[1], box[4], box[5]), has_wr))

    # Floor lamp in a back corner, where no other furniture stands.
    floor_lamp = _Quads(n)
    fl_left = d.chance("floor_lamp.left", 0.5)
    fl_u = np.where(fl_left, -room.left, room.right) + np.where(fl_left, 1.0, -1.0) * U("floor_lamp.u", 0.3, 0.6)
    fl_h = U("floor_lamp.h", 1.35, 1.7)
    fl_shade_w, fl_shade_h = U("floor_lamp.shade_w", 0.3, 0.42), U("floor_lamp.shade_h", 0.22, 0.32)
    fx0, fx1, fz0, fz1 = fl_u - 0.2, fl_u + 0.2, room.depth - 0.5, room.depth - 0.1
    free = np.ones(n, dtype=bool)
    for _, (x0, x1, z0, z1), there in groups:
        free &= ~(there & (x0 < fx1 + 0.05) & (x1 > fx0 - 0.05) & (z0 < fz1 + 0.05) & (z1 > fz0 - 0.05))
    has_fl = d.chance("floor_lamp", 0.35) & free
    fl_wall = np.full(n, BACK)
    for half, y1 in ((0.13, 0.03), (0.015, fl_h)):
        x0, x1, z0, z1 = wall_extent(room, fl_wall, fl_u - half, fl_u + half, 0.3 - half, 0.3 + half)
        front = geo.box(x0, x1, 0.0, y1, z0, z1, lamp_base_rgb)[0]
        floor_lamp.add(front, has_fl, LAMPS[2])
    fl_y0 = fl_h - fl_shade_h * 0.8
    shade = wall_boxes(floor_lamp, fl_wall, fl_u, fl_shade_w / 2, 0.3 - fl_shade_w * 0.45, 0.3 + fl_shade_w * 0.45,
                       fl_y0, fl_y0 + fl_shade_h, shade_rgb, has_fl, LAMPS[2], taper=shade_taper,
                       emissive=np.ones(n, dtype=bool), faces=(0, 1))
    record(LAMPS[2], has_fl, (shade[0], shade[1], 0.0, shade[3], fz0 + 0.05, fz1 - 0.05), shade_rgb)
    groups.append((floor_lamp, (fx0 + 0.05, fx1 - 0.05, fz0 + 0.05, fz1 - 0.05), has_fl))

    for _, (x0, x1, z0, z1), there in groups[:-1]:
        zm = 0.5 * (z0 + z1)
        soft = np.maximum(cam.f * 0.12 / np.maximum(zm, 0.5), 1.0)
        shadows.add(geo.floor(x0 - 0.06, x1 + 0.06, z0 - 0.06, z1 + 0.02), there, -1,
                    np.zeros((n, 3)), alpha=0.45, soft=soft)

    # Ceiling light and lamp glows are ellipses.
    ceiling_glow, ceiling_disc = _ceiling_light(cam, room, cl_x, cl_z, cl_r, cl_rgb, cl_rim_rgb, has_cl)
    record(CEILING_LIGHT, has_cl, (cl_x - cl_r, cl_x + cl_r, room.height - 0.05, room.height, cl_z - cl_r,
                                   cl_z + cl_r), cl_rgb)
    lamp_glows = _lamp_glows(cam, room, [bed_wall, bed_wall, fl_wall], [*ns_u, fl_u],
                             [ns_h + lamp_stem, ns_h + lamp_stem, fl_h], shade_rgb, [*lamp_present, has_fl])

    geo.resolve()
    for quads in [decals, shadows] + [g[0] for g in groups]:
        quads.finish(geo)
    scene.layers = [
        Layer("quads", decals.visible_first()),
        Layer("ellipses", _stack_ellipses([ceiling_glow, *lamp_glows]), glow=True),
        Layer("ellipses", _stack_ellipses(ceiling_disc)),
        Layer("quads", shadows.visible_first(), labelled=False),
        Layer("quads", _sorted_groups(groups)),
    ]
    scene.present, scene.boxes, scene.colours = present, boxes, colours
    return scene


def _ceiling_light(cam, room, x, z, r, rgb, rim_rgb, there):
    """Glow, rim and disc ellipses of a flush ceiling light (dicts of [N] arrays)."""
    y = room.height - 0.04
    cx, cy = cam.px(x, z), cam.py(y, z)
    rx = cam.f * r / z
    ry = np.maximum(cam.f * r * (y - cam.eye) / z**2, 0.35)
    alpha = there.astype(np.float64)
    n = len(x)
    glow = {"cx": cx, "cy": cy, "rx": rx * 4.0, "ry": ry * 4.0, "colour": np.ones((n, 3)), "alpha": alpha * 0.35,
            "owner": np.full(n, -1.0)}
    rim = {"cx": cx, "cy": cy, "rx": rx * 1.15, "ry": ry * 1.15 + 0.3, "colour": rim_rgb, "alpha": alpha,
           "owner": np.full(n, float(CEILING_LIGHT))}
    disc = {"cx": cx, "cy": cy, "rx": rx, "ry": ry, "colour": rgb, "alpha": alpha,
            "owner": np.full(n, float(CEILING_LIGHT))}
    return glow, [rim, disc]


def _lamp_glows(cam, room, walls, us, ys, rgb, there):
    """Warm glow on the wall behind each lamp shade (per lamp: wall, along-wall u, height, presence)."""
    out = []
    for wall, u, y, lamp in zip(walls, us, ys, there):
        on_back = wall == BACK
        z = np.where(on_back, room.depth, u)
        x = np.select([on_back, wall == LEFT], [u, -room.left], room.right)
        ry = cam.f * 0.55 / z
        out.append({"cx": cam.px(x, z), "cy": cam.py(y, z), "rx": np.where(on_back, ry, ry * 0.45), "ry": ry,
                    "colour": rgb, "alpha": lamp * 0.3, "owner": np.full(len(u), -1.0)})
    return out


def _stack_ellipses(items):
    return {k: np.stack([np.broadcast_to(it[k], items[0][k].shape) for it in items]) for k in items[0]}


def _sorted_groups(groups) -> QuadTable:
    """All furniture quads, ordered per image so that farther groups are painted first.

    Footprints are disjoint rectangles on the floor. Group A hides part of group B only if A is
    nearer along some ray from the camera (X = 0, Z = 0): when they are separated in depth the
    nearer one wins; when they are separated sideways the one on the camera's side of the gap wins.
    Groups are painted in decreasing number of groups in front of them.
    """
    n = len(groups[0][2])
    fx0, fx1, fz0, fz1 = (np.stack([g[1][k] for g in groups], axis=1) for k in range(4))      # [N,G]
    there = np.stack([g[2] for g in groups], axis=1)
    a, b = (slice(None), slice(None), None), (slice(None), None, slice(None))   # A on axis 1, B on axis 2
    in_front = ((fz1[a] <= fz0[b])
                | ((fx1[a] <= fx0[b]) & (fx1[a] >= 0.0))
                | ((fx1[b] <= fx0[a]) & (fx0[a] <= 0.0)))
    in_front &= there[a] & there[b]
    hidden_by = in_front.sum(axis=1)                                                            # [N,G]
    merged = _Quads(n)
    merged.arrays = {k: np.concatenate([g[0].arrays[k] for g in groups]) for k in groups[0][0].arrays}
    group_of = np.concatenate([np.full(len(g[0]), k) for k, g in enumerate(groups)])
    # Sort key: more groups in front -> earlier; ties keep the canonical order. Quads that paint
    # nothing go last, so that the painter can skip trailing slots nobody in a batch uses.
    m = len(group_of)
    empty = (merged.arrays["x0"] >= OPEN / 2).T                                                # [N,M]
    key = -hidden_by[:, group_of] * m + np.arange(m)[None, :] + empty * (m * (len(groups) + 2))
    order = np.argsort(key, axis=1, kind="stable")
    return merged.table(order)
