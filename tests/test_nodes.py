"""Every node through its class, without ComfyUI: contracts, behaviour and error messages."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import torch
from pack_fixtures import ROOT, TINY_NAME, one_thread, pack, write_tiny_checkpoint

from blobgan_core.edits import apply_edits
from blobgan_core.scene import Scene, blob_masks
from blobgan_core.visualize import blob_colors

IDS = {
    "BlobGANLoader": "Load BlobGAN",
    "BlobGANSampleBlobs": "Sample Blobs",
    "BlobGANEditBlob": "Edit Blob",
    "BlobGANRenderScene": "Render Scene",
    "BlobGANBlobMasks": "Blob Masks",
}


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("models_blobgan")
    write_tiny_checkpoint(d / TINY_NAME)
    return d


@pytest.fixture
def nodes(models_dir, monkeypatch):
    monkeypatch.setenv("BLOBGAN_MODELS_DIR", str(models_dir))
    classes = pack().NODE_CLASS_MAPPINGS
    return {node_id: cls() for node_id, cls in classes.items()}


@pytest.fixture
def model(nodes):
    return nodes["BlobGANLoader"].load(TINY_NAME, "cpu", "auto")[0]


@pytest.fixture
def scene(nodes, model):
    return nodes["BlobGANSampleBlobs"].sample(model, 3, 0.4, 2)[0]


def edit(nodes, scene, edits, source=None):
    text = edits if isinstance(edits, str) else json.dumps(edits)
    return nodes["BlobGANEditBlob"].edit(scene, text, source)["result"][0]



@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield

# -- contracts ---------------------------------------------------------------------------------------

def test_mappings_ids_and_display_names():
    p = pack()
    assert {k: p.NODE_DISPLAY_NAME_MAPPINGS[k] for k in IDS} == IDS  # other issues add nodes beside these
    assert set(p.NODE_CLASS_MAPPINGS) == set(p.NODE_DISPLAY_NAME_MAPPINGS)
    assert p.WEB_DIRECTORY == "./web"
    assert os.path.isdir(os.path.join(os.path.dirname(p.__file__), p.WEB_DIRECTORY))


@pytest.mark.parametrize("node_id", sorted(pack().NODE_CLASS_MAPPINGS))
def test_node_contract(node_id):
    cls = pack().NODE_CLASS_MAPPINGS[node_id]
    assert node_id.startswith("BlobGAN")
    assert cls.CATEGORY == "BlobGAN"
    assert isinstance(cls.DESCRIPTION, str) and len(cls.DESCRIPTION) > 40
    assert callable(getattr(cls, cls.FUNCTION))
    assert isinstance(cls.RETURN_TYPES, tuple) and cls.RETURN_TYPES
    assert len(cls.RETURN_NAMES) == len(cls.RETURN_TYPES) == len(cls.OUTPUT_TOOLTIPS)
    assert all(isinstance(t, str) and t for t in cls.OUTPUT_TOOLTIPS)
    inputs = cls.INPUT_TYPES()
    assert set(inputs) <= {"required", "optional", "hidden"}
    for section in ("required", "optional"):
        for name, spec in inputs.get(section, {}).items():
            assert spec[1].get("tooltip"), f"{node_id}.{name} has no tooltip"


def test_widget_order_is_the_released_one():
    """widgets_values are positional: these orders may only ever be appended to."""
    from nodes.runner import widget_names

    c = pack().NODE_CLASS_MAPPINGS
    assert widget_names(c["BlobGANLoader"]) == ["model_name", "device", "dtype"]
    assert widget_names(c["BlobGANSampleBlobs"]) == ["seed", None, "truncation", "batch_size"]
    assert widget_names(c["BlobGANEditBlob"]) == ["edits"]
    assert widget_names(c["BlobGANRenderScene"]) == ["labels"]
    assert widget_names(c["BlobGANBlobMasks"]) == ["blob_ids", "kind", "threshold", "size"]
    assert widget_names(c["BlobGANAnimateScenes"]) == ["frames", "easing"]


def test_seed_widget_options():
    seed = pack().NODE_CLASS_MAPPINGS["BlobGANSampleBlobs"].INPUT_TYPES()["required"]["seed"][1]
    assert seed["control_after_generate"] is True
    assert (seed["min"], seed["max"]) == (0, 0xFFFFFFFFFFFFFFFF)


# -- Load BlobGAN --------------------------------------------------------------------------------------

def test_loader_lists_the_default_first_then_the_models_folder(nodes):
    choices = type(nodes["BlobGANLoader"]).INPUT_TYPES()["required"]["model_name"][0]
    assert choices == ["default (embedded)", TINY_NAME]


def test_loader_caches_by_file_device_and_dtype(nodes, models_dir):
    loader = nodes["BlobGANLoader"]
    a = loader.load(TINY_NAME, "cpu", "auto")[0]
    assert loader.load(TINY_NAME, "cpu", "float32")[0] is a          # auto = float32: the same entry
    assert a.dtype == torch.float32 and a.device.type == "cpu"
    half = loader.load(TINY_NAME, "cpu", "bfloat16")[0]
    assert half is not a and half.dtype == torch.bfloat16
    path = models_dir / TINY_NAME
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # a new file under the same name
    assert loader.load(TINY_NAME, "cpu", "auto")[0] is not a


def test_loader_unknown_file_lists_the_choices(nodes):
    with pytest.raises(ValueError, match=r"Load BlobGAN \(model_name\): no model file 'nope.safetensors'.*"
                                         + TINY_NAME):
        nodes["BlobGANLoader"].load("nope.safetensors", "cpu", "auto")


def test_loader_refuses_paths_outside_the_models_folder(nodes, models_dir):
    outside = models_dir.parent / "outside.safetensors"
    write_tiny_checkpoint(outside)
    with pytest.raises(ValueError, match="no model file"):
        nodes["BlobGANLoader"].load("../outside.safetensors", "cpu", "auto")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_loader_unavailable_device_names_the_available_ones(nodes):
    with pytest.raises(ValueError, match=r"Load BlobGAN \(device\): 'cuda' is not available.*'cpu'"):
        nodes["BlobGANLoader"].load(TINY_NAME, "cuda", "auto")


def test_loader_bad_dtype(nodes):
    with pytest.raises(ValueError, match=r"Load BlobGAN \(dtype\): must be one of"):
        nodes["BlobGANLoader"].load(TINY_NAME, "cpu", "float64")


def test_loader_missing_default_says_so(tmp_path):
    """A pack installed without blobgan_core/default_model/: a copy of the pack without it, run as a user
    runs it (the headless runner in a fresh interpreter), and the library's load_model() in it."""
    pack_copy = tmp_path / "comfyui-blobgan"
    ignore = shutil.ignore_patterns("__pycache__", "default_model")
    for name in ("blobgan_core", "nodes"):
        shutil.copytree(ROOT / name, pack_copy / name, ignore=ignore)
    for name in ("__init__.py", "__main__.py"):
        shutil.copy(ROOT / name, pack_copy / name)
    done = subprocess.run([sys.executable, str(pack_copy), str(ROOT / "example_workflows" / "blobgan_generate.json"),
                           "--out", str(tmp_path / "out")], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert "Traceback" not in done.stderr
    assert re.search(r"^error: node #\d+ \(BlobGANLoader\): Load BlobGAN \(model_name\): the embedded default "
                     r"model is missing \(.*default_model.*\); reinstall the pack, or give a checkpoint with --model",
                     lines[-1]), done.stderr
    assert not (tmp_path / "out").exists()  # nothing half-written
    api = subprocess.run([sys.executable, "-c", "import blobgan_core; blobgan_core.load_model()"], cwd=pack_copy,
                         capture_output=True, text=True, timeout=300)
    assert api.returncode == 1 and "FileNotFoundError: the embedded default model is missing" in api.stderr


def test_loader_corrupt_file_names_the_input(nodes, models_dir, monkeypatch, tmp_path):
    (tmp_path / "broken.safetensors").write_bytes(b"not a checkpoint at all")
    monkeypatch.setenv("BLOBGAN_MODELS_DIR", str(tmp_path))
    with pytest.raises(ValueError, match=r"Load BlobGAN \(model_name\): cannot load 'broken.safetensors'"):
        nodes["BlobGANLoader"].load("broken.safetensors", "cpu", "auto")


# -- Sample Blobs --------------------------------------------------------------------------------------

def test_sample_is_reproducible_and_carries_its_seed(nodes, model):
    sample = nodes["BlobGANSampleBlobs"].sample
    a, b, c = sample(model, 11, 0.4, 3)[0], sample(model, 11, 0.4, 3)[0], sample(model, 12, 0.4, 3)[0]
    assert isinstance(a, Scene) and a.model is model and a.noise_seed == 11 and a.layout.batch == 3
    assert a.ids == tuple(range(10))
    assert torch.equal(a.layout.xs, b.layout.xs) and torch.equal(a.layout.features, b.layout.features)
    assert not torch.equal(a.layout.xs, c.layout.xs)
    assert torch.equal(a.layout.xs, model.sample_layout(seed=11, batch=3, truncation=0.4).xs)


def test_sample_accepts_the_largest_seed(nodes, model):
    scene = nodes["BlobGANSampleBlobs"].sample(model, 0xFFFFFFFFFFFFFFFF, 0.0, 1)[0]
    assert torch.isfinite(scene.layout.xs).all()


@pytest.mark.parametrize("field,args,message", [
    ("seed", (-1, 0.4, 1), "must be an integer in 0.."),
    ("seed", (1.5, 0.4, 1), "must be an integer in 0..18446744073709551615, got 1.5"),
    ("truncation", (0, 1.5, 1), r"must be a finite number in 0.0..1.0"),
    ("truncation", (0, float("nan"), 1), r"must be a finite number in 0.0..1.0, got nan"),
    ("batch_size", (0, 0.4, 0), "must be an integer in 1..64"),
])
def test_sample_bad_inputs_are_named(nodes, model, field, args, message):
    with pytest.raises(ValueError, match=rf"Sample Blobs \({field}\): {message}"):
        nodes["BlobGANSampleBlobs"].sample(model, *args)


def test_sample_needs_a_model(nodes):
    with pytest.raises(ValueError, match=r"Sample Blobs \(model\): expected a BLOBGAN_MODEL"):
        nodes["BlobGANSampleBlobs"].sample("model.ckpt", 0, 0.4, 1)


# -- Edit Blob -----------------------------------------------------------------------------------------

def test_edit_matches_the_core_and_keeps_the_input(nodes, scene):
    edits = [{"op": "move", "blob": 3, "dx": 0.2, "dy": -0.1}, {"op": "resize", "blob": 1, "scale": 1.5},
             {"op": "duplicate", "blob": 5, "dx": 0.1, "dy": 0}, {"op": "remove", "blob": 10}]
    before = scene.layout.xs.clone()
    out = edit(nodes, scene, edits)
    expected, ids = apply_edits(scene.layout, edits)
    assert torch.equal(out.layout.xs, expected.xs) and torch.equal(out.layout.sizes, expected.sizes)
    assert out.ids == tuple(ids) == tuple(range(11))
    assert out.model is scene.model and out.noise_seed == scene.noise_seed
    assert torch.equal(scene.layout.xs, before)  # the input scene is untouched


@pytest.mark.parametrize("empty", ["", "  ", "[]"])
def test_empty_edit_list_changes_nothing(nodes, scene, empty):
    out = edit(nodes, scene, empty)
    assert torch.equal(out.layout.xs, scene.layout.xs) and out.ids == scene.ids


def test_ids_survive_depth_edits_through_a_chain(nodes, scene):
    """A second Edit Blob addresses blobs by the same ids as the first, whatever their depth now."""
    front = edit(nodes, scene, [{"op": "to_front", "blob": 2}])
    assert front.ids == (0, 1, 3, 4, 5, 6, 7, 8, 9, 2)
    moved = edit(nodes, front, [{"op": "move", "blob": 2, "dx": 0.25, "dy": 0}])
    k = moved.ids.index(2)  # depth index of id 2
    assert torch.allclose(moved.layout.xs[:, k], scene.layout.xs[:, 2] + 0.25)
    others = [i for i in range(10) if i != k]
    assert torch.equal(moved.layout.xs[:, others], front.layout.xs[:, others])
    back = edit(nodes, moved, [{"op": "to_back", "blob": 2}, {"op": "duplicate", "blob": 2}])
    assert back.ids == (2, 0, 1, 3, 4, 5, 6, 7, 8, 9, 10)


def test_restyle_takes_source_ids(nodes, model, scene):
    source = nodes["BlobGANSampleBlobs"].sample(model, 99, 0.4, 1)[0]
    source = edit(nodes, source, [{"op": "to_front", "blob": 4}])  # id 4 now sits at depth index 9
    out = edit(nodes, scene, [{"op": "restyle", "blob": 1, "source_blob": 4, "structure": True}], source)
    k = source.ids.index(4)
    assert torch.equal(out.layout.spatial_style[:, 2], source.layout.spatial_style[:, k + 1].expand(2, -1))
    assert torch.equal(out.layout.features[:, 2], source.layout.features[:, k + 1].expand(2, -1))
    selfish = edit(nodes, edit(nodes, scene, [{"op": "to_front", "blob": 7}]),
                   [{"op": "restyle", "blob": 0, "source_blob": 7, "scene": "self"}])
    assert torch.equal(selfish.layout.spatial_style[:, 1], scene.layout.spatial_style[:, 8])


@pytest.mark.parametrize("text,message", [
    ('[{"op": "move", "blob": 12, "dx": 0, "dy": 0}]', r"no blob with id 12; valid ids: 0\.\.9"),
    ('[{"op": "teleport", "blob": 1}]', "unknown op 'teleport'; allowed: move, resize"),
    ('[{"op": "move", "blob": 1, "dx": 0}]', "missing field 'dy'"),
    ("[{'op': 'move'}]", "edits is not valid JSON"),
    ('{"op": "move"}', "must be a JSON list"),
    ('[{"op": "restyle", "blob": 1, "source_blob": 2}]', "'source_scene' input, which is not connected"),
])
def test_edit_errors_name_the_input_and_the_valid_values(nodes, scene, text, message):
    with pytest.raises(ValueError, match=r"Edit Blob \(edits\): .*" + message):
        edit(nodes, scene, text)


def test_edit_source_scene_of_another_batch_is_named(nodes, model, scene):
    source = nodes["BlobGANSampleBlobs"].sample(model, 1, 0.4, 3)[0]  # scene has batch 2
    with pytest.raises(ValueError, match=r"Edit Blob \(source_scene\): .*batch 3"):
        edit(nodes, scene, [{"op": "restyle", "blob": 1, "source_blob": 2}], source)


def test_edit_needs_a_scene(nodes):
    with pytest.raises(ValueError, match=r"Edit Blob \(scene\): expected a BLOB_SCENE"):
        nodes["BlobGANEditBlob"].edit(torch.zeros(1), "[]")


# -- Render Scene --------------------------------------------------------------------------------------

def test_render_outputs_images_and_blob_maps(nodes, model, scene):
    out = nodes["BlobGANRenderScene"].render(scene, True)
    image, blob_map = out["result"]
    r = model.resolution
    assert image.shape == blob_map.shape == (2, r, r, 3)
    assert image.dtype == torch.float32 and 0 <= image.min() and image.max() <= 1
    assert out["ui"] == {"images": []}  # no ComfyUI temp folder here
    with torch.no_grad():
        expected = ((model.render(scene.layout, noise=scene.noise_seed) + 1) / 2).clamp(0, 1).movedim(1, -1)
    assert torch.allclose(image, expected, atol=1e-6)
    again = nodes["BlobGANRenderScene"].render(scene, True)["result"][0]
    assert torch.equal(image, again)


def test_render_in_chunks_matches_one_batch(nodes, model):
    scene = nodes["BlobGANSampleBlobs"].sample(model, 5, 0.4, 6)[0]  # 6 > RENDER_CHUNK
    image = nodes["BlobGANRenderScene"].render(scene, False)["result"][0]
    with torch.no_grad():
        whole = ((model.render(scene.layout, noise=5) + 1) / 2).clamp(0, 1).movedim(1, -1)
    assert torch.allclose(image, whole, atol=1e-5)


@pytest.mark.parametrize("labels", [False, True])
def test_blob_map_of_an_unedited_scene_is_the_official_one(nodes, model, scene, labels):
    blob_map = nodes["BlobGANRenderScene"].render(scene, labels)["result"][1]
    official = model.blob_map(scene.layout, labels=labels).movedim(1, -1)
    assert torch.equal(blob_map, official)


def test_blob_map_colours_follow_ids_through_depth_edits(nodes, model, scene):
    """Blob 2 brought to the front keeps its colour (the official map colours by depth index)."""
    edits = [{"op": "set_size", "blob": 2, "size": 12}, {"op": "move", "blob": 2, "dx": 0.5, "dy": 0.5},
             {"op": "to_front", "blob": 2}]
    edited = edit(nodes, scene, edits)
    edited = Scene(edited.model, edited.layout.replace(xs=torch.full_like(edited.layout.xs, 0.5).where(
        torch.arange(10) == 9, edited.layout.xs), ys=torch.full_like(edited.layout.ys, 0.5).where(
        torch.arange(10) == 9, edited.layout.ys)), edited.noise_seed, edited.ids)  # id 2 centred
    blob_map = nodes["BlobGANRenderScene"].render(edited, False)["result"][1]
    centre = blob_map[0, model.resolution // 2, model.resolution // 2]
    colours = blob_colors(model.config.palette, 10)
    assert torch.allclose(centre, colours[2 + 1], atol=1e-3)
    assert not torch.allclose(centre, colours[9 + 1], atol=1e-3)


def test_blob_map_labels_are_ids_after_a_reorder(nodes, model, scene):
    """Only blob 5 visible, then sent to the back: its depth index becomes 0, but the labelled blob map
    still shows it as 5 (in its colour), as the edit list and Blob Masks call it."""
    alone = edit(nodes, scene, [{"op": "remove", "blob": k} for k in range(10) if k != 5]
                 + [{"op": "set_size", "blob": 5, "size": 8}])
    reordered = edit(nodes, alone, [{"op": "to_back", "blob": 5}])
    assert reordered.ids[0] == 5 and alone.ids[5] == 5
    before = nodes["BlobGANRenderScene"].render(alone, True)["result"][1]
    after = nodes["BlobGANRenderScene"].render(reordered, True)["result"][1]
    assert torch.equal(before, after)
    unlabelled = nodes["BlobGANRenderScene"].render(reordered, False)["result"][1]
    assert not torch.equal(after, unlabelled)  # the label is drawn
    with_ids = model.blob_map(reordered.layout, labels=True, ids=[5, *range(5), *range(6, 10)]).movedim(1, -1)
    assert torch.equal(after, with_ids)
    assert not torch.equal(after, model.blob_map(reordered.layout, labels=True).movedim(1, -1))  # "0" in colour 0


def test_render_needs_a_scene(nodes):
    with pytest.raises(ValueError, match=r"Render Scene \(scene\): expected a BLOB_SCENE"):
        nodes["BlobGANRenderScene"].render(None, True)


# -- Blob Masks ----------------------------------------------------------------------------------------

def test_masks_all_is_every_visible_blob(nodes, model, scene):
    mask = nodes["BlobGANBlobMasks"].masks(scene, "all", "visible", 0.5, 0)[0]
    assert mask.shape == (2, model.resolution, model.resolution) and mask.dtype == torch.float32
    assert torch.equal(mask, blob_masks(scene.layout, None, model.resolution, "visible"))


def test_masks_use_ids_not_depth_indices(nodes, scene):
    front = edit(nodes, scene, [{"op": "to_front", "blob": 1}, {"op": "remove", "blob": 6}])
    mask = nodes["BlobGANBlobMasks"].masks(front, "1, 3-4", "opacity", 0.5, 48)[0]
    depth = [front.ids.index(i) for i in (1, 3, 4)]
    assert torch.equal(mask, blob_masks(front.layout, depth, 48, "opacity"))
    hard = nodes["BlobGANBlobMasks"].masks(front, "1", "threshold", 0.3, 48)[0]
    assert set(hard.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(hard, blob_masks(front.layout, [depth[0]], 48, "threshold", 0.3))


@pytest.mark.parametrize("ids,message", [
    ("", "empty"),
    ("1, 10", "no blob with id 10; valid ids: 0..9"),
    ("two", "'two' is not a blob id"),
    ("5-3", "runs backwards"),
])
def test_masks_bad_ids_are_named(nodes, scene, ids, message):
    with pytest.raises(ValueError, match=r"Blob Masks \(blob_ids\): .*" + message):
        nodes["BlobGANBlobMasks"].masks(scene, ids, "visible", 0.5, 0)


def test_masks_bad_kind_and_size(nodes, scene):
    with pytest.raises(ValueError, match=r"Blob Masks \(kind\): must be one of"):
        nodes["BlobGANBlobMasks"].masks(scene, "all", "soft", 0.5, 0)
    with pytest.raises(ValueError, match=r"Blob Masks \(size\)"):
        nodes["BlobGANBlobMasks"].masks(scene, "all", "visible", 0.5, -8)


# -- the ComfyUI boundary without ComfyUI -------------------------------------------------------------

def test_comfy_fallbacks_outside_comfyui(models_dir, monkeypatch):
    import importlib

    comfy = importlib.import_module(pack().__name__ + ".nodes.comfy")
    monkeypatch.setenv("BLOBGAN_MODELS_DIR", os.pathsep.join([str(models_dir), "/no/such/dir"]))
    assert comfy.model_names() == [TINY_NAME]
    assert comfy.model_path(TINY_NAME) == models_dir / TINY_NAME
    assert comfy.model_path("missing.ckpt") is None
    assert comfy.save_previews(torch.rand(1, 8, 8, 3)) == []
    progress = comfy.Progress(3)
    progress.step()  # silent, and no interruption outside ComfyUI
    comfy.check_interrupted()
    comfy.register_model_folder()  # no folder_paths: nothing to do
    assert comfy.torch_device().type in ("cpu", "cuda", "mps")


# -- declared bounds hold wherever the node runs (not only behind ComfyUI's own checks) -----------------

@pytest.mark.parametrize("node_id, call, fragment", [
    ("BlobGANBlobMasks", lambda n, s: n.masks(s, "all", "threshold", 2.0, 0), r"Blob Masks \(threshold\): must be a "
                                                                               r"finite number in 0.0..1.0, got 2.0"),
    ("BlobGANBlobMasks", lambda n, s: n.masks(s, "all", "threshold", float("nan"), 0), r"\(threshold\).*got nan"),
    ("BlobGANBlobMasks", lambda n, s: n.masks(s, "all", "outline", 0.5, 0), r"\(kind\): must be one of"),
    ("BlobGANBlobMasks", lambda n, s: n.masks(s, "all", "visible", 0.5, -8), r"\(size\): must be an integer in 0.."),
    ("BlobGANDragPoints", lambda n, s: n.drag(s, "[[1, 1]]", "[[2, 2]]", r1=1000.0),
     r"Drag Points \(r1\): must be a finite number in 0.0..64.0, got 1000.0"),
    ("BlobGANDragPoints", lambda n, s: n.drag(s, "[[1, 1]]", "[[2, 2]]", steps=True), r"\(steps\): must be an integer"),
    ("BlobGANRenderScene", lambda n, s: n.render(s, "yes"), r"Render Scene \(labels\): must be true or false"),
    ("BlobGANEditBlob", lambda n, s: n.edit(s, 5), r"Edit Blob \(edits\): must be text"),
])
def test_declared_bounds_are_enforced_by_the_node(nodes, scene, node_id, call, fragment):
    with pytest.raises(ValueError, match=fragment):
        call(nodes[node_id], scene)


def test_an_integral_float_is_an_integer_and_the_node_runs(nodes, model):
    scene = nodes["BlobGANSampleBlobs"].sample(model, 3.0, 0.4, 1.0)[0]  # JSON numbers from an API prompt
    assert scene.noise_seed == 3 and isinstance(scene.noise_seed, int) and scene.layout.batch == 1
