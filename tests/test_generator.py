import pytest
import torch
import torch.nn.functional as F
from conftest import TINY, random_model

from blobgan_core.edits import apply_edits
from blobgan_core.splat import alpha_pyramid, layout_alphas, splat
from blobgan_core.visualize import blob_colors


def test_fast_path_matches_reference_formulas():
    model = random_model()
    lay = model.sample_layout(seed=5, batch=3, truncation=0.2)
    noise = model.noise(9)
    ref = model.generator(lay, noise, impl="ref")
    fast = model.generator(lay, noise)
    assert ref.shape == (3, 3, TINY.resolution, TINY.resolution)
    assert (ref - fast).abs().max() < 1e-5 * ref.abs().max()


def test_fast_path_matches_reference_in_float64_exactly_enough():
    model = random_model().double()
    lay = model.sample_layout(seed=2, truncation=0)
    noise = model.noise(0)
    assert torch.allclose(model.generator(lay, noise, impl="ref"), model.generator(lay, noise), atol=1e-11)


def test_both_paths_give_the_same_gradients_for_dragging():
    # impl="auto" renders with the formulas on GPUs, so DragGAN's backward pass must agree there too.
    model = random_model().double()
    lay = model.sample_layout(seed=4, truncation=0.3)
    grads = []
    for impl in ("fast", "ref"):
        xs = lay.xs.clone().requires_grad_(True)
        features = model.generator(lay.replace(xs=xs), model.noise(0), stop_at="convs.1", impl=impl)
        grads.append(torch.autograd.grad(features.square().mean(), xs)[0])
    assert grads[0].abs().max() > 0 and torch.allclose(grads[0], grads[1], atol=1e-12)
    with pytest.raises(ValueError, match="impl must be 'auto', 'fast' or 'ref'"):
        model.generator(lay, impl="gpu")


def test_same_seed_same_layout_and_render():
    model = random_model()
    a, b = model.sample_layout(seed=11), model.sample_layout(seed=11)
    assert torch.equal(a.xs, b.xs)
    assert torch.equal(model.render(a), model.render(b))  # noise=None is a fixed default
    assert not torch.equal(model.render(a, noise=1), model.render(a, noise=2))
    assert not torch.equal(a.xs, model.sample_layout(seed=12).xs)


def test_full_truncation_gives_the_mean_layout_for_every_seed():
    model = random_model()
    a = model.sample_layout(seed=1, truncation=1.0)
    b = model.sample_layout(seed=2, truncation=1.0)
    assert torch.allclose(a.xs, b.xs) and torch.allclose(a.spatial_style, b.spatial_style)


def test_truncation_out_of_range_is_a_clear_error():
    with pytest.raises(ValueError, match="truncation"):
        random_model().sample_layout(seed=0, truncation=1.5)


def test_alphas_sum_to_one_and_the_pyramid_is_bilinear():
    lay = random_model().sample_layout(seed=4, batch=2, truncation=0)
    alpha = layout_alphas(lay, 32)
    assert torch.allclose(alpha.sum(1), torch.ones(2, 32, 32), atol=1e-6)
    pyr = alpha_pyramid(alpha, 8)
    bilinear = F.interpolate(alpha, size=(16, 16), mode="bilinear", align_corners=False)
    assert torch.allclose(pyr[16], bilinear, atol=1e-6)
    assert sorted(pyr) == [8, 16, 32]


def test_a_removed_blob_leaves_no_trace():
    """Hiding blob k renders exactly like a layout without blob k: the decoder sees no trace of it."""
    model = random_model()
    lay = model.sample_layout(seed=6, truncation=0)
    hidden, _ = apply_edits(lay, [{"op": "remove", "blob": 1}])
    keep = [0, 2, 3]
    dropped = lay.replace(xs=lay.xs[:, keep], ys=lay.ys[:, keep], covs=lay.covs[:, keep],
                          sizes=lay.sizes[:, [0, 1 + 0, 1 + 2, 1 + 3]],
                          features=lay.features[:, [0, 1, 3, 4]], spatial_style=lay.spatial_style[:, [0, 1, 3, 4]])
    assert torch.allclose(model.render(hidden), model.render(dropped), atol=1e-5)


def test_moving_a_blob_moves_its_alpha():
    model = random_model()
    lay = model.sample_layout(seed=8, truncation=0)
    lay = lay.replace(sizes=torch.full_like(lay.sizes, -100.0))
    lay, _ = apply_edits(lay, [{"op": "set_size", "blob": 2, "size": 3.0}])
    moved, _ = apply_edits(lay, [{"op": "move", "blob": 2, "dx": 0.25, "dy": 0.0}])
    a, b = layout_alphas(lay, 32)[0, 3], layout_alphas(moved, 32)[0, 3]
    # an 8-pixel shift right of the whole opacity map (0.25 * 32), away from the borders
    assert torch.allclose(a[:, 4:20], b[:, 12:28], atol=1e-5)


