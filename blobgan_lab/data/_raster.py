"""Anti-aliased painter for convex quads and ellipses on a batch of images (torch, CPU).

Coverage is analytic, without supersampling: a convex quad is the intersection of a column band,
a row band and two half-planes. A band's coverage is the exact overlap of the pixel (a unit box)
with the band, so slivers thinner than a pixel stay faint; the two half-planes give
``clamp(min(d1, d2) + 0.5, 0, 1)`` with ``d`` the signed distance in pixels from the pixel centre;
the three factors multiply (exact for rectangles, including their corners). Every distance splits
into a per-column part [N,1,W] and a per-row part [N,H,1], so each full-image operation is one
broadcast add, which keeps thousands of 64 px images per second on one core.

Half-planes are written relative to the vanishing point (vx, vy): ``s = a*dy + b*dx + c`` with
``dx = px - vx`` and ``dy = py - vy``; a line through the vanishing point has ``c = 0``.

Besides colour, the painter keeps an "owner" map: the id of the last primitive that covered a
pixel by at least one half, which is the front-most one because primitives are painted back to
front.
"""

from __future__ import annotations

import numpy as np
import torch

# A band or half-plane that never clips: its distance to every pixel is this large.
OPEN = 1.0e6


def _column(values: np.ndarray) -> torch.Tensor:
    """float64 [..., N] -> float32 tensor [..., N, 1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))[..., None, None]


class QuadTable:
    """M quads for N images, as numpy float arrays [M,N] (colours [M,N,3]).

    Fields: ``x0, x1`` (column band), ``y0, y1`` (row band), ``a1, b1, c1`` and ``a2, b2, c2``
    (half-planes, unit normals, inside where positive), ``bx0, bx1, by0, by1`` (pixel bounding box
    of the quad, used only to skip pixels), ``top, bottom`` (colours at rows ``g0`` and ``g1``,
    linear in between), ``alpha`` (opacity, 0 = absent), ``soft`` (edge width in pixels),
    ``owner`` (id written to the owner map, -1 = do not write).
    """

    FIELDS = ("x0", "x1", "y0", "y1", "a1", "b1", "c1", "a2", "b2", "c2", "bx0", "bx1", "by0", "by1",
              "g0", "g1", "alpha", "soft", "owner", "top", "bottom")

    def __init__(self, **arrays):
        missing = set(self.FIELDS) - set(arrays)
        if missing:
            raise ValueError(f"QuadTable is missing fields {sorted(missing)}")
        self.arrays = arrays

    def __len__(self) -> int:
        return self.arrays["x0"].shape[0]


def _band(coord: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, half: torch.Tensor) -> torch.Tensor:
    """Coverage of pixels centred at ``coord`` (box filters of half-width ``half``) by [lo, hi]."""
    inside = torch.minimum(hi - coord, half) + torch.minimum(coord - lo, half)
    return (inside / (2.0 * half)).clamp_(0.0, 1.0)


def _row_windows(y0, y1, seen, margin, size):
    """Per primitive, the rows [r0, r1) ([M,2] ints) that hold it in every image that sees it.

    Windows span whole rows: a row-cropped tensor stays contiguous, while cropping columns too
    makes short strided rows that cost more per pixel than they save.
    """
    r0 = np.floor(np.where(seen, y0, np.inf).min(axis=1) - margin)
    r1 = np.ceil(np.where(seen, y1, -np.inf).max(axis=1) + margin)
    return np.stack([np.clip(r0, 0, size), np.clip(r1, 0, size)], axis=1).astype(int)


class Painter:
    """Paints primitives back to front into ``image`` [N,3,H,W] (floats in [0,1]) and, if
    ``track_owner``, ``owner`` [N,H,W].

    Each primitive only touches the rows that hold it in some image of the batch.
    """

    def __init__(self, vx: np.ndarray, vy: np.ndarray, size: int, track_owner: bool = True):
        n = len(vx)
        self.track_owner = track_owner
        centres = torch.arange(size, dtype=torch.float32) + 0.5
        self.n, self.size = n, size
        self.px = centres.view(1, 1, size)          # [1,1,W] pixel-centre columns
        self.py = centres.view(1, size, 1)          # [1,H,1] pixel-centre rows
        self.dx = self.px - _column(vx)             # [N,1,W]
        self.dy = self.py - _column(vy)             # [N,H,1]
        self.image = torch.zeros(n, 3, size, size)
        self.owner = torch.zeros(n, size, size)
        self._buffers = (torch.empty(n * size * size), torch.empty(n * size * size))

    def scratch(self, rows: int):
        """Two scratch tensors [N,rows,W]."""
        count = self.n * rows * self.size
        return tuple(b[:count].view(self.n, rows, self.size) for b in self._buffers)

    # -- primitives ----------------------------------------------------------------------------------

    def paint_quads(self, quads: QuadTable, labelled: bool = True):
        """Paint the M quads of ``quads`` in order, skipping work nobody in the batch needs.

        A quad that no image sees (absent, or outside every picture) is skipped, and so are the
        half-planes or bands that are open for every image.
        """
        arr = quads.arrays
        size = self.size
        seen = ((arr["x0"] < arr["x1"]) & (arr["y0"] < arr["y1"]) & (arr["bx1"] > 0) & (arr["bx0"] < size)
                & (arr["by1"] > 0) & (arr["by0"] < size) & (arr["alpha"] > 0))                  # [M,N]
        active = np.flatnonzero(seen.any(axis=1))
        if active.size == 0:
            return
        arr = {k: v[active] for k, v in arr.items()}
        seen = seen[active]
        windows = _row_windows(arr["by0"], arr["by1"], seen, 1.0 + np.where(seen, arr["soft"], 0.0).max(axis=1),
                               size).tolist()
        has_lines = ~((arr["a1"] == 0) & (arr["b1"] == 0) & (arr["a2"] == 0) & (arr["b2"] == 0)).all(axis=1)
        has_band_x = ~((arr["x0"] <= -OPEN / 2) & (arr["x1"] >= OPEN / 2)).all(axis=1)
        has_band_y = ~((arr["y0"] <= -OPEN / 2) & (arr["y1"] >= OPEN / 2)).all(axis=1)
        translucent = (arr["alpha"] < 1.0).any(axis=1)
        flat = (arr["top"] == arr["bottom"]).all(axis=(1, 2))
        unowned = (arr["owner"] < 0).any(axis=1)

        q = {k: _column(v) for k, v in arr.items() if k not in ("top", "bottom")}
        # Per-quad pieces that are only a row or a column, for all quads at once. Bands use the exact
        # overlap of the pixel (a box of width ``soft``) with the band, so slivers thinner than a
        # pixel get their true small coverage; half-planes use ``distance + 0.5``.
        half = 0.5 * q["soft"]
        band_x = _band(self.px, q["x0"], q["x1"], half)                                  # [M,N,1,W]
        band_y = _band(self.py, q["y0"], q["y1"], half)                                  # [M,N,H,1]
        inv_soft = 1.0 / q["soft"]
        l1x, l1y = q["b1"] * self.dx * inv_soft, (q["a1"] * self.dy + q["c1"]) * inv_soft + 0.5
        l2x, l2y = q["b2"] * self.dx * inv_soft, (q["a2"] * self.dy + q["c2"]) * inv_soft + 0.5
        ramp = ((self.py - q["g0"]) / (q["g1"] - q["g0"]).clamp(min=1e-3)).clamp(0.0, 1.0)  # [M,N,H,1]
        top = torch.from_numpy(np.ascontiguousarray(arr["top"], dtype=np.float32))[..., None, None]
        bottom = torch.from_numpy(np.ascontiguousarray(arr["bottom"], dtype=np.float32))[..., None, None]
        ramped = torch.lerp(top, bottom, ramp.unsqueeze(2))                             # [M,N,3,H,1]
        for m in range(len(active)):
            r0, r1 = windows[m]
            if r1 <= r0:
                continue
            cov, tmp = self.scratch(r1 - r0)
            bx, by = band_x[m], band_y[m][:, r0:r1]
            if has_lines[m]:
                torch.add(l1x[m], l1y[m][:, r0:r1], out=cov)
                torch.add(l2x[m], l2y[m][:, r0:r1], out=tmp)
                torch.minimum(cov, tmp, out=cov).clamp_(0.0, 1.0)
                if has_band_x[m]:
                    cov.mul_(bx)
                if has_band_y[m]:
                    cov.mul_(by)
            else:
                torch.mul(bx, by, out=cov)
            if labelled:
                self._claim(cov, tmp, q["owner"][m], (r0, r1), bool(unowned[m]))
            if translucent[m]:
                cov.mul_(q["alpha"][m])
            colour = top[m] if flat[m] else ramped[m][:, :, r0:r1]
            self.image[:, :, r0:r1].lerp_(colour, cov.unsqueeze(1))

    def paint_ellipses(self, cx, cy, rx, ry, colour, alpha, owner, glow: bool):
        """Paint M ellipses (all arrays [M,N], colour [M,N,3]).

        Solid ellipses have an anti-aliased rim; ``glow`` ones fade as (1 - r^2)^2 from the centre and
        never claim pixels in the owner map.
        """
        seen = alpha > 0
        owner = np.where(seen, owner, -1.0)              # an absent ellipse claims nothing
        windows = _row_windows(cy - ry, cy + ry, seen, 1.0, self.size).tolist()
        unowned = (owner < 0).any(axis=1)
        colour = torch.from_numpy(np.ascontiguousarray(colour, dtype=np.float32))[..., None, None]
        cx, cy, rx, ry, alpha, owner = (_column(v) for v in (cx, cy, rx, ry, alpha, owner))
        ex = ((self.px - cx) / rx) ** 2                                                   # [M,N,1,W]
        ey = ((self.py - cy) / ry) ** 2                                                   # [M,N,H,1]
        rim = torch.minimum(rx, ry)
        for m in range(cx.shape[0]):
            r0, r1 = windows[m]
            if r1 <= r0 or not seen[m].any():
                continue
            cov, tmp = self.scratch(r1 - r0)
            torch.add(ex[m], ey[m][:, r0:r1], out=cov)
            if glow:
                cov.neg_().add_(1.0).clamp_(0.0, 1.0)
                cov.mul_(cov)
            else:
                # Distance to the rim in pixels ~ (1 - r) * min radius: exact on the axes, close elsewhere.
                cov.sqrt_().neg_().add_(1.0).mul_(rim[m]).add_(0.5).clamp_(0.0, 1.0)
                self._claim(cov, tmp, owner[m], (r0, r1), bool(unowned[m]))
            cov.mul_(alpha[m])
            self.image[:, :, r0:r1].lerp_(colour[m], cov.unsqueeze(1))

    def claim(self, cov: torch.Tensor, tmp: torch.Tensor, owner: torch.Tensor, rows: tuple[int, int]):
        """``cov`` [N,h,W] covers rows [r0, r1): pixels covered by at least a half take ``owner``
        ([N,1,1]; images with owner < 0 keep theirs). ``tmp`` is scratch of the same shape."""
        self._claim(cov, tmp, owner, rows, bool((owner < 0).any()))

    def _claim(self, cov, tmp, owner, rows, unowned: bool):
        if not self.track_owner:
            return
        r0, r1 = rows
        torch.ge(cov, 0.5, out=tmp)
        if unowned:                          # some images must not write (owner < 0)
            tmp.mul_(owner >= 0)
        self.owner[:, r0:r1].lerp_(owner, tmp)
