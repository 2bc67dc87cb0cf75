"""Composite Edit and the inversion nodes: the edit goes back into the picture at full size, the
picture's own pixels stay everywhere else, and every scene consumer (preview route included) takes an
inverted scene."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from conftest import TINY, random_model
from pack_fixtures import one_thread, pack

from blobgan_core.composite import changed_ids, composite_edit
from blobgan_core.invert import InvertOptions, invert
from blobgan_core.invert.optimize import FitOptions
from blobgan_core.splat import layout_alphas

QUICK = InvertOptions(samples=8, fit=FitOptions(hidden_steps=5, raw_steps=5))


@pytest.fixture(scope="module")
def nodes():
    return pack().nodes


@pytest.fixture(scope="module")
def model():
    return random_model(TINY)


@pytest.fixture(scope="module")
def picture():
    torch.manual_seed(0)
    return torch.rand(1, 3, 48, 80) * 2 - 1          # wider than tall: the frame is its centre square


@pytest.fixture(scope="module")
def scene(model, picture):
    return invert(model, picture, options=QUICK, encoder=False)


def _visible_blob(scene) -> int:
    area = layout_alphas(scene.layout, scene.resolution)[0, 1:].sum((1, 2))
    return scene.ids[int(area.argmax())]


def test_no_edit_gives_back_the_picture_exactly(scene, picture):
    out, mask = composite_edit(picture, scene, scene)
    assert torch.equal(out, picture) and float(mask.max()) == 0


def test_an_edit_shows_only_inside_its_mask(scene, picture):
    blob = _visible_blob(scene)
    edited = scene.edit([{"op": "move", "blob": blob, "dx": 0.25, "dy": 0}])
    assert changed_ids(scene, edited) == ({blob}, False)
    out, mask = composite_edit(picture, scene, edited)
    assert out.shape == picture.shape and mask.shape == (1, 48, 80)
    assert float(mask.max()) > 0.99
    outside = (mask == 0)[:, None].expand_as(picture)
    assert torch.equal(out[outside], picture[outside])
    # the picture outside the centre square the model saw is never touched
    assert float(mask[..., :16].max()) == 0 and float(mask[..., 64:].max()) == 0
    inside = (mask > 0.99)[:, None].expand_as(picture)
    assert float((out[inside] - picture[inside]).abs().mean()) > 0.05


def test_a_changed_background_takes_the_whole_frame(scene, picture):
    bg = scene.layout.features.clone()
    bg[:, 0] = -bg[:, 0]
    edited = scene.with_layout(scene.layout.replace(features=bg), scene.ids)
    _, mask = composite_edit(picture, scene, edited, feather=0)
    assert float(mask[..., 16:64].min()) == 1 and float(mask[..., :16].max()) == 0


def test_composite_refuses_what_does_not_belong_together(model, scene, picture):
    sampled = dataclasses.replace(scene, framing=None)
    with pytest.raises(ValueError, match="not made by inverting"):
        composite_edit(picture, sampled, scene)
    with pytest.raises(ValueError, match="image is 48x48 but the scene was inverted from a 80x48"):
        composite_edit(picture[..., :48], scene, scene)


def test_the_nodes_round_trip_a_comfy_picture(nodes, model):
    invert_node = nodes.NODE_CLASS_MAPPINGS["BlobGANInvertImage"]()
    composite_node = nodes.NODE_CLASS_MAPPINGS["BlobGANCompositeEdit"]()
    rgba = torch.rand(1, 40, 56, 4)                  # ComfyUI IMAGE with alpha
    with one_thread():
        out = invert_node.invert(model, rgba, "fast", "crop", 7)
    scene, reconstruction = out["result"]
    assert reconstruction.shape == (1, 32, 32, 3) and "images" in out["ui"]
    edited = nodes.NODE_CLASS_MAPPINGS["BlobGANEditBlob"]().edit(
        scene, f'[{{"op": "move", "blob": {_visible_blob(scene)}, "dx": 0.2, "dy": 0}}]')["result"][0]
    image, mask = composite_node.composite(rgba, scene, edited, 2.0, 2.0, True)
    assert image.shape == (1, 40, 56, 3) and mask.shape == (1, 40, 56)
    keep = mask[0] == 0
    assert torch.equal(image[0][keep], rgba[0, ..., :3][keep])
    # Render Scene, Blob Masks and Drag Points take the inverted scene
    rendered = nodes.NODE_CLASS_MAPPINGS["BlobGANRenderScene"]().render(edited, True)["result"][0]
    assert rendered.shape == (1, 32, 32, 3)
    masks = nodes.NODE_CLASS_MAPPINGS["BlobGANBlobMasks"]().masks(edited, "all", "visible", 0.5, 0)
    assert masks[0].shape[-1] == 32
    dragged = nodes.NODE_CLASS_MAPPINGS["BlobGANDragPoints"]().drag(
        scene, '[{"x": 10, "y": 12}]', '[{"x": 13, "y": 12}]', 3)["result"]
    assert dragged[0].framing == scene.framing


def test_node_errors_name_the_input(nodes, model):
    invert_node = nodes.NODE_CLASS_MAPPINGS["BlobGANInvertImage"]()
    with pytest.raises(ValueError, match=r"Invert Image \(mask\): mask is 8x8 pixels but the image is 32x32"):
        invert_node.invert(model, torch.rand(1, 32, 32, 3), "fast", "crop", 0, mask=torch.zeros(1, 8, 8))
    with pytest.raises(ValueError, match=r"Invert Image \(image\): is an empty batch"):
        invert_node.invert(model, torch.rand(0, 32, 32, 3), "fast", "crop", 0)
    with pytest.raises(ValueError, match=r"Invert Image \(preset\): must be one of"):
        invert_node.invert(model, torch.rand(1, 32, 32, 3), "best", "crop", 0)
    sampled = nodes.NODE_CLASS_MAPPINGS["BlobGANSampleBlobs"]().sample(model, 1, 0.4, 1)[0]
    with pytest.raises(ValueError, match=r"Composite Edit \(inverted_scene\): is not from Invert Image"):
        nodes.NODE_CLASS_MAPPINGS["BlobGANCompositeEdit"]().composite(torch.rand(1, 32, 32, 3), sampled, sampled)


def test_the_preview_route_renders_an_inverted_scene_as_it_is(nodes, model, picture):
    """The widget's live preview of an inverted, tuned scene shows that scene (its tuned decoder and
    fitted noise), not the loaded model's rendering of the layout."""
    from nodes import preview

    tuned = invert(model, picture, options=dataclasses.replace(QUICK, tune_steps=3,
                                                               fit=FitOptions(5, raw_steps=5, noise_steps=3)),
                   encoder=False)
    assert tuned.noise_maps is not None and tuned.model is not model
    preview.forget_scenes()
    preview.remember_scene("12", tuned)
    status, body = preview.handle_preview({"node_id": "12", "edits": "[]"})
    assert status == 200
    cached = preview.cached_scene("12")
    assert cached.model is tuned.model and torch.equal(cached.noise_maps[0], tuned.noise_maps[0])
    assert torch.equal(cached.render(), tuned.render())
    preview.forget_scenes()


def test_the_preview_of_an_inverted_batch_shows_its_first_picture_with_its_own_decoder(nodes, model, picture):
    from nodes import preview

    pictures = torch.cat([picture, picture.flip(-1)])
    tuned = invert(model, pictures, options=dataclasses.replace(QUICK, tune_steps=3), encoder=False)
    preview.forget_scenes()
    preview.remember_scene("13", tuned)
    status, body = preview.handle_preview({"node_id": "13", "edits": "[]"})
    assert status == 200
    cached = preview.cached_scene("13")
    assert cached.layout.batch == 1
    assert torch.equal(cached.render(), tuned.select(0).render())
    preview.forget_scenes()


def test_a_grey_comfy_picture_is_inverted_as_rgb(nodes, model):
    grey = torch.rand(1, 32, 32, 1)
    scene, reconstruction = nodes.NODE_CLASS_MAPPINGS["BlobGANInvertImage"]().invert(
        model, grey, "fast", "crop", 0)["result"]
    assert reconstruction.shape == (1, 32, 32, 3) and scene.framing[0].width == 32
