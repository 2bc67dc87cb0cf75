"""Animate Scenes: the interpolation (blobgan_core.animate) and the node. End frames are the two renders,
blobs pair by id through depth edits and duplicates, and hidden or added blobs fade through their size."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from conftest import random_model
from pack_fixtures import TINY10, one_thread, pack

from blobgan_core.animate import (
    FADE_SIZE,
    frame_times,
    interpolate_covs,
    interpolate_layouts,
    merged_order,
    render_animation,
)
from blobgan_core.edits import HIDDEN_SIZE, rotate_blob
from blobgan_core.images import to_comfy_image
from blobgan_core.layout import Layout
from blobgan_core.scene import Scene

# a reorder, a duplicate (a new id), a remove and plain moves: everything that breaks pairing by index
EDITS = [{"op": "move", "blob": 3, "dx": 0.15, "dy": 0.0}, {"op": "resize", "blob": 9, "scale": 1.25},
         {"op": "rotate", "blob": 9, "degrees": 15}, {"op": "duplicate", "blob": 3, "dx": -0.3, "dy": 0.0},
         {"op": "remove", "blob": 4}, {"op": "to_front", "blob": 3}, {"op": "to_back", "blob": 8}]


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


@pytest.fixture(scope="module")
def model():
    return random_model(TINY10, seed=3)


@pytest.fixture(scope="module")
def scene(model):
    layout = model.sample_layout(seed=5, batch=2)
    # every blob clearly visible, so that fades and moves show in the pixels
    return Scene(model, layout.replace(sizes=layout.sizes.clamp(min=2.0)), noise_seed=5)


@pytest.fixture(scope="module")
def edited(scene):
    return scene.edit(EDITS)


def by_id(layout, ids, blob_id):
    """(x [N], y [N], size [N], cov [N,2,2], features [N,d], style [N,d]) of the blob with ``blob_id``."""
    k = list(ids).index(blob_id)
    return (layout.xs[:, k], layout.ys[:, k], layout.sizes[:, k + 1], layout.covs[:, k],
            layout.features[:, k + 1], layout.spatial_style[:, k + 1])


# -- the interpolation ---------------------------------------------------------------------------------

def test_end_points_are_the_scenes_themselves(scene, edited):
    layout, ids = interpolate_layouts(scene.layout, edited.layout, 0.0, ids_a=scene.ids, ids_b=edited.ids)
    assert layout is scene.layout and ids == list(scene.ids)
    layout, ids = interpolate_layouts(scene.layout, edited.layout, 1.0, ids_a=scene.ids, ids_b=edited.ids)
    assert layout is edited.layout and ids == list(edited.ids)


@pytest.mark.parametrize("t, end", [(1e-6, "a"), (1 - 1e-6, "b")])
def test_frames_next_to_the_ends_render_like_the_ends(model, scene, edited, t, end):
    """The union layout (hidden extra blobs, merged depth order) renders as the scene it starts or ends at:
    no jump between the first (last) frame and the next."""
    layout, ids = interpolate_layouts(scene.layout, edited.layout, t, ids_a=scene.ids, ids_b=edited.ids)
    assert len(ids) == 11 and sorted(ids) == list(range(11))
    target = scene if end == "a" else edited
    with torch.no_grad():
        assert torch.allclose(model.render(layout, noise=5), target.render(), atol=1e-3)


def test_blobs_pair_by_id_through_depth_edits(scene):
    """Only depth edits: every blob stays exactly where it is in every frame, although its depth index
    changes (pairing by index would send blob 0 to where blob 1 was)."""
    reordered = scene.edit([{"op": "to_front", "blob": 0}, {"op": "to_back", "blob": 6}, {"op": "forward", "blob": 3}])
    assert list(reordered.ids) != list(scene.ids)
    for t in (0.25, 0.5, 0.75):
        layout, ids = interpolate_layouts(scene.layout, reordered.layout, t, ids_a=scene.ids, ids_b=reordered.ids)
        assert ids == (list(scene.ids) if t < 0.5 else list(reordered.ids))
        for blob_id in scene.ids:
            for got, want in zip(by_id(layout, ids, blob_id), by_id(scene.layout, scene.ids, blob_id)):
                assert torch.allclose(got, want, atol=1e-6), (t, blob_id)


def test_moved_blobs_travel_on_a_line_and_the_duplicate_keeps_its_place(scene, edited):
    for t in (0.3, 0.6):
        layout, ids = interpolate_layouts(scene.layout, edited.layout, t, ids_a=scene.ids, ids_b=edited.ids)
        x, y = by_id(layout, ids, 3)[:2]
        x0, y0 = by_id(scene.layout, scene.ids, 3)[:2]
        assert torch.allclose(x, x0 + 0.15 * t, atol=1e-6) and torch.allclose(y, y0, atol=1e-6)
        # the duplicate (id 10) does not exist at the start: it waits where it will be, fading in
        x10 = by_id(layout, ids, 10)[0]
        assert torch.allclose(x10, x0 + 0.15 - 0.3, atol=1e-6)
        # a blob no edit touched is the same in every frame
        for got, want in zip(by_id(layout, ids, 1), by_id(scene.layout, scene.ids, 1)):
            assert torch.allclose(got, want, atol=1e-6)


def sizes_over_time(a, b, blob_id, steps=21):
    """The blob's size logit in each of ``steps`` frames, [steps,N]; HIDDEN_SIZE where it does not exist."""
    out = []
    for i in range(steps):
        layout, ids = interpolate_layouts(a.layout, b.layout, i / (steps - 1), ids_a=a.ids, ids_b=b.ids)
        out.append(by_id(layout, ids, blob_id)[2] if blob_id in ids else torch.full((layout.batch,), HIDDEN_SIZE))
    return torch.stack(out)                                   # [steps, N]