def test_blob_map_colours_and_labels():
    model = random_model()
    lay = model.sample_layout(seed=1)
    none_visible = lay.replace(sizes=torch.full_like(lay.sizes, -100.0))
    m = model.blob_map(none_visible)
    bg = blob_colors("bed_conf", TINY.n_blobs)[0]
    assert torch.allclose(m[0], bg.view(3, 1, 1).expand_as(m[0]), atol=1e-6)
    one, _ = apply_edits(none_visible, [{"op": "set_size", "blob": 0, "size": 6.0}])
    m = model.blob_map(one)
    centre = (int(one.ys[0, 0] * 32), int(one.xs[0, 0] * 32))
    if 0 <= centre[0] < 32 and 0 <= centre[1] < 32:
        assert torch.allclose(m[0, :, centre[0], centre[1]], blob_colors("bed_conf", 4)[1], atol=1e-3)
    labelled = model.blob_map(one, labels=True)
    assert labelled.shape == m.shape and not torch.equal(labelled, m)


def test_structure_grid_is_alpha_weighted_features():
    lay = random_model().sample_layout(seed=2)
    alpha = alpha_pyramid(layout_alphas(lay, 32), 8)[8]
    grid = splat(alpha, lay.features)
    manual = torch.einsum("nkhw,nkc->nchw", alpha, lay.features)
    assert torch.allclose(grid, manual, atol=1e-6)


def test_layout_from_another_model_is_refused():
    from blobgan_core.config import BlobGANConfig
    other = random_model(BlobGANConfig(**{**TINY.to_dict(), "d_in": 6}))
    with pytest.raises(ValueError, match="d_in"):
        random_model().render(other.sample_layout(seed=0))


def test_gradients_reach_layout_parameters():
    model = random_model()
    lay = model.sample_layout(seed=3)
    xs = lay.xs.clone().requires_grad_(True)
    img = model.render(lay.replace(xs=xs))
    img.square().mean().backward()
    assert xs.grad is not None and xs.grad.abs().sum() > 0


def test_blob_masks_follow_occlusion():
    from blobgan_core.scene import blob_masks
    lay = random_model().sample_layout(seed=1)
    lay = lay.replace(sizes=torch.full_like(lay.sizes, -100.0))
    # two concentric blobs: blob 3 in front of blob 1
    lay, _ = apply_edits(lay, [{"op": "set_size", "blob": 1, "size": 4.0}, {"op": "set_size", "blob": 3, "size": 4.0}])
    lay = lay.replace(xs=torch.full_like(lay.xs, 0.5), ys=torch.full_like(lay.ys, 0.5))
    behind = blob_masks(lay, [1], 32, "visible")
    raw = blob_masks(lay, [1], 32, "opacity")
    front = blob_masks(lay, [3], 32, "visible")
    assert raw[0, 16, 16] > 0.9 and behind[0, 16, 16] < 0.1 and front[0, 16, 16] > 0.9
    both = blob_masks(lay, None, 32, "threshold")
    assert set(both.unique().tolist()) <= {0.0, 1.0} and both[0, 16, 16] == 1 and both[0, 0, 0] == 0
    with pytest.raises(ValueError, match="valid: 0..3"):
        blob_masks(lay, [7], 32)


def test_fir_upsampling_matches_its_definition():
    from blobgan_core.layers import upsample2x, upsample2x_ref
    x = torch.randn(2, 5, 7, 9)
    assert torch.allclose(upsample2x(x), upsample2x_ref(x), atol=1e-6)
    assert upsample2x(x).shape == (2, 5, 14, 18)


def test_stop_at_returns_the_kept_activation():
    model = random_model()
    lay = model.sample_layout(seed=3)
    noise = model.noise(1)
    _, kept = model.generator(lay, noise, keep=("convs.1",))
    assert torch.equal(model.generator(lay, noise, stop_at="convs.1"), kept["convs.1"])
    with pytest.raises(ValueError, match="unknown decoder layer"):
        model.generator(lay, noise, stop_at="convs.99")


def test_bfloat16_model_renders_close_to_float32():
    model = random_model()
    lay = model.sample_layout(seed=2)
    ref = model.render(lay)
    low = model.to(torch.bfloat16).render(lay)
    assert low.dtype == torch.bfloat16 and low.shape == ref.shape
    assert (low.float() - ref).abs().mean() < 0.05 * ref.abs().mean()


def test_a_layout_with_nan_is_refused_naming_the_tensor():
    model = random_model()
    layout = model.sample_layout(seed=1)
    xs = layout.xs.clone()
    xs[0, 1] = float("nan")
    with pytest.raises(ValueError, match=r"layout has NaN or infinite values in \['xs'\]"):
        model.render(layout.replace(xs=xs))
