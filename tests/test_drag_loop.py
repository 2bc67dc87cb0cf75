import pytest
import torch
from conftest import random_model
from drag_helpers import FRONT, known_layout

from blobgan_core.drag import PointsError, drag
from blobgan_core.scene import Scene

HANDLES = '[{"x": 16, "y": 16}]'
TARGETS = '[{"x": 19, "y": 14}]'


@pytest.fixture(scope="module")
def scene():
    model = random_model()
    return Scene(model, known_layout(model), noise_seed=3)


def test_the_same_drag_gives_the_same_result(scene):
    a = drag(scene, HANDLES, TARGETS, steps=4, fit="none", optimize_features=True)
    b = drag(scene, HANDLES, TARGETS, steps=4, fit="none", optimize_features=True)
    for name, t in a.layout.tensors().items():
        assert torch.equal(t, getattr(b.layout, name)), name
    assert torch.equal(a.handles, b.handles) and torch.equal(a.image, b.image)
    assert a.history == b.history


def test_only_the_involved_blobs_change(scene):
    r = drag(scene, HANDLES, TARGETS, steps=3, fit="none")
    assert r.owners == [FRONT] and FRONT in r.involved
    assert r.steps == 3 and len(r.history) == 4          # each step, plus the final tracking
    lay = scene.layout
    assert torch.equal(r.layout.spatial_style, lay.spatial_style)
    assert torch.equal(r.layout.features, lay.features)
    others = [k for k in range(lay.n_blobs) if k not in r.involved]
    assert torch.equal(r.layout.xs[:, others], lay.xs[:, others])
    assert torch.equal(r.layout.covs[:, others], lay.covs[:, others])
    assert not torch.equal(r.layout.xs[:, FRONT], lay.xs[:, FRONT])


def test_the_loop_returns_its_best_iterate(scene):
    r = drag(scene, HANDLES, TARGETS, steps=6, fit="none", tolerance=1e-6, lr=0.05)
    tracked = [h["distance"] for h in r.history if "returned_step" not in h]
    assert float(r.distances.mean()) == pytest.approx(min(tracked), abs=1e-5)


def test_closed_form_only(scene):
    r = drag(scene, HANDLES, TARGETS, steps=0)
    assert r.steps == 0 and r.fits == {FRONT: "translate"}
    assert torch.allclose(r.layout.xs[0, FRONT], torch.tensor(19 / 32))
    assert torch.allclose(r.layout.ys[0, FRONT], torch.tensor(14 / 32))
    assert r.image.shape == (1, 3, 32, 32) and r.handles.shape == (1, 2)


def test_should_stop_interrupts_and_progress_reports(scene):
    calls, seen = [], []

    def stop_on_third():
        calls.append(1)
        return len(calls) >= 3

    r = drag(scene, HANDLES, TARGETS, steps=20, fit="none", tolerance=1e-6, should_stop=stop_on_third,
             progress=lambda done, total: seen.append((done, total)))
    assert r.interrupted and not r.converged and r.steps == 2
    assert seen == [(1, 20), (2, 20)]


def test_frames_every_k(scene):
    r = drag(scene, HANDLES, TARGETS, steps=4, fit="none", tolerance=1e-6, every=2)
    # the original, after the closed form, steps 2 and 4, the result
    assert r.frames.shape == (5, 3, 32, 32)
    assert torch.equal(r.frames[-1:], r.image)


def test_the_mask_term_holds_the_region_outside_the_mask(scene):
    mask = torch.zeros(64, 64)
    mask[16:48, 16:48] = 1                                # resized to the 32 px render: 8..24 may change
    keep = torch.ones(32, 32)
    keep[8:24, 8:24] = 0
    original = scene.render()

    def outside_change(result):
        return float(((result.image - original).abs().mean(1)[0] * keep).sum() / keep.sum())

    kw = dict(steps=5, fit="none", tolerance=1e-6, lr=0.02)
    free = drag(scene, HANDLES, TARGETS, mask=mask, lam=0.0, **kw)
    held = drag(scene, HANDLES, TARGETS, mask=mask, lam=1000.0, **kw)
    assert "mask" in held.history[0] and "mask" not in free.history[0]
    assert outside_change(held) < 0.5 * outside_change(free)
    uniform = drag(scene, HANDLES, TARGETS, steps=1, fit="none", mask=torch.ones(32, 32))
    assert "mask" not in uniform.history[0]


def test_bad_inputs_are_named(scene):
    with pytest.raises(PointsError, match="handles has 1 point"):
        drag(scene, HANDLES, "[]")
    with pytest.raises(PointsError, match="outside the 32x32 image"):
        drag(scene, HANDLES, '[{"x": 40, "y": 3}]')
    with pytest.raises(ValueError, match="batch of 2"):
        drag(scene.model, HANDLES, TARGETS, layout=scene.model.sample_layout(seed=0, batch=2))
    with pytest.raises(ValueError, match="layer must be one of"):
        drag(scene, HANDLES, TARGETS, layer="convs.9")
    with pytest.raises(ValueError, match="steps must be an integer"):
        drag(scene, HANDLES, TARGETS, steps=-1)


def test_a_half_precision_model_drags_in_float32_and_keeps_its_dtype():
    model = random_model().to(dtype=torch.bfloat16)
    layout = known_layout(model).to(dtype=torch.bfloat16)
    r = drag(model, HANDLES, TARGETS, layout=layout, steps=2)
    assert r.layout.xs.dtype == torch.bfloat16 and r.image.dtype == torch.float32
    assert bool(torch.isfinite(r.handles).all())


def test_the_reported_handles_are_where_the_content_is_in_the_returned_image(scene):
    """final_handles is a distance in what the user sees: the original's patch around each handle,
    found in the returned render (test_drag_content.py checks it against an independent detector)."""
    from blobgan_core.drag.loop import R2_IMAGE_AT_128, TEMPLATE_AT_128, scaled_px
    from blobgan_core.drag.tracking import image_templates, track_in_image

    r = drag(scene, HANDLES, TARGETS, steps=6)
    original = scene.render()
    handles = torch.tensor([[16.0, 16.0]])
    templates = image_templates(original[0], handles, round(scaled_px(TEMPLATE_AT_128, 32, 2.0)))
    reach = (r.targets - handles).norm(dim=-1) + scaled_px(R2_IMAGE_AT_128, 32, 2.0)
    found, _ = track_in_image(r.image[0], templates, handles, reach)
    assert torch.equal(found, r.handles)
    assert torch.equal(r.distances, (found - r.targets).norm(dim=-1))
    assert all("match" in h for h in r.history if "returned_step" not in h)


def test_tracking_on_features_is_still_available(scene):
    r = drag(scene, HANDLES, TARGETS, steps=3, track_on="features", supervise_on="features")
    assert "match" not in r.history[0] and r.handles.shape == (1, 2)
    with pytest.raises(ValueError, match="track_on must be one of"):
        drag(scene, HANDLES, TARGETS, track_on="pixels")
    with pytest.raises(ValueError, match="supervise_on must be one of"):
        drag(scene, HANDLES, TARGETS, supervise_on="rgb")