def test_a_removed_blob_shrinks_away_and_an_added_one_grows_in(scene, edited):
    removed = sizes_over_time(scene, edited, 4)
    assert torch.equal(removed[0], scene.layout.sizes[:, 4 + 1]) and bool((removed[-1] == HIDDEN_SIZE).all())
    assert bool((removed[1:] <= removed[:-1]).all())          # monotonically down to hidden
    assert bool((removed[1:-1] >= FADE_SIZE).all())           # through the fade, not straight to -100
    assert bool((removed[10] < removed[0] - 5).all())         # and visibly on its way by the midpoint
    added = sizes_over_time(scene, edited, 10)
    assert bool((added[0] == HIDDEN_SIZE).all()) and torch.equal(added[-1], by_id(edited.layout, edited.ids, 10)[2])
    assert bool((added[1:] >= added[:-1]).all())


def test_revived_and_still_hidden_blobs(scene):
    hidden = scene.edit([{"op": "remove", "blob": 2}, {"op": "remove", "blob": 5}])
    revived = hidden.edit([{"op": "set_size", "blob": 2, "size": 3.0}])
    grows = sizes_over_time(hidden, revived, 2)
    assert bool((grows[1:] >= grows[:-1]).all()) and bool((grows[1:-1] >= FADE_SIZE).all())
    assert bool((sizes_over_time(hidden, revived, 5) == HIDDEN_SIZE).all())  # hidden at both ends: never shows


def test_rotation_turns_the_short_way_with_the_same_axes():
    cov = torch.tensor([[[0.04, 0.0], [0.0, 0.01]]])                      # [1,2,2], major axis along x
    layout = Layout(xs=torch.zeros(1, 1), ys=torch.zeros(1, 1), sizes=torch.zeros(1, 2), covs=cov[None],
                    features=torch.zeros(1, 2, 3), spatial_style=torch.zeros(1, 2, 3))
    for degrees in (30, 170):  # 170 degrees is the same ellipse as -10: it turns back by 5 at the midpoint
        turned = rotate_blob(layout, 0, degrees).covs[0]
        half = math.radians(degrees / 2 if degrees < 90 else (degrees - 180) / 2)
        expected = rotate_blob(layout, 0, math.degrees(half)).covs[0]
        assert torch.allclose(interpolate_covs(cov, turned, 0.5), expected, atol=1e-7)


def test_merged_order_keeps_each_side_in_place():
    assert merged_order([0, 1, 2, 3], [0, 2, 4, 1, 3]) == [0, 1, 2, 4, 3]
    assert merged_order([0, 2, 4, 1, 3], [0, 1, 2, 3]) == [0, 2, 4, 1, 3]
    assert merged_order([1, 2], [5, 1, 2]) == [5, 1, 2]


