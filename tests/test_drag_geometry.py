import math

import pytest
import torch
from conftest import random_model
from drag_helpers import FRONT, known_layout

from blobgan_core.drag.closed_form import (
    alphas_at,
    closed_form_step,
    fit_affine,
    fit_similarity,
    fit_translation,
    handle_ownership,
    transform_blob,
)
from blobgan_core.drag.params import BlobParams
from blobgan_core.splat import layout_alphas


def rotation(deg: float) -> torch.Tensor:
    t = math.radians(deg)
    return torch.tensor([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]], dtype=torch.float64)


def test_alphas_at_points_match_the_splatted_grid():
    lay = random_model().sample_layout(seed=2, truncation=0)
    size = 32
    grid = layout_alphas(lay, size)[0]                                   # [K+1,S,S]
    rows, cols = torch.tensor([0, 5, 17, 31]), torch.tensor([3, 16, 30, 0])
    pts = torch.stack([cols / size, rows / size], -1).float()
    at = alphas_at(lay, pts)[0]                                           # [P,K+1]
    assert torch.allclose(at, grid[:, rows, cols].t(), atol=1e-6)
    assert torch.allclose(at.sum(-1), torch.ones(4))


def test_ownership_is_the_front_blob_and_background_owns_nothing():
    lay = known_layout()
    own = handle_ownership(lay, torch.tensor([[0.5, 0.5], [0.5, 0.95]]))
    assert own.blob[0] == FRONT and own.alpha[0] > 0.9
    assert own.blob[1] is None


def test_translation_is_recovered_exactly():
    lay = known_layout()
    handle, target = torch.tensor([[0.5, 0.5]]), torch.tensor([[0.6, 0.45]])
    cf = closed_form_step(lay, handle, target)
    assert cf.fits == {FRONT: "translate"}
    assert torch.allclose(cf.layout.xs[0, FRONT], torch.tensor(0.6))
    assert torch.allclose(cf.layout.ys[0, FRONT], torch.tensor(0.45))
    assert torch.allclose(cf.handles, target)
    # nothing else changes: the covariance, the size, and every other blob
    assert torch.equal(cf.layout.covs, lay.covs)
    assert torch.equal(cf.layout.sizes, lay.sizes)
    others = [k for k in range(lay.n_blobs) if k != FRONT]
    assert torch.equal(cf.layout.xs[:, others], lay.xs[:, others])


def test_similarity_fit_recovers_a_known_transform():
    g = torch.Generator().manual_seed(0)
    p = torch.rand(2, 2, generator=g, dtype=torch.float64)
    a_true = 1.3 * rotation(25)
    tau_true = torch.tensor([0.05, -0.1], dtype=torch.float64)
    t = p @ a_true.t() + tau_true
    a, tau = fit_similarity(p, t, torch.ones(2, dtype=torch.float64))
    assert torch.allclose(a, a_true, atol=1e-10) and torch.allclose(tau, tau_true, atol=1e-10)
    # weights do not matter when the transform is exact
    a2, _ = fit_similarity(p, t, torch.tensor([0.2, 0.9], dtype=torch.float64))
    assert torch.allclose(a2, a_true, atol=1e-10)


def test_affine_fit_recovers_a_known_transform_and_clamps_extreme_ones():
    g = torch.Generator().manual_seed(1)
    p = torch.rand(5, 2, generator=g, dtype=torch.float64)
    w = torch.rand(5, generator=g, dtype=torch.float64) + 0.1
    a_true = torch.tensor([[1.2, 0.3], [-0.2, 0.8]], dtype=torch.float64)
    tau_true = torch.tensor([0.1, 0.02], dtype=torch.float64)
    a, tau = fit_affine(p, p @ a_true.t() + tau_true, w)
    assert torch.allclose(a, a_true, atol=1e-10) and torch.allclose(tau, tau_true, atol=1e-10)
    squash = torch.tensor([[5.0, 0.0], [0.0, 0.1]], dtype=torch.float64)
    a, _ = fit_affine(p, p @ squash.t(), w)
    assert torch.allclose(torch.linalg.svdvals(a), torch.tensor([2.0, 0.5], dtype=torch.float64))


