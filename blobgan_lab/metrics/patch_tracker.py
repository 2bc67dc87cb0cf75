"""An independent patch tracker: where did the content under a point of one image go in another?

Used by the drag benchmarks as a detector that owes nothing to Drag Points (it shares no code with
``blobgan_core.drag``, runs in NumPy, and knows nothing of blobs or decoder features):

1. The *template* is the patch of the first image around the point: (2r+1)^2 pixels, all colour
   channels, read bilinearly at the point (which may be fractional), borders repeated.
2. Every integer offset o in the square window |o_x|, |o_y| <= ``search`` around ``centre`` (default:
   the point itself) is scored by the zero-mean normalized cross-correlation (ZNCC) between the
   template and the second image's patch there, over all channels jointly. ZNCC ignores a change of
   brightness or contrast of the patch, which a re-render can bring.
3. The best offset is refined to sub-pixel precision by a parabola through its score and its two
   neighbours, in x and in y separately (at most half a pixel; none at the window's edge).

Points are in image pixels with the pixel in column c at x = c (the drag's convention). A template with
almost no contrast (a flat wall) matches anything equally well; ``contrast`` (the template's standard
deviation, in 8-bit levels) says how much there was, and ``score`` how well the best place matched.

The floor of this detector on a given image and point is its error on the image translated by a known
shift (:func:`translate`, bilinear with repeated borders): :func:`floor_error`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_RADIUS_AT_64 = 4      # template half-size in pixels at 64 px (a 9x9 patch), scaled with the image
FLAT_CONTRAST = 4.0           # 8-bit levels: a template with less standard deviation is called flat


@dataclass(frozen=True)
class PatchMatch:
    x: float
    y: float
    score: float       # ZNCC of the best match, -1..1
    contrast: float    # template standard deviation, 8-bit levels

    @property
    def position(self) -> np.ndarray:
        return np.array([self.x, self.y])


def default_radius(size: int) -> int:
    """The template half-size for an image of side ``size``: 4 px at 64 px, scaled, at least 2."""
    return max(2, round(DEFAULT_RADIUS_AT_64 * size / 64))


def as_planes(image) -> np.ndarray:
    """An image -> float64 [C,H,W] in 8-bit levels.

    Accepts a torch tensor or array [1,C,H,W] / [C,H,W] on the official scale [-1, 1] (values are
    clamped), or a uint8 array [H,W,C] / [H,W].
    """
    if hasattr(image, "detach"):
        image = image.detach().float().cpu().numpy()
    a = np.asarray(image)
    if a.dtype == np.uint8:
        a = a.astype(np.float64)
        return a[None] if a.ndim == 2 else np.moveaxis(a, -1, 0)
    a = a.astype(np.float64)
    if a.ndim == 4:
        if a.shape[0] != 1:
            raise ValueError(f"one image at a time; got a batch of {a.shape[0]}")
        a = a[0]
    if a.ndim != 3:
        raise ValueError(f"expected an image [C,H,W] or [1,C,H,W]; got shape {a.shape}")
    return (np.clip(a, -1, 1) + 1) * 127.5


def bilinear(planes: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """planes [C,H,W] read at points (xs, ys) (same shape S, pixels) -> [C,*S]; borders repeated."""
    _, h, w = planes.shape
    xs = np.clip(xs, 0, w - 1)
    ys = np.clip(ys, 0, h - 1)
    x0 = np.clip(np.floor(xs).astype(np.int64), 0, w - 2) if w > 1 else np.zeros(xs.shape, np.int64)
    y0 = np.clip(np.floor(ys).astype(np.int64), 0, h - 2) if h > 1 else np.zeros(ys.shape, np.int64)
    fx, fy = xs - x0, ys - y0
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    top = planes[:, y0, x0] * (1 - fx) + planes[:, y0, x1] * fx
    bottom = planes[:, y1, x0] * (1 - fx) + planes[:, y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def track(original, edited, point, *, radius: int | None = None, search: int = 8, centre=None) -> PatchMatch:
    """Where the patch of ``original`` around ``point`` (x, y px) is in ``edited`` (see the module doc).

    ``search``: half-size of the square window of integer offsets searched around ``centre`` (default
    ``point``); ``radius``: template half-size (default :func:`default_radius`).
    """
    a, b = as_planes(original), as_planes(edited)
    if a.shape != b.shape:
        raise ValueError(f"the two images differ in shape: {a.shape} and {b.shape}")
    size = a.shape[-1]
    r = default_radius(size) if radius is None else int(radius)
    s = int(search)
    if r < 1 or s < 0:
        raise ValueError(f"radius must be >= 1 and search >= 0; got {r}, {s}")
    px, py = float(point[0]), float(point[1])
    cx, cy = (px, py) if centre is None else (float(centre[0]), float(centre[1]))
    grid = np.arange(-r, r + 1, dtype=np.float64)
    tx, ty = np.meshgrid(px + grid, py + grid)                     # [n,n]
    template = bilinear(a, tx, ty).ravel()
    template = template - template.mean()
    contrast = float(np.sqrt((template ** 2).mean()))
    t_norm = np.sqrt((template ** 2).sum())

    offsets = np.arange(-s, s + 1, dtype=np.float64)
    # all candidate patches at once: [C, m, m, n, n] (m candidates per axis, n template pixels)
    cand_x = cx + offsets[None, :, None, None] + grid[None, None, None, :]
    cand_y = cy + offsets[:, None, None, None] + grid[None, None, :, None]
    cand_x, cand_y = np.broadcast_arrays(cand_x, cand_y)
    patches = bilinear(b, cand_x, cand_y)                             # [C,m,m,n,n]
    m = len(offsets)
    patches = np.moveaxis(patches, 0, 2).reshape(m, m, -1)           # [m,m,C*n*n]
    patches = patches - patches.mean(-1, keepdims=True)
    p_norm = np.sqrt((patches ** 2).sum(-1))
    # a small floor on the norms: flat against flat scores 0, not 0/0
    eps = 1e-3 * len(template)
    score = (patches @ template) / (np.maximum(p_norm, eps) * max(t_norm, eps))   # [m,m], rows = y
    iy, ix = np.unravel_index(int(np.argmax(score)), score.shape)
    dx = _vertex(score[iy], ix)
    dy = _vertex(score[:, ix], iy)
    return PatchMatch(x=cx + offsets[ix] + dx, y=cy + offsets[iy] + dy, score=float(score[iy, ix]),
                      contrast=contrast)


def _vertex(values: np.ndarray, i: int) -> float:
    """Offset from i of the maximum of the parabola through values[i-1..i+1], within +-0.5 (0 at an edge
    or when the three are not concave)."""
    if i == 0 or i == len(values) - 1:
        return 0.0
    a, b, c = (float(v) for v in values[i - 1:i + 2])
    curvature = a - 2 * b + c
    if curvature >= 0:
        return 0.0
    return float(np.clip(0.5 * (a - c) / curvature, -0.5, 0.5))


def translate(image, shift) -> np.ndarray:
    """``image`` (any form :func:`as_planes` takes) with its content moved by ``shift`` (x, y px,
    fractional allowed), bilinear, borders repeated: [C,H,W] on the official scale [-1, 1]."""
    planes = as_planes(image)
    _, h, w = planes.shape
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float64) - float(shift[0]),
                         np.arange(h, dtype=np.float64) - float(shift[1]))
    return bilinear(planes, xs, ys) / 127.5 - 1


def floor_error(image, point, shift, *, radius: int | None = None, search: int = 8) -> float:
    """The tracker's error (px) on a perfect move: ``image`` translated by ``shift``, the point tracked
    from the original into it and compared with point + shift."""
    moved = translate(image, shift)
    found = track(image, moved, point, radius=radius, search=search)
    truth = np.asarray(point, dtype=np.float64) + np.asarray(shift, dtype=np.float64)
    return float(np.linalg.norm(found.position - truth))


def search_for(point, target, size: int, margin_at_64: float = 4.0) -> int:
    """A search half-size that covers a drag from ``point`` to ``target`` with a margin (4 px at 64 px,
    scaled) on every side, so that content which stayed, arrived or overshot is all in the window."""
    length = float(np.hypot(float(target[0]) - float(point[0]), float(target[1]) - float(point[1])))
    return int(np.ceil(length + margin_at_64 * size / 64))
