import torch
import torch.nn.functional as F
from conftest import TINY, random_model
from drag_helpers import known_layout

from blobgan_core.drag.features import (
    decoder_features,
    default_layer,
    layer_names,
    layer_resolution,
    sample_grid,
    sample_points,
)
from blobgan_core.drag.motion import disc_offsets, fixed_region, mask_loss, motion_loss, motion_step


def bump_map(centre: torch.Tensor, size: int = 32, channels: int = 3) -> torch.Tensor:
    """Features [C,S,S] of Gaussian bumps at ``centre`` (x, y pixels), differentiable in the centre."""
    grid = torch.arange(size, dtype=torch.float32)
    d2 = (grid[None, :] - centre[0]) ** 2 + (grid[:, None] - centre[1]) ** 2
    return torch.stack([torch.exp(-d2 / (2 * s ** 2)) for s in (2.0, 3.0, 4.0)[:channels]])


def test_partial_decoder_equals_the_full_forward_at_every_layer():
    model = random_model()
    lay = known_layout(model)
    noise = model.resolve_noise(0)
    for name in layer_names(TINY):
        feats = decoder_features(model, lay, noise, name)
        _, kept = model.generator(lay, noise=noise, keep=(name,))
        assert torch.equal(feats, kept[name]), name
        assert feats.shape[-1] == layer_resolution(TINY, name)
    assert default_layer(TINY) == "convs.1"  # the second conv at half the image side (16 px of 32)


def test_sampling_equals_bilinear_upsampling_to_the_image():
    g = torch.Generator().manual_seed(0)
    fmap = torch.randn(5, 8, 8, generator=g)
    up = F.interpolate(fmap[None], size=(32, 32), mode="bilinear", align_corners=False)[0]
    xs, ys = torch.tensor([0.0, 3.0, 17.0, 31.0]), torch.tensor([2.0, 30.0, 9.0])
    assert torch.allclose(sample_grid(fmap, xs, ys, 32), up[:, ys.long()][:, :, xs.long()], atol=1e-6)
    pts = torch.tensor([[5.0, 7.0], [31.0, 0.0]])
    assert torch.allclose(sample_points(fmap, pts, 32), up[:, [7, 0], [5, 31]].t(), atol=1e-6)
    # between pixels it is the bilinear interpolation of the map itself (grid_sample, align_corners=False)
    pts = torch.tensor([[5.3, 7.6], [12.25, 20.5]])
    g_norm = (pts + 0.5) / 32 * 2 - 1
    ref = F.grid_sample(fmap[None], g_norm[None, None], mode="bilinear", align_corners=False,
                        padding_mode="border")[0, :, 0].t()
    assert torch.allclose(sample_points(fmap, pts, 32), ref, atol=1e-5)


def test_disc_offsets():
    offsets, disc = disc_offsets(1.5)
    assert offsets.tolist() == [-1, 0, 1] and int(disc.sum()) == 9
    _, disc = disc_offsets(2.0)
    assert int(disc.sum()) == 13


def test_motion_supervision_pulls_the_content_towards_the_target():
    centre = torch.tensor([14.0, 16.0], requires_grad=True)
    handle, target = torch.tensor([[14.0, 16.0]]), torch.tensor([[20.0, 13.0]])
    loss = motion_loss(bump_map(centre), handle, target, torch.tensor([True]), radius=3, image_size=32)
    loss.backward()
    direction = (target - handle)[0] / (target - handle)[0].norm()
    descent = -centre.grad / centre.grad.norm()
    assert float(descent @ direction) > 0.95
    # following the gradient lowers the loss (the source patch is re-read, as in the loop)
    moved = (centre - 0.5 * centre.grad / centre.grad.norm()).detach()
    after = motion_loss(bump_map(moved), moved[None], target, torch.tensor([True]), 3, 32)
    assert after.item() < loss.item()


def test_arrived_handles_get_no_motion_term_and_steps_do_not_overshoot():
    fmap = bump_map(torch.tensor([10.0, 10.0]))
    assert float(motion_loss(fmap, torch.tensor([[10.0, 10.0]]), torch.tensor([[15.0, 10.0]]),
                             torch.tensor([False]), 3, 32)) == 0.0
    assert torch.allclose(motion_step(torch.tensor([1.0, 1.0]), torch.tensor([1.3, 1.4])), torch.tensor([0.3, 0.4]))
    assert torch.allclose(motion_step(torch.tensor([0.0, 0.0]), torch.tensor([6.0, 8.0])), torch.tensor([0.6, 0.8]))


def test_mask_term_only_sees_the_fixed_region():
    g = torch.Generator().manual_seed(1)
    f0 = torch.randn(4, 8, 8, generator=g)
    mask = torch.zeros(32, 32)
    mask[:16] = 1                                      # the top half may change
    fixed = fixed_region(mask, 8)
    assert fixed.shape == (8, 8) and float(fixed[:4].sum()) == 0 and float(fixed[4:].min()) == 1
    inside = f0.clone()
    inside[:, :4] += 1
    outside = f0.clone()
    outside[:, 4:] += 1
    assert float(mask_loss(f0, f0, fixed)) == 0.0
    assert float(mask_loss(inside, f0, fixed)) == 0.0
    assert float(mask_loss(outside, f0, fixed)) > 0.4


def test_feature_gradients_match_finite_differences():
    # guards the decoder's in-place fast path: the drag needs d features / d blob geometry to be right
    model = random_model().double()
    lay = known_layout(model).to(dtype=torch.float64)
    noise = model.resolve_noise(0)
    weights = torch.randn(32, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(0))

    def probe(xs):
        return (decoder_features(model, lay.replace(xs=xs), noise, "convs.1")[0] * weights).sum()

    xs = lay.xs.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(probe(xs), xs)
    eps = 1e-6
    for k in range(lay.n_blobs):
        step = torch.zeros_like(lay.xs)
        step[0, k] = eps
        numeric = (probe(lay.xs + step) - probe(lay.xs - step)) / (2 * eps)
        assert abs(float(grad[0, k]) - float(numeric)) <= 1e-6 * max(1.0, abs(float(numeric)))