def test_easings_start_at_0_end_at_1_and_rise():
    for easing in ("linear", "ease_in_out", "ease_in", "ease_out"):
        times = frame_times(9, easing)
        assert times[0] == 0.0 and times[-1] == 1.0 and times == sorted(times) and len(set(times)) == 9
    assert frame_times(5, "linear") == [0.0, 0.25, 0.5, 0.75, 1.0]
    with pytest.raises(ValueError, match=r"unknown easing 'bounce'; allowed: \['linear'"):
        frame_times(5, "bounce")
    with pytest.raises(ValueError, match="at least 2 frames"):
        frame_times(1)


def test_layouts_of_different_models_or_batches_are_refused(scene):
    other = random_model(dataclasses.replace(TINY10, d_style=7)).sample_layout(seed=0, batch=2)
    with pytest.raises(ValueError, match="spatial_style of size 10 and 7"):
        interpolate_layouts(scene.layout, other, 0.5)
    with pytest.raises(ValueError, match="hold 2 and 1 scenes"):
        interpolate_layouts(scene.layout, scene.layout.select(0), 0.5)


# -- rendering -------------------------------------------------------------------------------------------

def test_render_animation_ends_are_the_renders_bit_for_bit(scene, edited):
    images, maps = render_animation(scene, edited, 5, "ease_in_out")
    assert images.shape == (2, 5, 3, 32, 32) and maps.shape == (2, 5, 3, 32, 32)
    assert torch.equal(images[:, 0], scene.render()) and torch.equal(images[:, -1], edited.render())
    assert torch.equal(maps[:, 0], scene.blob_map()) and torch.equal(maps[:, -1], edited.blob_map())
    assert not torch.allclose(images[:, 2], images[:, 0], atol=1e-2)  # something moves in between


def test_scenes_with_different_noise_seeds_end_on_their_own_renders(scene, edited):
    other_seed = Scene(edited.model, edited.layout, noise_seed=99, ids=edited.ids)
    images, _ = render_animation(scene, other_seed, 3, blob_maps=False)
    assert torch.equal(images[:, 0], scene.render()) and torch.equal(images[:, -1], other_seed.render())


# -- the node ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def classes():
    return pack().NODE_CLASS_MAPPINGS


def test_node_frames_start_and_end_on_render_scene(classes, scene, edited):
    """Frame 0 is exactly what Render Scene shows for the start scene, the last frame exactly what it shows
    for the end scene (both scenes of the batch; each scene's frames together)."""
    frames, maps = classes["BlobGANAnimateScenes"]().animate(scene, edited, 4, "linear")
    assert frames.shape == maps.shape == (8, 32, 32, 3)
    render = classes["BlobGANRenderScene"]()
    first_image, first_map = render.render(scene, True)["result"]
    last_image, last_map = render.render(edited, True)["result"]
    assert torch.equal(frames[[0, 4]], first_image) and torch.equal(frames[[3, 7]], last_image)
    assert torch.equal(maps[[0, 4]], first_map) and torch.equal(maps[[3, 7]], last_map)
    with torch.no_grad():
        assert torch.equal(frames[0], to_comfy_image(scene.render())[0])


def test_node_refuses_other_models_batches_and_frame_counts(classes, scene, model):
    node = classes["BlobGANAnimateScenes"]()
    twin = random_model(TINY10, seed=3)  # the same weights, but another model object (another Load BlobGAN)
    with pytest.raises(ValueError, match=r"^Animate Scenes \(end_scene\): comes from another model than start_scene"):
        node.animate(scene, Scene(twin, scene.layout, 5), 3, "linear")
    with pytest.raises(ValueError, match=r"^Animate Scenes \(end_scene\): holds 1 scenes but start_scene holds 2"):
        node.animate(scene, Scene(model, scene.layout.select(0), 5), 3, "linear")
    with pytest.raises(ValueError, match=r"^Animate Scenes \(frames\): must be an integer in 2..1000, got 1"):
        node.animate(scene, scene, 1, "linear")
    with pytest.raises(ValueError, match=r"^Animate Scenes \(easing\): must be one of \['linear'"):
        node.animate(scene, scene, 3, "bounce")
    with pytest.raises(ValueError, match=r"^Animate Scenes \(start_scene\): expected a BLOB_SCENE"):
        node.animate(None, scene, 3, "linear")
