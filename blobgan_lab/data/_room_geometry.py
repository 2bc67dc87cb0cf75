"""One-point-perspective geometry of a box-shaped room, vectorized over a batch of images (numpy).

World frame (metres): the camera sits at X = 0, Z = 0 at eye height Y = ``eye`` and looks along +Z
with no tilt, so every depth line meets at the vanishing point (vx, vy), which is also the image
point straight ahead. X points right, Y up. The room spans X in [-left, right], Y in [0, height],
Z up to the back wall at ``depth``. Image coordinates are pixels, x right and y down, with pixel
centres at i + 0.5.

Everything here produces *quads*: dicts of float64 arrays in the field layout of
``_raster.QuadTable`` (bands, half-planes, colour ramp rows). Inputs may be [N] (one quad per image)
or [K,N] (K quads per image, computed in one go); camera and room arrays are [N] and broadcast.
Objects are axis-aligned boxes whose visible faces are quads, and flat decals (window, painting,
rug) are quads on a wall or floor.
Boxes and decals that stand against a wall are placed in a *wall frame*: ``u`` runs along the
wall (X for the back wall, Z for the side walls) and ``d`` is the distance out from the wall.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._raster import OPEN

BACK, LEFT, RIGHT = 0, 1, 2   # wall codes


@dataclass
class Camera:
    size: int             # image side in pixels
    f: np.ndarray         # [N] focal length in pixels
    vx: np.ndarray        # [N] vanishing point column (pixels)
    vy: np.ndarray        # [N] vanishing point row = horizon (pixels)
    eye: np.ndarray       # [N] camera height above the floor (m)

    def px(self, x, z):
        """Image column of world points (X, Z)."""
        return self.vx + self.f * x / z

    def py(self, y, z):
        """Image row of world points (Y, Z)."""
        return self.vy + self.f * (self.eye - y) / z


@dataclass
class Room:
    left: np.ndarray      # [N] the left wall is the plane X = -left
    right: np.ndarray     # [N] the right wall is the plane X = +right
    height: np.ndarray    # [N] the ceiling is the plane Y = height
    depth: np.ndarray     # [N] the back wall is the plane Z = depth


# -- half-planes -----------------------------------------------------------------------------------


def _line(p, q, inside):
    """Half-plane whose edge runs through p and q and which contains ``inside``.

    Points are (dx, dy) pairs of arrays [N], relative to the vanishing point. Returns (a, b, c, ok)
    with ``a*dy + b*dx + c`` the signed distance in pixels, positive inside; ``ok`` is False where
    p and q coincide (the edge is undefined).
    """
    ux, uy = q[0] - p[0], q[1] - p[1]
    norm = np.hypot(ux, uy)
    ok = norm > 1e-9
    norm = np.where(ok, norm, 1.0)
    ux, uy = ux / norm, uy / norm
    a, b, c = ux, -uy, uy * p[0] - ux * p[1]
    sign = np.where(a * inside[1] + b * inside[0] + c >= 0.0, 1.0, -1.0)
    return a * sign, b * sign, c * sign, ok


def _open_lines(shape):
    zero, far = np.zeros(shape), np.full(shape, OPEN)
    return {"a1": zero, "b1": zero, "c1": far, "a2": zero, "b2": zero, "c2": far}


# -- quads on axis-aligned planes ------------------------------------------------------------------


def frontal_quad(cam: Camera, z, x0, x1, y0, y1, taper=None):
    """Quad on the plane Z = z spanning X in [x0,x1], Y in [y0,y1].

    ``taper`` (fraction of the width, or None) narrows the top edge on both sides, which turns the
    rectangle into a trapezoid (a lamp shade); where it is 0 the quad stays a rectangle.
    """
    cols = (cam.px(x0, z), cam.px(x1, z))
    rows = (cam.py(y1, z), cam.py(y0, z))
    quad = {"x0": cols[0], "x1": cols[1], "y0": rows[0], "y1": rows[1], "g0": rows[0], "g1": rows[1],
            "bx0": cols[0], "bx1": cols[1], "by0": rows[0], "by1": rows[1],
            "ok": (z > 0) & (x1 > x0) & (y1 > y0)}
    quad.update(_open_lines(cols[0].shape))
    if taper is None or not np.any(taper > 0):
        return quad
    inset = taper * (x1 - x0)
    rel_y = (rows[0] - cam.vy, rows[1] - cam.vy)
    mid = (0.5 * (cols[0] + cols[1]) - cam.vx, 0.5 * (rel_y[0] + rel_y[1]))
    bottom_left = (cols[0] - cam.vx, rel_y[1])
    bottom_right = (cols[1] - cam.vx, rel_y[1])
    top_left = (cam.px(x0 + inset, z) - cam.vx, rel_y[0])
    top_right = (cam.px(x1 - inset, z) - cam.vx, rel_y[0])
    tapered = taper > 0
    for suffix, (p, q) in (("1", (bottom_left, top_left)), ("2", (bottom_right, top_right))):
        a, b, c, ok = _line(p, q, mid)
        for key, value in zip("abc", (a, b, c)):
            quad[key + suffix] = np.where(tapered, value, quad[key + suffix])
        quad["ok"] = quad["ok"] & (ok | ~tapered)
    return quad


def horizontal_quad(cam: Camera, y, x0, x1, z0, z1):
    """Quad on the plane Y = y (floor, ceiling, box top) spanning X in [x0,x1], Z in [z0,z1]."""
    near, far = cam.py(y, z0), cam.py(y, z1)
    rows = (np.minimum(near, far), np.maximum(near, far))
    zm = 0.5 * (z0 + z1)
    rel_row = cam.py(y, z0) - cam.vy
    inside = (cam.px(0.5 * (x0 + x1), zm) - cam.vx, cam.py(y, zm) - cam.vy)
    vp = (np.zeros_like(zm), np.zeros_like(zm))
    a1, b1, c1, ok1 = _line(vp, (cam.px(x0, z0) - cam.vx, rel_row), inside)
    a2, b2, c2, ok2 = _line(vp, (cam.px(x1, z0) - cam.vx, rel_row), inside)
    cols = [cam.px(x, z) for x in (x0, x1) for z in (z0, z1)]
    # The column band is the bounding box: redundant for a well-shaped quad, but it keeps a quad seen
    # nearly edge-on (whose two edges are almost parallel) from spilling along them.
    return {"x0": np.minimum.reduce(cols), "x1": np.maximum.reduce(cols), "y0": rows[0], "y1": rows[1],
            "a1": a1, "b1": b1, "c1": c1, "a2": a2, "b2": b2, "c2": c2, "g0": rows[0], "g1": rows[1],
            "bx0": np.minimum.reduce(cols), "bx1": np.maximum.reduce(cols), "by0": rows[0], "by1": rows[1],
            "ok": (np.abs(cam.eye - y) > 1e-3) & (z0 > 0) & (x1 > x0) & (z1 > z0) & ok1 & ok2}


def vertical_quad(cam: Camera, x, z0, z1, y0, y1):
    """Quad on the plane X = x (side wall, box side) spanning Z in [z0,z1], Y in [y0,y1]."""
    near, far = cam.px(x, z0), cam.px(x, z1)
    zm = 0.5 * (z0 + z1)
    rel_col = cam.px(x, z0) - cam.vx
    inside = (cam.px(x, zm) - cam.vx, cam.py(0.5 * (y0 + y1), zm) - cam.vy)
    vp = (np.zeros_like(zm), np.zeros_like(zm))
    a1, b1, c1, ok1 = _line(vp, (rel_col, cam.py(y0, z0) - cam.vy), inside)
    a2, b2, c2, ok2 = _line(vp, (rel_col, cam.py(y1, z0) - cam.vy), inside)
    rows = [cam.py(y, z) for y in (y0, y1) for z in (z0, z1)]
    # As in horizontal_quad, the row band is the bounding box.
    return {"x0": np.minimum(near, far), "x1": np.maximum(near, far),
            "y0": np.minimum.reduce(rows), "y1": np.maximum.reduce(rows),
            "bx0": np.minimum(near, far), "bx1": np.maximum(near, far),
            "by0": np.minimum.reduce(rows), "by1": np.maximum.reduce(rows),
            "a1": a1, "b1": b1, "c1": c1, "a2": a2, "b2": b2, "c2": c2,
            "g0": cam.py(y1, zm), "g1": cam.py(y0, zm),
            "ok": (np.abs(x) > 1e-3) & (z0 > 0) & (z1 > z0) & (y1 > y0) & ok1 & ok2}


def pick(choice: np.ndarray, options: list[dict]) -> dict:
    """Per element, the quad ``options[choice]`` (choice: int array shaped like the quads' fields)."""
    out = {}
    for key in options[0]:
        value = options[-1][key]
        for k in range(len(options) - 2, -1, -1):
            value = np.where(choice == k, options[k][key], value)
        out[key] = value
    return out


# -- wall frame ------------------------------------------------------------------------------------


def wall_extent(room: Room, wall, u0, u1, d0, d1):
    """World X and Z ranges (x0, x1, z0, z1) of the wall-frame block u in [u0,u1], d in [d0,d1]."""
    back, left = wall == BACK, wall == LEFT
    x0 = np.where(back, u0, np.where(left, -room.left + d0, room.right - d1))
    x1 = np.where(back, u1, np.where(left, -room.left + d1, room.right - d0))
    z0 = np.where(back, room.depth - d1, u0)
    z1 = np.where(back, room.depth - d0, u1)
    return x0, x1, z0, z1


def wall_quad(cam: Camera, room: Room, wall, u0, u1, y0, y1, d=0.0):
    """Flat quad parallel to ``wall`` at distance ``d`` from it: u in [u0,u1], Y in [y0,y1]."""
    d = np.broadcast_to(np.asarray(d, dtype=np.float64), np.shape(u0))
    return pick(wall, [
        frontal_quad(cam, room.depth - d, u0, u1, y0, y1),
        vertical_quad(cam, -room.left + d, u0, u1, y0, y1),
        vertical_quad(cam, room.right - d, u0, u1, y0, y1),
    ])


# -- boxes -----------------------------------------------------------------------------------------


def box_quads(cam: Camera, x0, x1, y0, y1, z0, z1, colour, light_x, taper=None, emissive=None):
    """The (up to) three faces of axis-aligned boxes that the camera can see.

    Box extents are [N] or [K,N], ``colour`` the same plus a trailing 3. Returns [front, top, side]
    quads with colours filled in (``top``/``bottom`` ramps, simple Lambert-like shading: top faces
    brightest, the side facing the light brighter than the other, a darker foot on vertical faces).
    A face the camera cannot see gets ``ok`` False. Tapered boxes (lamp shades, ``taper`` > 0) have
    no side face; ``emissive`` boxes are not shaded.
    """
    shape = np.shape(x0)
    taper = np.zeros(shape) if taper is None else np.broadcast_to(taper, shape)
    glow = np.zeros(shape, dtype=bool) if emissive is None else np.broadcast_to(emissive, shape)
    front = frontal_quad(cam, z0, x0, x1, y0, y1, taper)
    inset = taper * (x1 - x0)
    top = horizontal_quad(cam, y1, x0 + inset, x1 - inset, z0, z1)
    top["ok"] = top["ok"] & (y1 < cam.eye)
    left_face = x0 > 1e-3           # the face X = x0 (normal -X) is seen from a camera left of it
    side_x = np.where(left_face, x0, x1)
    side = vertical_quad(cam, side_x, z0, z1, y0, y1)
    side["ok"] = side["ok"] & (left_face | (x1 < -1e-3)) & (taper <= 0)
    side_light = np.where(left_face, 0.74 - 0.16 * light_x, 0.74 + 0.16 * light_x)
    for face, upper, foot in ((front, 0.9, 0.78), (top, 1.0, 1.0), (side, side_light, side_light * 0.86)):
        face["top"] = _lit(colour, upper, glow)
        face["bottom"] = _lit(colour, foot, glow)
    return [front, top, side]


def _lit(colour, factor, emissive):
    factor = np.where(emissive, 1.0, np.broadcast_to(factor, emissive.shape))
    return np.clip(colour * factor[..., None], 0.0, 1.0)


def project_bounds(cam: Camera, x0, x1, y0, y1, z0, z1):
    """Image bounding box (px0, py0, px1, py1) in pixels of world boxes, unclipped ([N] each)."""
    xs = [cam.px(x, z) for x in (x0, x1) for z in (z0, z1)]
    ys = [cam.py(y, z) for y in (y0, y1) for z in (z0, z1)]
    return np.minimum.reduce(xs), np.minimum.reduce(ys), np.maximum.reduce(xs), np.maximum.reduce(ys)
