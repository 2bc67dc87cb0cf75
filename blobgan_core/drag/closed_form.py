"""The closed-form first step: move each blob that owns handles by the transform its handles ask for.

1. Ownership: the composited alphas at each handle decide which blob owns it (the front-most content
   there); handles on the background or on faint blob edges own nothing and are left to the loop.
2. Per blob, a weighted fit of its handle -> target pairs (weights = the blob's alpha at the handle):
   one pair gives a translation, two a similarity (scale, rotation, translation), three or more an
   affine map with its singular values clamped so that blobs are neither crushed nor exploded.
3. The fit (A, tau) moves the blob centre mu <- A mu + tau and the covariance Sigma <- A Sigma A^T.
   With ``keep_area`` (the default) Sigma keeps its determinant, which the layout network always
   produces (det = ab_norm^2), and the uniform scale sqrt|det A| goes into the size logit instead,
   exactly as the "resize" edit does (s <- s c^2 scales the half-opacity outline by c).

All geometry is in normalized image units (x = column / width, y = row / height).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..layout import Layout

FITS = ("auto", "translate", "similarity", "affine", "none")
FIT_MIN_PAIRS = {"translate": 1, "similarity": 2, "affine": 3}
OWNER_MIN_ALPHA = 0.3      # a handle whose best blob has less alpha there is on the background or an edge
AFFINE_SINGULAR_RANGE = (0.5, 2.0)


# -- ownership ----------------------------------------------------------------------------------------

def alphas_at(layout: Layout, points: torch.Tensor) -> torch.Tensor:
    """Composited alphas of every blob at points [P,2] (normalized x, y): [N,P,K+1], index 0 = background.

    The same opacity sigmoid(s_k - d_k^2) and front-to-back compositing as the splatting, evaluated at the
    exact points instead of on a pixel grid.
    """
    pts = points.to(layout.xs)
    dx = pts[None, :, 0, None] - layout.xs[:, None, :]        # [N,P,K]
    dy = pts[None, :, 1, None] - layout.ys[:, None, :]
    cov = layout.covs[:, None]                                # [N,1,K,2,2]
    a, b, c = cov[..., 0, 0], cov[..., 0, 1], cov[..., 1, 1]
    det = a * c - b * b
    d2 = (c * dx * dx - 2 * b * dx * dy + a * dy * dy) / det
    o = torch.sigmoid(layout.sizes[:, None, 1:] - d2)         # [N,P,K]
    # alpha_k = o_k * prod_{j>k} (1 - o_j); the background has opacity 1
    in_front = torch.cat([1 - o, torch.ones_like(o[..., :1])], -1).flip(-1).cumprod(-1).flip(-1)
    return torch.cat([torch.ones_like(o[..., :1]), o], -1) * in_front


@dataclass(frozen=True)
class Ownership:
    blob: list[int | None]     # per handle: the owning blob's depth index 0..K-1, or None (background/edge)
    alpha: list[float]         # per handle: that blob's alpha at the handle
    alphas: torch.Tensor       # [P,K+1] all composited alphas at the handles


def handle_ownership(layout: Layout, handles_norm: torch.Tensor, min_alpha: float = OWNER_MIN_ALPHA) -> Ownership:
    """Which blob owns each handle [P,2] (normalized): the blob with the largest alpha there, if that alpha
    is at least ``min_alpha`` and larger than the background's. Layout batch must be 1."""
    alphas = alphas_at(layout, handles_norm)[0]               # [P,K+1]
    blob_alpha, k = alphas[:, 1:].max(-1)
    blobs, values = [], []
    for a, kk, bg in zip(blob_alpha.tolist(), k.tolist(), alphas[:, 0].tolist()):
        owned = a >= min_alpha and a > bg
        blobs.append(kk if owned else None)
        values.append(a)
    return Ownership(blobs, values, alphas)


# -- fits: p -> A p + tau, handles p [M,2] to targets t [M,2] with weights w [M] ----------------------

