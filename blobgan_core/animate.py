"""Animating one layout into another: every blob travels from where it is in the first scene to where it
is in the second (centre, size, shape, angle, structure and style vectors), as in the paper's videos.

Blobs are paired by **id** (``Scene.ids``: the id of the blob at each depth index), not by depth index,
so a pair of scenes whose edits reordered or duplicated blobs still pairs every blob with itself. A blob
that only one scene shows (hidden by a remove edit, revived, or only present in one scene, like a
duplicate) fades through its size logit: it shrinks to nothing rather than popping. The end points are
the scenes themselves: ``interpolate_layouts(a, b, 0)`` returns ``a`` and ``(a, b, 1)`` returns ``b``,
so the first and last frames render exactly as the two scenes do.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from .edits import HIDDEN_SIZE
from .layout import Layout, cov_axes, cov_from_axes

# A fading blob travels to this size logit and is swapped for the hidden one (HIDDEN_SIZE, -100) only at
# the end: its peak opacity sigmoid(-12) = 6e-6 is already nothing on screen, so there is no pop, and the
# visible part of the fade (shrinking while s > 0, thinning out while s > -5) spans about half the frames
# instead of the first few percent that a straight line to -100 would give it.
FADE_SIZE = -12.0
# an ellipse whose axes differ by less than this ratio is round: its angle means nothing, so the
# other end's angle is taken (a round blob turning into a long one just stretches, it does not spin)
ROUND = 1.0 + 1e-3

EASINGS: dict[str, Callable[[float], float]] = {
    "linear": lambda t: t,
    "ease_in_out": lambda t: 0.5 - 0.5 * math.cos(math.pi * t),  # slow start and end (a cosine)
    "ease_in": lambda t: t * t,                                   # slow start
    "ease_out": lambda t: 1.0 - (1.0 - t) * (1.0 - t),            # slow end
}


def frame_times(frames: int, easing: str = "linear") -> list[float]:
    """The interpolation parameter of each of ``frames`` (>= 2) frames: 0 for the first, 1 for the last,
    eased in between. Raises ValueError naming the allowed easings."""
    if easing not in EASINGS:
        raise ValueError(f"unknown easing {easing!r}; allowed: {list(EASINGS)}")
    if frames < 2:
        raise ValueError(f"an animation needs at least 2 frames, got {frames}")
    ease = EASINGS[easing]
    return [0.0] + [float(ease(i / (frames - 1))) for i in range(1, frames - 1)] + [1.0]


def merged_order(primary: Sequence[int], secondary: Sequence[int]) -> list[int]:
    """The ids of both lists in ``primary``'s depth order (back to front); an id only in ``secondary``
    goes right in front of the id it follows there (or to the back, if it follows none of them)."""
    out = list(primary)
    seen = set(out)
    for j, blob_id in enumerate(secondary):
        if blob_id in seen:
            continue
        before = next((secondary[i] for i in range(j - 1, -1, -1) if secondary[i] in seen), None)
        out.insert(0 if before is None else out.index(before) + 1, blob_id)
        seen.add(blob_id)
    return out


def interpolate_layouts(
    a: Layout,
    b: Layout,
    t: float,                              # 0 = a, 1 = b (already eased: see frame_times)
    *,
    ids_a: Sequence[int] | None = None,    # id of a's blob at each depth index; None = 0..K_a-1
    ids_b: Sequence[int] | None = None,    # id of b's blob at each depth index; None = 0..K_b-1
) -> tuple[Layout, list[int]]:
    """The layout a fraction ``t`` of the way from ``a`` to ``b``, and its ids (depth index -> id).

    a: Layout of N scenes with K_a blobs; b: the same N scenes with K_b blobs (another edit of them), with
    the same feature sizes. At ``t == 0`` this returns ``a`` itself with ``ids_a``, at ``t == 1`` ``b``
    with ``ids_b``. In between the layout holds the union of both id sets (K_u blobs, tensors
    ``xs``/``ys`` [N,K_u], ``sizes`` [N,K_u+1], ``covs`` [N,K_u,2,2], ``features`` [N,K_u+1,d_in],
    ``spatial_style`` [N,K_u+1,d_style]), blob by blob:

    - centres, structure and style vectors (and the background's) move on a straight line;
    - covariances turn from one angle to the other the short way (at most 90 degrees: an ellipse is the
      same after half a turn) while the axis lengths change geometrically, so a rotation edit turns the
      blob and a reshape stretches it, instead of passing through a blurred mixture;
    - sizes move on a straight line; where one end hides the blob (a remove edit, or a blob the other
      scene does not have: it counts as hidden there, with the other scene's shape and vectors), that
      end counts as ``FADE_SIZE``, so the blob shrinks away instead of popping;
    - depth order is ``a``'s for ``t < 0.5`` and ``b``'s from then on (depth cannot be fractional:
      blobs whose order an edit changed swap once, at the midpoint).
    """
    if a.batch != b.batch:
        raise ValueError(f"the two layouts hold {a.batch} and {b.batch} scenes; they must hold as many")
    for name in ("features", "spatial_style"):
        da, db = getattr(a, name).shape[-1], getattr(b, name).shape[-1]
        if da != db:
            raise ValueError(f"the two layouts have {name} of size {da} and {db}; they come from different models")
    ids_a = list(range(a.n_blobs)) if ids_a is None else [int(i) for i in ids_a]
    ids_b = list(range(b.n_blobs)) if ids_b is None else [int(i) for i in ids_b]
    for name, ids, layout in (("ids_a", ids_a, a), ("ids_b", ids_b, b)):
        if len(ids) != layout.n_blobs or len(set(ids)) != len(ids):
            raise ValueError(f"{name} must give each of the {layout.n_blobs} blobs its own id, got {ids}")
    t = float(t)
    if t == 0.0:
        return a, ids_a
    if t == 1.0:
        return b, ids_b
    b = b.to(a.device, a.xs.dtype)
    order = merged_order(ids_a, ids_b) if t < 0.5 else merged_order(ids_b, ids_a)
    start, end = _expand(a, ids_a, b, ids_b, order), _expand(b, ids_b, a, ids_a, order)
    return _blend(start, end, t), order


def _expand(layout: Layout, ids: list[int], other: Layout, other_ids: list[int], order: list[int]) -> Layout:
    """``layout``'s blobs in ``order`` (ids); an id it lacks takes ``other``'s blob, hidden."""
    index = {blob_id: k for k, blob_id in enumerate(ids)}
    other_index = {blob_id: k for k, blob_id in enumerate(other_ids)}
    mine = [blob_id in index for blob_id in order]
    own = torch.tensor([index.get(i, 0) for i in order], device=layout.device)
    theirs = torch.tensor([other_index.get(i, 0) for i in order], device=layout.device)
    pick = torch.tensor(mine, device=layout.device)                          # [K_u] True: layout has it

    def per_blob(t: torch.Tensor, u: torch.Tensor) -> torch.Tensor:        # [N,K,...] -> [N,K_u,...]
        shape = (1, -1) + (1,) * (t.dim() - 2)
        return torch.where(pick.view(shape), t[:, own], u[:, theirs])

    def with_background(t: torch.Tensor, u: torch.Tensor) -> torch.Tensor:  # [N,K+1,...] -> [N,K_u+1,...]
        return torch.cat([t[:, :1], per_blob(t[:, 1:], u[:, 1:])], 1)

    sizes = with_background(layout.sizes, other.sizes)
    hidden = torch.full_like(sizes[:, 1:], HIDDEN_SIZE)
    sizes = torch.cat([sizes[:, :1], torch.where(pick.view(1, -1), sizes[:, 1:], hidden)], 1)
    return Layout(xs=per_blob(layout.xs, other.xs), ys=per_blob(layout.ys, other.ys), sizes=sizes,
                  covs=per_blob(layout.covs, other.covs),
                  features=with_background(layout.features, other.features),
                  spatial_style=with_background(layout.spatial_style, other.spatial_style))


def _lerp(x: torch.Tensor, y: torch.Tensor, t: float) -> torch.Tensor:
    return x + (y - x) * t


def _blend(a: Layout, b: Layout, t: float) -> Layout:
    """Two layouts with the same blobs in the same order, a fraction ``t`` of the way (see above)."""
    sa, sb = a.sizes[:, 1:], b.sizes[:, 1:]
    both_gone = (sa <= FADE_SIZE) & (sb <= FADE_SIZE)
    sizes = torch.where(both_gone, _lerp(sa, sb, t),
                        _lerp(sa.clamp(min=FADE_SIZE), sb.clamp(min=FADE_SIZE), t))
    return Layout(
        xs=_lerp(a.xs, b.xs, t), ys=_lerp(a.ys, b.ys, t),
        sizes=torch.cat([_lerp(a.sizes[:, :1], b.sizes[:, :1], t), sizes], 1),
        covs=interpolate_covs(a.covs, b.covs, t),
        features=_lerp(a.features, b.features, t),
        spatial_style=_lerp(a.spatial_style, b.spatial_style, t),
    )


def interpolate_covs(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Covariances [...,2,2] a fraction ``t`` of the way from ``a`` to ``b``: the major axis turns the
    short way (an ellipse repeats every 180 degrees), axis variances change geometrically."""
    angle_a, major_a, minor_a = cov_axes(a.double())
    angle_b, major_b, minor_b = cov_axes(b.double())
    round_a, round_b = major_a < minor_a * ROUND, major_b < minor_b * ROUND
    angle_a = torch.where(round_a, angle_b, angle_a)
    angle_b = torch.where(round_b & ~round_a, angle_a, angle_b)
    turn = torch.remainder(angle_b - angle_a + math.pi / 2, math.pi) - math.pi / 2
    major = torch.exp(_lerp(major_a.log(), major_b.log(), t))
    minor = torch.exp(_lerp(minor_a.log(), minor_b.log(), t))
    return cov_from_axes(angle_a + turn * t, major, minor).to(a.dtype)


def frame_noise(model, noise_a, noise_b, t: float):
    """The decoder noise of a frame from the two scenes' noise (seeds or per-layer maps, as
    ``Scene.noise``): ``noise_a`` itself when both are the same (every frame then has the very same noise,
    so nothing flickers); otherwise ``noise_a`` at t = 0, ``noise_b`` at t = 1 and in between the two
    mixed as cos/sin of t * 90 degrees, which keeps their variance."""
    if _same_noise(noise_a, noise_b) or t == 0.0:
        return noise_a
    if t == 1.0:
        return noise_b
    angle = t * math.pi / 2
    return [na * math.cos(angle) + nb * math.sin(angle)
            for na, nb in zip(model.resolve_noise(noise_a), model.resolve_noise(noise_b))]


def _same_noise(a, b) -> bool:
    if isinstance(a, int) or isinstance(b, int):
        return a == b
    return len(a) == len(b) and all(x is y or (x.shape == y.shape and bool(torch.equal(x, y))) for x, y in zip(a, b))


@torch.no_grad()
def render_animation(
    a,                                   # Scene: the first frame
    b,                                   # Scene: the last frame (same model, same batch size)
    frames: int,                         # >= 2
    easing: str = "linear",              # a key of EASINGS
    *,
    chunk: int = 4,                      # scenes of the batch decoded per call
    blob_maps: bool = True,              # also draw each frame's blob map, labelled by id
    on_render: Callable[[], None] | None = None,  # called after each decoder call (progress, cancel)
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Render the animation from scene ``a`` to scene ``b``: images [N,F,3,R,R] on the official scale
    (N scenes, F frames) and, with ``blob_maps``, their blob maps [N,F,3,R,R] in [0,1] (else None).
    Frame 0 is ``a`` rendered, frame F-1 is ``b`` rendered, each exactly as ``Scene.render`` decodes it
    in chunks of ``chunk`` scenes. Raises ValueError for scenes of different models or batch sizes."""
    if a.model is not b.model:
        raise ValueError("the two scenes come from different models; sample both with the same model")
    if a.layout.batch != b.layout.batch:
        raise ValueError(f"the scenes hold {a.layout.batch} and {b.layout.batch} scenes; they must hold as many")
    model = a.model
    images, maps = [], []
    for t in frame_times(frames, easing):
        layout, ids = interpolate_layouts(a.layout, b.layout, t, ids_a=a.ids, ids_b=b.ids)
        parts = []
        for start in range(0, layout.batch, chunk):
            part = slice(start, start + chunk)
            noise = frame_noise(model, a.noise_of(part), b.noise_of(part), t)
            parts.append(model.for_items(part).render(layout.select(part), noise=noise).float().cpu())
            if on_render is not None:
                on_render()
        images.append(torch.cat(parts))
        if blob_maps:
            maps.append(model.blob_map(layout, labels=True, ids=ids).float().cpu())
    return torch.stack(images, 1), torch.stack(maps, 1) if blob_maps else None
