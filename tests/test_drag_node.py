import importlib.util
import json
import sys

import pytest
import torch
from conftest import ROOT, random_model
from drag_helpers import FRONT, known_layout

from blobgan_core.scene import Scene
from nodes.drag_nodes import DragPoints


@pytest.fixture(scope="module")
def scene():
    model = random_model()
    lay = known_layout(model)
    ids = tuple(reversed(range(lay.n_blobs)))             # ids survive the drag unchanged
    return Scene(model, lay, noise_seed=1, ids=ids)


def test_drag_points_end_to_end(scene):
    out = DragPoints().drag(scene, '[{"x": 16, "y": 16}]', '[{"x": 20, "y": 17}]', steps=3, every_k=1)
    edited, image, final_handles, frames = out["result"]
    assert isinstance(edited, Scene) and edited.ids == scene.ids and edited.model is scene.model
    assert edited.noise_seed == scene.noise_seed
    assert abs(float(edited.layout.xs[0, FRONT]) - 20 / 32) < 0.05
    assert image.shape == (1, 32, 32, 3) and 0 <= float(image.min()) and float(image.max()) <= 1
    points = json.loads(final_handles)
    assert len(points) == 1 and set(points[0]) == {"x", "y"}
    assert frames.shape[1:] == (32, 32, 3) and frames.shape[0] >= 3
    assert torch.equal(frames[-1], image[0])
    assert out["ui"]["images"] == out["ui"]["drag_source"] == []  # no preview files outside ComfyUI
    assert len(out["ui"]["blobgan_scene"]) == 1  # the input scene's blobs, for the points widget


def test_drag_points_on_a_batch_with_a_mask_and_without_animation(scene):
    batch = scene.with_layout(type(scene.layout).cat([scene.layout, scene.layout]), ids=scene.ids)
    mask = torch.zeros(1, 32, 32)
    mask[:, 8:24, 8:24] = 1
    edited, image, final_handles, frames = DragPoints().drag(
        batch, "[[16, 16]]", "[[18, 16]]", steps=2, mask=mask)["result"]
    assert edited.layout.batch == 2 and image.shape == (2, 32, 32, 3)
    assert frames.shape == (4, 32, 32, 3)                  # before and after, per scene
    assert len(json.loads(final_handles)) == 2


def test_drag_points_errors_name_the_node_and_the_input(scene):
    node = DragPoints()
    with pytest.raises(ValueError, match=r"Drag Points \(handles\): .*not valid JSON"):
        node.drag(scene, "[{", "[]")
    with pytest.raises(ValueError, match=r"Drag Points \(targets\): .*targets\[0\]"):
        node.drag(scene, "[[1, 2]]", '[{"x": "a", "y": 1}]')
    with pytest.raises(ValueError, match=r"Drag Points \(handles\): .*outside"):
        node.drag(scene, "[[99, 2]]", "[[1, 1]]")
    with pytest.raises(ValueError, match=r"Drag Points \(mask\): has 3 masks for 1 scenes"):
        node.drag(scene, "[[1, 2]]", "[[1, 1]]", mask=torch.zeros(3, 32, 32))
    with pytest.raises(ValueError, match=r"Drag Points \(scene\)"):
        node.drag("not a scene", "[[1, 2]]", "[[1, 1]]")


def test_every_input_and_output_has_a_tooltip():
    spec = DragPoints.INPUT_TYPES()
    for group in ("required", "optional"):
        for name, (_, options) in spec[group].items():
            assert options.get("tooltip"), name
    assert len(DragPoints.OUTPUT_TOOLTIPS) == len(DragPoints.RETURN_TYPES) == len(DragPoints.RETURN_NAMES)
    assert DragPoints.RETURN_TYPES == ("BLOB_SCENE", "IMAGE", "STRING", "IMAGE")
    assert DragPoints.CATEGORY == "BlobGAN" and DragPoints.DESCRIPTION


def test_the_pack_registers_the_node(monkeypatch):
    spec = importlib.util.spec_from_file_location("blobgan_pack_under_test", ROOT / "__init__.py",
                                                  submodule_search_locations=[str(ROOT)])
    pack = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, pack)  # relative imports inside the pack need it
    spec.loader.exec_module(pack)
    assert pack.NODE_DISPLAY_NAME_MAPPINGS["BlobGANDragPoints"] == "Drag Points"
    assert pack.NODE_CLASS_MAPPINGS["BlobGANDragPoints"].__name__ == "DragPoints"


def test_drag_points_runs_under_inference_mode_as_in_comfyui():
    # ComfyUI executes every node (the loader and the sampler too) under torch.inference_mode()
    with torch.inference_mode():
        model = random_model()
        inference_scene = Scene(model, known_layout(model), noise_seed=1)
        assert next(model.parameters()).is_inference() and inference_scene.layout.xs.is_inference()
        edited, image, final_handles, _ = DragPoints().drag(
            inference_scene, "[[16, 16]]", "[[19, 15]]", steps=3)["result"]
    model = random_model()
    plain = DragPoints().drag(Scene(model, known_layout(model), noise_seed=1), "[[16, 16]]", "[[19, 15]]",
                              steps=3)["result"]
    assert torch.equal(image, plain[1]) and final_handles == plain[2]
    assert torch.equal(edited.layout.xs, plain[0].layout.xs)