def fit_translation(p: torch.Tensor, t: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted mean displacement: A = I, tau = sum w (t - p) / sum w."""
    w = w / w.sum()
    tau = (w[:, None] * (t - p)).sum(0)
    return torch.eye(2, dtype=p.dtype, device=p.device), tau


def fit_similarity(p: torch.Tensor, t: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted least-squares similarity (uniform scale, rotation, translation; no reflection).

    In complex numbers the map is t = a p + b; for centred points a = sum w conj(p) t / sum w |p|^2.
    """
    w = w / w.sum()
    pm, tm = (w[:, None] * p).sum(0), (w[:, None] * t).sum(0)
    pc, tc = p - pm, t - tm
    norm = (w * (pc ** 2).sum(-1)).sum()
    if float(norm) <= 1e-12:
        return fit_translation(p, t, w)
    # conj(pc) * tc = (px tx + py ty) + i (px ty - py tx)
    re = (w * (pc[:, 0] * tc[:, 0] + pc[:, 1] * tc[:, 1])).sum() / norm
    im = (w * (pc[:, 0] * tc[:, 1] - pc[:, 1] * tc[:, 0])).sum() / norm
    a = torch.stack([torch.stack([re, -im]), torch.stack([im, re])])
    return a, tm - a @ pm


def fit_affine(
    p: torch.Tensor, t: torch.Tensor, w: torch.Tensor, singular_range=AFFINE_SINGULAR_RANGE,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted least-squares affine map, singular values of A clamped to ``singular_range``.

    Falls back to a similarity when the handles are (nearly) collinear.
    """
    w = w / w.sum()
    pm, tm = (w[:, None] * p).sum(0), (w[:, None] * t).sum(0)
    pc, tc = p - pm, t - tm
    spread = (w[:, None, None] * pc[:, :, None] * pc[:, None, :]).sum(0)      # [2,2] weighted covariance
    eig = torch.linalg.eigvalsh(spread)
    if float(eig[0]) <= 1e-6 * max(float(eig[1]), 1e-12):
        return fit_similarity(p, t, w)
    cross = (w[:, None, None] * tc[:, :, None] * pc[:, None, :]).sum(0)       # sum w t p^T
    a = cross @ torch.linalg.inv(spread)
    u, s, vh = torch.linalg.svd(a)
    a = u @ torch.diag(s.clamp(*singular_range)) @ vh
    return a, tm - a @ pm


def fit_blob(p, t, w, fit: str) -> tuple[torch.Tensor, torch.Tensor, str]:
    """The richest fit ``fit`` allows with this many pairs ("auto": as rich as the pairs allow)."""
    n = p.shape[0]
    kind = {1: "translate", 2: "similarity"}.get(n, "affine") if fit == "auto" else fit
    while FIT_MIN_PAIRS[kind] > n:
        kind = {"affine": "similarity", "similarity": "translate"}[kind]
    fn = {"translate": fit_translation, "similarity": fit_similarity, "affine": fit_affine}[kind]
    a, tau = fn(p, t, w)
    return a, tau, kind


def transform_blob(layout: Layout, k: int, a: torch.Tensor, tau: torch.Tensor, keep_area: bool = True) -> Layout:
    """Blob k (depth index) moved by p -> A p + tau: centre, covariance and (with keep_area) size logit."""
    a = a.to(layout.covs)
    tau = tau.to(layout.covs)
    mu = torch.stack([layout.xs[:, k], layout.ys[:, k]], -1)               # [N,2]
    mu = mu @ a.t() + tau
    det = torch.det(a).abs()
    shape = a / det.sqrt() if keep_area else a
    cov = shape @ layout.covs[:, k] @ shape.t()
    xs, ys, covs, sizes = layout.xs.clone(), layout.ys.clone(), layout.covs.clone(), layout.sizes.clone()
    xs[:, k], ys[:, k], covs[:, k] = mu[:, 0], mu[:, 1], cov
    if keep_area:
        s = sizes[:, k + 1]
        sizes[:, k + 1] = torch.where(s > 0, s * det, s)
    return layout.replace(xs=xs, ys=ys, covs=covs, sizes=sizes)


# -- the step ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClosedForm:
    layout: Layout                   # the moved layout
    handles: torch.Tensor            # [P,2] where each handle is predicted to be now (normalized)
    ownership: Ownership
    fits: dict[int, str]             # blob depth index -> the fit used ("translate", ...)


def closed_form_step(
    layout: Layout,
    handles: torch.Tensor,           # [P,2] normalized
    targets: torch.Tensor,           # [P,2] normalized
    fit: str = "auto",
    keep_area: bool = True,
    min_alpha: float = OWNER_MIN_ALPHA,
) -> ClosedForm:
    """Fit and apply one transform per handle-owning blob. Layout batch must be 1.

    Handles whose blob was moved are predicted at A p + tau; the others stay where they are.
    """
    if fit not in FITS:
        raise ValueError(f"fit must be one of {', '.join(FITS)}; got {fit!r}")
    if layout.batch != 1:
        raise ValueError(f"the closed-form step takes one scene at a time; got a batch of {layout.batch}")
    handles = handles.to(layout.xs)
    targets = targets.to(layout.xs)
    own = handle_ownership(layout, handles, min_alpha)
    predicted = handles.clone()
    fits: dict[int, str] = {}
    if fit == "none":
        return ClosedForm(layout, predicted, own, fits)
    for k in sorted({b for b in own.blob if b is not None}):
        idx = [i for i, b in enumerate(own.blob) if b == k]
        p, t = handles[idx], targets[idx]
        w = torch.tensor([own.alpha[i] for i in idx], dtype=handles.dtype, device=handles.device)
        a, tau, kind = fit_blob(p, t, w, fit)
        layout = transform_blob(layout, k, a, tau, keep_area)
        predicted[idx] = p @ a.t() + tau
        fits[k] = kind
    return ClosedForm(layout, predicted, own, fits)