def test_affine_falls_back_on_collinear_handles_and_translation_is_a_weighted_mean():
    p = torch.tensor([[0.1, 0.1], [0.2, 0.2], [0.3, 0.3]], dtype=torch.float64)
    a_true = 0.9 * rotation(-10)
    a, _ = fit_affine(p, p @ a_true.t(), torch.ones(3, dtype=torch.float64))
    assert torch.allclose(a, a_true, atol=1e-10)  # a similarity fits collinear points exactly
    a, tau = fit_translation(p, p + torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]], dtype=torch.float64),
                             torch.tensor([2.0, 1.0, 1.0], dtype=torch.float64))
    assert torch.equal(a, torch.eye(2, dtype=torch.float64))
    assert torch.allclose(tau, torch.tensor([0.5, 0.0], dtype=torch.float64))


def test_transform_blob_rotates_the_covariance_and_keeps_its_area():
    lay = known_layout().to(dtype=torch.float64)
    a = 1.5 * rotation(30)
    out = transform_blob(lay, FRONT, a, torch.zeros(2, dtype=torch.float64), keep_area=True)
    r = rotation(30)
    assert torch.allclose(out.covs[0, FRONT], r @ lay.covs[0, FRONT] @ r.t(), atol=1e-12)
    assert torch.allclose(torch.det(out.covs[0, FRONT]), torch.det(lay.covs[0, FRONT]))
    assert torch.allclose(out.sizes[0, FRONT + 1], lay.sizes[0, FRONT + 1] * 1.5 ** 2)
    mu = torch.stack([lay.xs[0, FRONT], lay.ys[0, FRONT]])
    assert torch.allclose(torch.stack([out.xs[0, FRONT], out.ys[0, FRONT]]), a @ mu)
    free = transform_blob(lay, FRONT, a, torch.zeros(2, dtype=torch.float64), keep_area=False)
    assert torch.allclose(free.covs[0, FRONT], a @ lay.covs[0, FRONT] @ a.t(), atol=1e-12)
    assert torch.equal(free.sizes, lay.sizes)


def test_two_handles_on_one_blob_give_a_similarity_and_land_on_their_targets():
    lay = known_layout()
    handles = torch.tensor([[0.45, 0.5], [0.55, 0.5]])
    a_true = (1.2 * rotation(20)).float()
    centre = torch.tensor([0.5, 0.5])
    targets = (handles - centre) @ a_true.t() + centre + torch.tensor([0.05, 0.0])
    cf = closed_form_step(lay, handles, targets)
    assert cf.fits == {FRONT: "similarity"}
    assert torch.allclose(cf.handles, targets, atol=1e-6)
    assert torch.allclose(cf.layout.xs[0, FRONT], torch.tensor(0.55), atol=1e-6)
    with pytest.raises(ValueError, match="fit must be one of"):
        closed_form_step(lay, handles, targets, fit="warp")


def test_blob_params_rebuild_the_layout_and_keep_covariances_valid():
    lay = known_layout()
    params = BlobParams(lay, [1, FRONT])
    rebuilt = params.layout()
    for name, t in lay.tensors().items():
        assert torch.allclose(getattr(rebuilt, name), t, atol=1e-6), name
    assert torch.equal(rebuilt.covs[:, [0, 2]], lay.covs[:, [0, 2]])  # untouched blobs stay bit-exact
    with torch.no_grad():
        params.angle += 1.0
        params.log_aspect += 2.0
    covs = params.layout().covs[0]
    # float64: a float32 det of an elongated 2x2 cancels to ~1e-4 relative error on some BLAS builds
    assert torch.allclose(torch.det(covs.double()), torch.det(lay.covs[0].double()), rtol=1e-4)
    assert bool((torch.linalg.eigvalsh(covs) > 0).all())
